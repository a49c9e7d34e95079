"""Normalised I-V loop area against drive frequency, one curve per loop dataset.

Input: loop datasets from ``nanopore hysteresis`` (several amplitudes, models or
pores). With ``--rates`` the switching rate k_wet + k_dry of a rates dataset at the
drive amplitude is marked as a frequency: the area peaks near it.

    python examples/loop_area.py loops_045.nc loops_050.nc -o area.pdf
    python examples/loop_area.py loops.nc --rates rates.nc -o area.png
"""

from __future__ import annotations

import numpy as np
from _paper import figure, model_label, open_dataset, parser, save

MARKERS = "osD^v<>p"


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("loops", nargs="+", help="loop datasets (.nc) from nanopore hysteresis")
    p.add_argument("--label", action="append", help="legend label per dataset, in order")
    p.add_argument("--rates", help="rates dataset (.nc) to mark k_wet + k_dry at the amplitude")
    args = p.parse_args(argv)
    if args.label and len(args.label) != len(args.loops):
        raise SystemExit("give one --label per loop dataset")

    fig, ax = figure()
    amplitudes = []
    for k, path in enumerate(args.loops):
        ds = open_dataset(path, ["loop_area"])
        amplitude = float(ds.attrs.get("amplitude", np.nan))
        amplitudes.append(amplitude)
        label = args.label[k] if args.label else f"{model_label(ds, path)}, V0 = {amplitude:.3g} V"
        ax.semilogx(ds["frequency"], ds["loop_area"], marker=MARKERS[k % len(MARKERS)], label=label)
    if args.rates:
        rates = open_dataset(args.rates, ["k_wet", "k_dry"])
        total = (rates["k_wet"] + rates["k_dry"]).interp(voltage=amplitudes[0])
        if np.isfinite(total):
            ax.axvline(float(total), color="0.5", ls=":", lw=0.8)
            ax.annotate("$k_{wet}+k_{dry}$ at $V_0$", (float(total), 0.02),
                        xycoords=("data", "axes fraction"), rotation=90, fontsize=6,
                        ha="right", va="bottom", color="0.4")
    ax.set_xlabel("drive frequency (Hz)")
    ax.set_ylabel("normalised loop area")
    ax.set_ylim(bottom=0)
    ax.legend()
    save(fig, args.output)


if __name__ == "__main__":
    main()
