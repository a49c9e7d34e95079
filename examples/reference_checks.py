"""Checks of a multi-voltage profile of a mirror-symmetric pore: +V against -V, held-out V.

Run ``python examples/reference_checks.py data/reference_profile.nc [-o figure.png]``.

* Mirror symmetry: a pore that looks the same from both sides must give the same
  profile at -V and +V. For every pair of voltages +-V in the file it prints the
  difference of the two profiles (each shifted to zero mean over the common grid,
  since a profile's constant is arbitrary) in units of its combined bootstrap
  error: the root-mean-square z and the largest |z|, and the fraction of grid
  points with |z| < 2 (about 0.95 if the two agree within their errors).
* Held-out voltage: the voltage model fitted without one voltage predicts it;
  the root-mean-square error (kT, profile shapes) is printed for each voltage
  that can be left out with two or more others remaining.

With ``-o`` it draws the profiles at every voltage with their error bands.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import xarray as xr


def mirror_agreement(profile: xr.Dataset) -> list[dict[str, float]]:
    """z-scores of the difference between the profiles at -V and +V.

    Parameters
    ----------
    profile : xarray.Dataset
        Profile dataset with a ``voltage`` dimension and ``free_energy_error``.

    Returns
    -------
    list of dict
        One entry per pair: ``voltage``, ``rms_z``, ``max_abs_z``, ``fraction_within_2``,
        ``rms_difference_kT``.
    """
    volts = profile["voltage"].values
    rows = []
    for voltage in volts[volts > 0]:
        partner = np.flatnonzero(np.isclose(volts, -voltage))
        if partner.size == 0:
            continue
        plus = profile.sel(voltage=voltage)
        minus = profile.isel(voltage=int(partner[0]))
        a, b = plus["free_energy"].values, minus["free_energy"].values
        error = np.hypot(plus["free_energy_error"].values, minus["free_energy_error"].values)
        good = np.isfinite(a) & np.isfinite(b) & (error > 0)
        difference = (a - a[good].mean()) - (b - b[good].mean())
        z = difference[good] / error[good]
        rows.append({"voltage": float(voltage), "rms_z": float(np.sqrt(np.mean(z**2))),
                     "max_abs_z": float(np.max(np.abs(z))),
                     "fraction_within_2": float(np.mean(np.abs(z) < 2.0)),
                     "rms_difference_kT": float(np.sqrt(np.mean(difference[good] ** 2)))})
    return rows


def held_out_errors(profile: xr.Dataset) -> dict[float, float]:
    """Root-mean-square error (kT) of the voltage model at each held-out voltage.

    Parameters
    ----------
    profile : xarray.Dataset

    Returns
    -------
    dict
        Held-out voltage (V) -> rms error (kT) of the predicted profile shape.
    """
    from nanopore.voltage_model import VoltageModel

    errors = {}
    volts = profile["voltage"].values
    for voltage in volts:
        rest = volts[~np.isclose(volts, voltage)]
        if rest.size < 2 or not (rest.min() <= voltage <= rest.max()):
            continue  # only interpolation is a fair test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = VoltageModel.fit(profile, exclude=float(voltage))
        errors[float(voltage)] = model.holdout_error(profile, float(voltage))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None, help="figure of the profiles")
    args = parser.parse_args()
    with xr.open_dataset(args.profile, engine="h5netcdf") as handle:
        profile = handle.load()
    for row in mirror_agreement(profile):
        print(f"+-{row['voltage']:g} V: rms z = {row['rms_z']:.2f}, max |z| = {row['max_abs_z']:.2f}, "
              f"{100 * row['fraction_within_2']:.0f} % of points within 2 sigma, "
              f"rms difference {row['rms_difference_kT']:.2f} kT")
    for voltage, error in held_out_errors(profile).items():
        print(f"held out {voltage:g} V: predicted within {error:.2f} kT rms")
    if args.output is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(4.5, 3.2))
        for voltage in profile["voltage"].values:
            row = profile.sel(voltage=voltage)
            omega, error = row["free_energy"].values, row["free_energy_error"].values
            line, = axis.plot(profile["n"], omega, label=f"{voltage:+g} V")
            axis.fill_between(profile["n"], omega - error, omega + error, alpha=0.25,
                              color=line.get_color(), linewidth=0)
        axis.set_xlabel("N (water molecules in the pore)")
        axis.set_ylabel("Omega(N) (kT)")
        axis.legend()
        figure.savefig(args.output, dpi=200, bbox_inches="tight")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
