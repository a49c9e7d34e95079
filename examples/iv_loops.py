"""I-V loops of a driven pore at several frequencies, one panel per loop dataset.

Input: loop datasets from ``nanopore hysteresis ... -o loops.nc`` (one or more, e.g.
the master-equation and Fokker-Planck models of the same pore). Each loop is
coloured by its drive frequency on a log scale.

    python examples/iv_loops.py loops.nc -o iv_loops.pdf -o iv_loops.png
    python examples/iv_loops.py master.nc fp.nc --frequencies 1e4,1e5 -o iv.pdf
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _paper import DOUBLE, SINGLE, figure, model_label, open_dataset, parser, save
from matplotlib import cm, colors


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("loops", nargs="+", help="loop datasets (.nc) from nanopore hysteresis")
    p.add_argument("--frequencies", help="comma-separated subset of frequencies (Hz) to draw")
    args = p.parse_args(argv)

    datasets = [open_dataset(path, ["voltage", "current", "loop_area"]) for path in args.loops]
    all_f = np.concatenate([ds["frequency"].values for ds in datasets])
    norm = colors.LogNorm(all_f.min(), all_f.max() if all_f.max() > all_f.min() else all_f.min() * 10)
    cmap = cm.viridis
    width = SINGLE if len(datasets) == 1 else min(DOUBLE, 2.6 * len(datasets))
    fig, axes = figure(width, 2.6, ncols=len(datasets), sharey=True, squeeze=False)
    for ax, ds, path in zip(axes[0], datasets, args.loops):
        freqs = ds["frequency"].values
        if args.frequencies:
            wanted = [float(f) for f in args.frequencies.split(",")]
            freqs = np.array([f for f in freqs if np.any(np.isclose(f, wanted, rtol=1e-6))])
            if freqs.size == 0:
                raise SystemExit(f"{path}: none of the frequencies {args.frequencies} Hz")
        for f in freqs:
            loop = ds.sel(frequency=f)
            ax.plot(loop["voltage"], loop["current"] * 1e9, color=cmap(norm(f)))
        ax.axhline(0, color="0.75", lw=0.4, zorder=0)
        ax.axvline(0, color="0.75", lw=0.4, zorder=0)
        ax.set_xlabel("voltage (V)")
        ax.set_title(f"{model_label(ds, '')} {Path(path).stem}".strip())
    axes[0, 0].set_ylabel("current (nA)")
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[0].tolist(), pad=0.02)
    bar.set_label("drive frequency (Hz)")
    save(fig, args.output)


if __name__ == "__main__":
    main()
