"""The profile dataset: the contract between the free-energy stage and the kinetics.

A profile is an :class:`xarray.Dataset` stored as netCDF4 (HDF5) with

* coordinate ``n``: the collective variable, the number of water molecules in the
  pore, strictly increasing;
* optional coordinate ``voltage`` (V); profile variables then have dimensions
  (``voltage``, ``n``);
* ``free_energy`` (dims (``n``) or (``voltage``, ``n``)) in units of kT at the
  temperature stored in the attribute ``temperature`` (K);
* ``diffusion`` (molecules^2/ps), dims (``n``) or (``voltage``, ``n``);
* optional ``free_energy_error`` (kT), same dims as ``free_energy``;
* optional ``free_energy_replicates`` (kT), dims (``replicate``, then the dims of
  ``free_energy``): bootstrap replicate profiles in the same gauge, from which
  the kinetics derive confidence intervals;
* provenance attributes (``producer``, ``inputs``, ``parameters``, ``created``).

:func:`load_profile` validates a file and refuses a bad one with a
:class:`ProfileError` whose message names the problem and how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from nanopore.provenance import provenance_attrs

PROFILE_VARIABLES = ("free_energy", "diffusion")
OPTIONAL_VARIABLES = ("free_energy_error",)
_UNITS = {
    "n": "molecules",
    "voltage": "V",
    "free_energy": "kT",
    "free_energy_error": "kT",
    "free_energy_replicates": "kT",
    "diffusion": "molecules^2/ps",
}
_LONG_NAMES = {
    "n": "number of water molecules in the pore",
    "voltage": "applied voltage",
    "free_energy": "free energy of pore filling",
    "free_energy_error": "standard error of the free energy",
    "free_energy_replicates": "bootstrap replicates of the free energy, same gauge",
    "diffusion": "diffusion coefficient of the collective variable",
}


class ProfileError(ValueError):
    """A profile dataset that breaks the profile contract."""


def make_profile(
    n: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray | float,
    temperature: float,
    voltage: np.ndarray | None = None,
    free_energy_error: np.ndarray | None = None,
    producer: str = "user",
    inputs: list[str] | str | None = None,
    parameters: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build and validate a profile dataset.

    Parameters
    ----------
    n : ndarray, shape (n_grid,)
        Grid of the collective variable (molecules), strictly increasing.
    free_energy : ndarray, shape (n_grid,) or (n_voltage, n_grid)
        Free energy (kT).
    diffusion : float or ndarray, shape (n_grid,) or (n_voltage, n_grid)
        Diffusion coefficient of N (molecules^2/ps). A scalar is broadcast.
    temperature : float
        Temperature (K).
    voltage : ndarray, shape (n_voltage,), optional
        Voltages (V) of the rows of a two-dimensional ``free_energy``.
    free_energy_error : ndarray, optional
        Standard error of ``free_energy`` (kT), same shape.
    producer, inputs, parameters
        Provenance, see :func:`nanopore.provenance.provenance_attrs`.
    attrs : mapping, optional
        Further attributes (e.g. ``pore_radius_nm``).

    Returns
    -------
    xarray.Dataset
        The validated profile.
    """
    n = np.asarray(n, dtype=float)
    free_energy = np.asarray(free_energy, dtype=float)
    dims: tuple[str, ...] = ("n",) if voltage is None else ("voltage", "n")
    coords: dict[str, Any] = {"n": n}
    if voltage is not None:
        coords["voltage"] = np.atleast_1d(np.asarray(voltage, dtype=float))
    diffusion_arr = np.asarray(diffusion, dtype=float)
    if diffusion_arr.ndim == 0:
        diffusion_arr = np.full(n.shape, float(diffusion_arr))
    diffusion_dims = ("n",) if diffusion_arr.ndim == 1 else ("voltage", "n")
    try:
        data_vars: dict[str, Any] = {
            "free_energy": (dims, free_energy),
            "diffusion": (diffusion_dims, diffusion_arr),
        }
        if free_energy_error is not None:
            data_vars["free_energy_error"] = (dims, np.asarray(free_energy_error, dtype=float))
        ds = xr.Dataset(data_vars, coords=coords)
    except ValueError as exc:
        raise ProfileError(f"profile arrays do not match the grid: {exc}") from None
    ds.attrs.update(provenance_attrs(producer, inputs, parameters))
    ds.attrs["temperature"] = float(temperature)
    ds.attrs["conventions"] = "nanopore profile dataset v1"
    if attrs:
        ds.attrs.update(dict(attrs))
    _annotate(ds)
    validate_profile(ds)
    return ds


def _annotate(ds: xr.Dataset) -> None:
    for name in list(ds.variables):
        if name in _UNITS:
            ds[name].attrs.setdefault("units", _UNITS[name])
            ds[name].attrs.setdefault("long_name", _LONG_NAMES[name])
    ds.attrs.setdefault("temperature_units", "K")


def validate_profile(ds: xr.Dataset, source: str = "profile") -> xr.Dataset:
    """Check a dataset against the profile contract.

    Parameters
    ----------
    ds : xarray.Dataset
        Candidate profile.
    source : str, optional
        Name used in error messages (e.g. the file name).

    Returns
    -------
    xarray.Dataset
        ``ds`` itself, for chaining.

    Raises
    ------
    ProfileError
        With a message that names the problem and the fix: missing variable or
        coordinate, non-monotone grid, NaN or infinite values, D <= 0, missing or
        non-positive temperature, wrong units, wrong dimensions.
    """
    for name in PROFILE_VARIABLES:
        if name not in ds.data_vars:
            raise ProfileError(
                f"{source}: missing variable '{name}'; a profile needs 'free_energy' (kT) "
                "and 'diffusion' (molecules^2/ps) on the coordinate 'n'"
            )
    if "n" not in ds.coords:
        raise ProfileError(f"{source}: missing coordinate 'n' (water molecules in the pore)")
    n = np.asarray(ds["n"].values, dtype=float)
    if n.ndim != 1 or n.size < 3:
        raise ProfileError(f"{source}: coordinate 'n' must be one-dimensional with at least 3 points")
    if not np.all(np.isfinite(n)):
        raise ProfileError(f"{source}: coordinate 'n' has NaN or infinite values")
    if not np.all(np.diff(n) > 0):
        bad = int(np.argmax(np.diff(n) <= 0))
        raise ProfileError(
            f"{source}: coordinate 'n' is not strictly increasing (at index {bad}: "
            f"{n[bad]:g} then {n[bad + 1]:g}); sort the profile by n and drop duplicates"
        )
    has_voltage = "voltage" in ds.dims
    if has_voltage:
        v = np.asarray(ds["voltage"].values, dtype=float)
        if not np.all(np.isfinite(v)):
            raise ProfileError(f"{source}: coordinate 'voltage' has NaN or infinite values")
        if v.size > 1 and not np.all(np.diff(v) > 0):
            raise ProfileError(
                f"{source}: coordinate 'voltage' is not strictly increasing; sort by voltage "
                "and merge duplicate voltages"
            )
    allowed = {("n",), ("voltage", "n")}
    for name in PROFILE_VARIABLES + OPTIONAL_VARIABLES:
        if name not in ds.data_vars:
            continue
        var = ds[name]
        if tuple(var.dims) not in allowed:
            raise ProfileError(
                f"{source}: variable '{name}' has dimensions {tuple(var.dims)}; "
                "expected ('n',) or ('voltage', 'n')"
            )
        values = np.asarray(var.values, dtype=float)
        if not np.all(np.isfinite(values)):
            count = int(np.sum(~np.isfinite(values)))
            where = np.argwhere(~np.isfinite(values))[0]
            raise ProfileError(
                f"{source}: variable '{name}' has {count} NaN or infinite value(s) (first at "
                f"index {tuple(int(i) for i in where)}); fill or trim the grid where the "
                "estimate is undefined (e.g. unsampled n)"
            )
    if ds["free_energy"].attrs.get("units", "kT") != "kT":
        raise ProfileError(
            f"{source}: 'free_energy' has units '{ds['free_energy'].attrs['units']}'; "
            "profiles store free energies in kT (divide by kT at the profile temperature)"
        )
    if ds["diffusion"].attrs.get("units", "molecules^2/ps") != "molecules^2/ps":
        raise ProfileError(
            f"{source}: 'diffusion' has units '{ds['diffusion'].attrs['units']}'; "
            "expected molecules^2/ps"
        )
    diffusion = np.asarray(ds["diffusion"].values, dtype=float)
    if np.any(diffusion <= 0):
        where = np.argwhere(diffusion <= 0)[0]
        raise ProfileError(
            f"{source}: 'diffusion' must be positive everywhere but is "
            f"{diffusion[tuple(where)]:g} at index {tuple(int(i) for i in where)}; "
            "D <= 0 has no physical meaning (check the estimator or clip to a floor)"
        )
    if "free_energy_replicates" in ds.data_vars:
        expected = ("replicate", *ds["free_energy"].dims)
        replicates = ds["free_energy_replicates"]
        if tuple(replicates.dims) != expected:
            raise ProfileError(
                f"{source}: variable 'free_energy_replicates' has dimensions "
                f"{tuple(replicates.dims)}; expected {expected} (one free_energy per replicate)"
            )
        if not np.all(np.isfinite(replicates.values)):
            raise ProfileError(
                f"{source}: 'free_energy_replicates' has NaN or infinite values; fill or drop "
                "the replicates that leave grid points empty"
            )
    if "free_energy_error" in ds.data_vars and np.any(ds["free_energy_error"].values < 0):
        raise ProfileError(f"{source}: 'free_energy_error' has negative values")
    temperature = ds.attrs.get("temperature")
    if temperature is None:
        raise ProfileError(
            f"{source}: no 'temperature' attribute; the free energy is in kT, so the "
            "profile must say at which temperature (K)"
        )
    try:
        temperature = float(np.asarray(temperature).ravel()[0])
    except (TypeError, ValueError, IndexError):
        raise ProfileError(f"{source}: attribute 'temperature' is not a number") from None
    if not np.isfinite(temperature) or temperature <= 0:
        raise ProfileError(f"{source}: attribute 'temperature' must be a positive number of K")
    return ds


def load_profile(path: str | os.PathLike) -> xr.Dataset:
    """Load and validate a profile dataset from a netCDF4 file.

    Parameters
    ----------
    path : str or path-like
        Profile file (``.nc``).

    Returns
    -------
    xarray.Dataset
        The profile, loaded into memory (the file is closed).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ProfileError
        If it is not a readable netCDF file or breaks the profile contract.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"profile file not found: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            ds = opened.load()
    except (OSError, ValueError) as exc:
        raise ProfileError(
            f"{path}: not a readable netCDF4/HDF5 profile ({type(exc).__name__}: {exc})"
        ) from None
    return validate_profile(ds, source=str(path))


def save_profile(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Validate a profile and write it atomically as netCDF4.

    The file is written to a temporary name in the same folder and renamed into
    place, so an interrupted write never leaves a corrupt profile behind.

    Parameters
    ----------
    ds : xarray.Dataset
        Profile to write.
    path : str or path-like
        Destination (``.nc``).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    validate_profile(ds, source=str(path))
    return write_dataset(ds, path)


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write any dataset atomically as netCDF4 (HDF5) through h5netcdf.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset to write.
    path : str or path-like
        Destination file.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from nanopore.safe_io import write_netcdf

    # built in memory, then a temporary file and a rename: a full disk raises OSError
    # (one line at the command line) instead of failing inside HDF5
    return write_netcdf(ds, path)


def has_voltage(ds: xr.Dataset) -> bool:
    """Whether the profile has a ``voltage`` dimension."""
    return "voltage" in ds["free_energy"].dims


def select_voltage(ds: xr.Dataset, voltage: float | None = None) -> xr.Dataset:
    """One-dimensional profile at one voltage.

    Parameters
    ----------
    ds : xarray.Dataset
        Profile, with or without a ``voltage`` dimension.
    voltage : float, optional
        Voltage (V) to pick; it must be one of the profile's voltages. Ignored
        (may be None) when the profile has no ``voltage`` dimension.

    Returns
    -------
    xarray.Dataset
        Profile with variables on (``n``) only; the attribute ``voltage`` holds
        the voltage picked, if any.
    """
    if "voltage" not in ds.dims:
        return ds
    if voltage is None:
        if ds.sizes["voltage"] == 1:
            voltage = float(ds["voltage"].values[0])
        else:
            raise ProfileError(
                "profile has several voltages "
                f"{list(np.round(ds['voltage'].values, 6))}; choose one"
            )
    volts = ds["voltage"].values
    index = int(np.argmin(np.abs(volts - voltage)))
    if not np.isclose(volts[index], voltage, rtol=0, atol=1e-9):
        raise ProfileError(
            f"voltage {voltage:g} V is not in the profile (has {list(volts)}); "
            "use the voltage model to evaluate other voltages"
        )
    out = ds.isel(voltage=index, drop=True)
    out.attrs["voltage"] = float(volts[index])
    return out


def profile_arrays(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid, free energy and diffusion of a one-dimensional profile as NumPy arrays.

    Parameters
    ----------
    ds : xarray.Dataset
        Profile without a ``voltage`` dimension (see :func:`select_voltage`).

    Returns
    -------
    n : ndarray
        Grid (molecules).
    free_energy : ndarray
        Free energy (kT).
    diffusion : ndarray
        Diffusion coefficient (molecules^2/ps).
    """
    if "voltage" in ds["free_energy"].dims:
        raise ProfileError("profile has a voltage dimension; select one voltage first")
    n = np.asarray(ds["n"].values, dtype=float)
    free_energy = np.asarray(ds["free_energy"].values, dtype=float)
    diffusion = np.asarray(ds["diffusion"].values, dtype=float)
    if diffusion.ndim == 2:
        raise ProfileError("diffusion has a voltage dimension; select one voltage first")
    return n, free_energy, diffusion
