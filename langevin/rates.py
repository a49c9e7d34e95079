"""Wetting and drying rates of a pore from its filling profile(s).

k_wet = 1 / MFPT(dry minimum -> wet minimum), reflecting at the lower grid end;
k_dry = 1 / MFPT(wet minimum -> dry minimum), reflecting at the upper grid end.
Methods: ``exact`` (the double integral), ``kramers`` (overdamped Kramers),
``fokker-planck`` (MFPT of the discretised Fokker-Planck operator) and ``langevin``
(mean of simulated first-passage times, with its standard error). Outputs are SI.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from langevin.basins import BasinError, Basins, find_basins
from langevin.fokker_planck import mfpt_fokker_planck
from langevin.kramers import kramers_rate
from langevin.langevin import first_passage_times
from langevin.mfpt import log_mfpt
from nanopore.provenance import annotate, provenance_attrs
from nanopore.units import PICOSECOND

METHODS = ("exact", "kramers", "fokker-planck", "langevin")


def basins_for_rows(
    grid: np.ndarray,
    free_energy: np.ndarray,
    keys: np.ndarray | None = None,
    dry: float | None = None,
    wet: float | None = None,
    barrier: float | None = None,
    prominence: float = 0.5,
    error: np.ndarray | None = None,
    replicates: np.ndarray | None = None,
) -> list[Basins]:
    """Basins of each profile row; rows without two basins borrow the nearest row's.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy : ndarray, shape (n_rows, n_grid)
        Profiles (kT).
    keys : ndarray, shape (n_rows,), optional
        Value (e.g. voltage) that defines "nearest" between rows; default the row index.
    dry, wet, barrier : float, optional
        Overrides (molecules) for every row.
    prominence : float, optional
        Smallest basin depth (kT).
    error : ndarray, shape (n_rows, n_grid), optional
        Standard errors of the profiles (kT): a basin must stand out beyond them
        (see :func:`langevin.basins.find_basins`).
    replicates : ndarray, shape (n_replicates, n_rows, n_grid), optional
        Bootstrap replicate profiles (kT), used instead of ``error``.

    Returns
    -------
    list of Basins
    """
    rows = np.atleast_2d(free_energy)
    keys = np.arange(rows.shape[0], dtype=float) if keys is None else np.asarray(keys, dtype=float)
    found: list[Basins | None] = []
    for k, row in enumerate(rows):
        evidence = {"error": None if error is None else np.atleast_2d(error)[k],
                    "replicates": None if replicates is None else replicates[:, k]}
        try:
            found.append(find_basins(grid, row, prominence, dry=dry, wet=wet, barrier=barrier,
                                     **evidence))
        except BasinError:
            found.append(None)
    good = [i for i, b in enumerate(found) if b is not None]
    if not good:
        raise BasinError(
            "no profile row has separate dry and wet basins; give the basins explicitly "
            "(--dry, --wet in molecules)"
        )
    missing = [i for i, b in enumerate(found) if b is None]
    if missing:
        warnings.warn(
            f"{len(missing)} profile row(s) lack a dry or a wet basin (one state is unstable "
            "there); their rates use the basins of the nearest row that has both",
            stacklevel=2,
        )
        for i in missing:
            nearest = min(good, key=lambda g: abs(keys[g] - keys[i]))
            found[i] = found[nearest]
    return [b for b in found if b is not None]


def rate_arrays(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    basins: Sequence[Basins],
    method: str = "exact",
    n_trajectories: int = 500,
    seed: int = 0,
    time_step: float | None = None,
    max_time: float | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Rates for many profiles on one grid.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy : ndarray, shape (n_rows, n_grid)
        Profiles (kT).
    diffusion : ndarray, shape (n_rows, n_grid) or (n_grid,)
        D (molecules^2/ps).
    basins : sequence of Basins, length n_rows
        Basins of each row.
    method : {"exact", "kramers", "fokker-planck", "langevin"}
        How the mean first-passage times are obtained.
    n_trajectories, seed, time_step, max_time : optional
        Langevin settings (time step and limit in ps).
    progress : bool, optional
        Progress bar over rows (slow methods).

    Returns
    -------
    dict of str to ndarray
        ``k_wet``, ``k_dry`` (1/s) and, for ``langevin``, ``k_wet_error``,
        ``k_dry_error`` (1/s, one standard error).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))
    d = np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape)
    dry = np.array([b.dry for b in basins])
    wet = np.array([b.wet for b in basins])
    top = np.array([b.barrier for b in basins])
    out: dict[str, np.ndarray] = {}
    if method == "exact":
        out["k_wet"] = np.exp(-log_mfpt(grid, f, d, dry, wet)) / PICOSECOND
        out["k_dry"] = np.exp(-log_mfpt(grid, f, d, wet, dry)) / PICOSECOND
        return out
    k_wet = np.empty(f.shape[0])
    k_dry = np.empty(f.shape[0])
    errors_wet = np.full(f.shape[0], np.nan)
    errors_dry = np.full(f.shape[0], np.nan)
    for i in tqdm(range(f.shape[0]), disable=not progress, desc=f"rates ({method})"):
        if method == "kramers":
            k_wet[i] = kramers_rate(grid, f[i], d[i], dry[i], top[i])
            k_dry[i] = kramers_rate(grid, f[i], d[i], wet[i], top[i])
        elif method == "fokker-planck":
            k_wet[i] = 1.0 / mfpt_fokker_planck(grid, f[i], d[i], dry[i], wet[i])
            k_dry[i] = 1.0 / mfpt_fokker_planck(grid, f[i], d[i], wet[i], dry[i])
        else:
            for direction, start, target in (("wet", dry[i], wet[i]), ("dry", wet[i], dry[i])):
                times = first_passage_times(
                    grid, f[i], d[i], grid[start], grid[target], n_trajectories,
                    seed=seed + 2 * i + (direction == "dry"), time_step=time_step,
                    max_time=max_time,
                )
                finished = np.isfinite(times)
                if finished.sum() < 2:
                    raise RuntimeError(
                        f"Langevin: fewer than two of {n_trajectories} trajectories reached the "
                        f"{direction} basin within the time limit; the rate is too slow for brute "
                        "force, use --method exact or fokker-planck"
                    )
                if not finished.all():
                    warnings.warn(
                        f"Langevin: {int((~finished).sum())} trajectories did not reach the "
                        f"{direction} basin; the mean first-passage time is underestimated",
                        stacklevel=2,
                    )
                mean = times[finished].mean()
                error = times[finished].std(ddof=1) / np.sqrt(finished.sum())
                rate = 1.0 / mean
                if direction == "wet":
                    k_wet[i], errors_wet[i] = rate, rate * error / mean
                else:
                    k_dry[i], errors_dry[i] = rate, rate * error / mean
            continue
    out["k_wet"] = k_wet / PICOSECOND
    out["k_dry"] = k_dry / PICOSECOND
    if method == "langevin":
        out["k_wet_error"] = errors_wet / PICOSECOND
        out["k_dry_error"] = errors_dry / PICOSECOND
    return out


def rates_dataset(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    voltages: np.ndarray | None,
    method: str = "exact",
    dry: float | None = None,
    wet: float | None = None,
    barrier: float | None = None,
    temperature: float | None = None,
    inputs: list[str] | None = None,
    free_energy_error: np.ndarray | None = None,
    free_energy_replicates: np.ndarray | None = None,
    **options,
) -> xr.Dataset:
    """Rates, basins and barriers as a labelled dataset.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy : ndarray, shape (n_voltages, n_grid) or (n_grid,)
        Profiles (kT).
    diffusion : ndarray
        D (molecules^2/ps), shape (n_grid,) or like ``free_energy``.
    voltages : ndarray, shape (n_voltages,), optional
        Voltage of each row (V); None for a single profile (scalar outputs).
    method : str, optional
        See :func:`rate_arrays`.
    dry, wet, barrier : float, optional
        Basin overrides (molecules).
    temperature : float, optional
        Temperature (K), recorded.
    inputs : list of str, optional
        Provenance.
    free_energy_error, free_energy_replicates : ndarray, optional
        Standard errors (kT, like ``free_energy``) or bootstrap replicates (kT,
        shape (n_replicates, n_voltages, n_grid)): basins must stand out beyond
        them, and the barrier heights get errors.
    **options
        Passed to :func:`rate_arrays`.

    Returns
    -------
    xarray.Dataset
        ``k_wet``, ``k_dry`` (1/s), ``n_dry``, ``n_barrier``, ``n_wet`` (molecules),
        ``barrier_wetting``, ``barrier_drying`` (kT), along ``voltage`` if given.
    """
    scalar = voltages is None
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))
    d = np.asarray(diffusion, dtype=float)
    if d.ndim == 2 or f.shape[0] == 1:
        d = np.broadcast_to(d, f.shape)
    basins = basins_for_rows(grid, f, voltages, dry=dry, wet=wet, barrier=barrier,
                             error=free_energy_error, replicates=free_energy_replicates)
    rates = rate_arrays(grid, f, d, basins, method=method, **options)
    rows = np.arange(f.shape[0])
    dry_i = np.array([b.dry for b in basins])
    wet_i = np.array([b.wet for b in basins])
    top_i = np.array([b.barrier for b in basins])
    variables = {
        **rates,
        "n_dry": grid[dry_i],
        "n_barrier": grid[top_i],
        "n_wet": grid[wet_i],
        "barrier_wetting": f[rows, top_i] - f[rows, dry_i],
        "barrier_drying": f[rows, top_i] - f[rows, wet_i],
    }
    if free_energy_error is not None or free_energy_replicates is not None:
        variables["barrier_wetting_error"] = [b.barrier_wetting_error for b in basins]
        variables["barrier_drying_error"] = [b.barrier_drying_error for b in basins]
    units = {
        "k_wet": ("1/s", "wetting rate, 1 / MFPT(dry -> wet)"),
        "k_dry": ("1/s", "drying rate, 1 / MFPT(wet -> dry)"),
        "k_wet_error": ("1/s", "standard error of k_wet"),
        "k_dry_error": ("1/s", "standard error of k_dry"),
        "n_dry": ("molecules", "N at the dry minimum"),
        "n_barrier": ("molecules", "N at the barrier top"),
        "n_wet": ("molecules", "N at the wet minimum"),
        "barrier_wetting": ("kT", "barrier from the dry side"),
        "barrier_drying": ("kT", "barrier from the wet side"),
        "barrier_wetting_error": ("kT", "standard error of barrier_wetting"),
        "barrier_drying_error": ("kT", "standard error of barrier_drying"),
    }
    data = {}
    for name, values in variables.items():
        values = np.asarray(values, dtype=float)
        if scalar:
            data[name] = ((), float(values[0]))
        else:
            data[name] = (("voltage",), values)
    coords = {} if scalar else {"voltage": ("voltage", np.asarray(voltages, dtype=float), {"units": "V"})}
    ds = xr.Dataset(data, coords=coords)
    annotate(ds, units)
    ds.attrs.update(provenance_attrs(f"langevin.rates (method={method})", inputs,
                                     {"method": method, "dry": dry, "wet": wet, "barrier": barrier,
                                      **{k: v for k, v in options.items() if k != "progress"}}))
    if temperature is not None:
        ds.attrs["temperature"] = float(temperature)
    return ds
