"""Pressure-volume intrusion/extrusion cycles and switching pressures against ramp rate.

Input: a cycle dataset from ``nanopore cycle ... -o cycles.nc`` (one or more
temperatures and ramp rates). Left: intruded volume against pressure, one loop per
temperature and ramp rate. Right: intrusion (filled) and extrusion (open) pressures
against the logarithm of the ramp rate, per temperature.

    python examples/pv_cycles.py cycles.nc -o cycles.pdf -o cycles.png
"""

from __future__ import annotations

from _paper import DOUBLE, figure, open_dataset, parser, save
from matplotlib import cm


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("cycles", help="cycle dataset (.nc) from nanopore cycle")
    args = p.parse_args(argv)

    ds = open_dataset(args.cycles, ["pressure", "intruded_volume", "intrusion_pressure"])
    temperatures = ds["temperature"].values
    rates = ds["ramp_rate"].values
    fig, (ax_pv, ax_p) = figure(DOUBLE, 2.6, ncols=2)
    colour = {t: cm.plasma(0.15 + 0.7 * i / max(1, temperatures.size - 1))
              for i, t in enumerate(temperatures)}
    styles = ["-", "--", ":", "-."]
    for t in temperatures:
        for j, rate in enumerate(rates):
            cycle = ds.sel(temperature=t, ramp_rate=rate)
            ax_pv.plot(cycle["pressure"], cycle["intruded_volume"], color=colour[t],
                       ls=styles[j % len(styles)], label=f"{t:.0f} K, {rate:.0e} MPa/s")
        row = ds.sel(temperature=t)
        ax_p.semilogx(rates, row["intrusion_pressure"], "o-", color=colour[t],
                      label=f"intrusion, {t:.0f} K")
        ax_p.semilogx(rates, row["extrusion_pressure"], "o--", color=colour[t], mfc="white",
                      label=f"extrusion, {t:.0f} K")
    ax_pv.set_xlabel("pressure (MPa)")
    ax_pv.set_ylabel("intruded volume (nm$^3$)")
    ax_pv.legend(fontsize=6)
    ax_p.set_xlabel("ramp rate (MPa/s)")
    ax_p.set_ylabel("switching pressure (MPa)")
    ax_p.legend(fontsize=6)
    save(fig, args.output)


if __name__ == "__main__":
    main()
