"""Free-energy profiles of pore filling at every voltage, with error bands, and D(N).

Input: a profile dataset (``nanopore fes``, ``nanopore profile model`` or any file
that passes ``nanopore profile check``). Bands are +-1 standard error
(``free_energy_error``) where the dataset has one. With ``--predict`` the fitted
voltage model Omega(N; 0) + a V + b V^2 is drawn dashed at other voltages.

    python examples/profiles_vs_voltage.py profile.nc -o profiles.pdf
    python examples/profiles_vs_voltage.py profile.nc --predict 0.35 -o profiles.png
"""

from __future__ import annotations

import numpy as np
from _paper import DOUBLE, figure, parser, save
from matplotlib import cm, colors

import nanopore


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("profile", help="profile dataset (.nc)")
    p.add_argument("--predict", help="comma-separated voltages (V) to draw from the voltage model")
    p.add_argument("--no-diffusion", action="store_true", help="leave out the D(N) panel")
    args = p.parse_args(argv)

    try:
        ds = nanopore.load_profile(args.profile)
    except (nanopore.ProfileError, OSError) as err:
        raise SystemExit(f"{args.profile}: {err}") from err
    if "voltage" not in ds.dims:
        ds = ds.expand_dims(voltage=[0.0])
    voltages = ds["voltage"].values
    predict = [float(v) for v in args.predict.split(",")] if args.predict else []
    every = np.concatenate([voltages, predict])
    norm = colors.Normalize(every.min(), every.max() if every.max() > every.min() else every.min() + 1)
    cmap = cm.viridis

    ncols = 1 if args.no_diffusion else 2
    fig, axes = figure(DOUBLE if ncols == 2 else 3.4, 2.6, ncols=ncols, squeeze=False)
    ax = axes[0, 0]
    n = ds["n"].values
    for v in voltages:
        row = ds.sel(voltage=v)
        omega = row["free_energy"].values
        colour = cmap(norm(v))
        ax.plot(n, omega, color=colour, label=f"{v:g} V")
        if "free_energy_error" in row:
            err = row["free_energy_error"].values
            ax.fill_between(n, omega - err, omega + err, color=colour, alpha=0.25, lw=0)
    if predict:
        from nanopore.voltage_model import VoltageModel

        model = VoltageModel.fit(ds)
        for v in predict:
            ax.plot(model.n, model.free_energy(v), color=cmap(norm(v)), ls="--",
                    label=f"{v:g} V (model)")
    ax.set_xlabel("water molecules in the pore, $N$")
    ax.set_ylabel(r"$\Omega(N)$ ($k_BT$)")
    ax.legend(title=f"T = {float(ds.attrs.get('temperature', np.nan)):.0f} K")
    if ncols == 2:
        axd = axes[0, 1]
        diffusion = ds["diffusion"]
        rows = diffusion.transpose("voltage", "n").values if "voltage" in diffusion.dims else [diffusion.values]
        labels = voltages if "voltage" in diffusion.dims else [None]
        for v, d in zip(labels, rows):
            axd.plot(n, d, color="k" if v is None else cmap(norm(v)))
        axd.set_yscale("log")
        axd.set_xlabel("water molecules in the pore, $N$")
        axd.set_ylabel("$D(N)$ (molecules$^2$/ps)")
    save(fig, args.output)


if __name__ == "__main__":
    main()
