"""Wetting and drying rates of a pore from its filling profile(s).

k_wet = 1 / MFPT(dry minimum -> wet minimum), reflecting at the lower grid end;
k_dry = 1 / MFPT(wet minimum -> dry minimum), reflecting at the upper grid end.
Methods: ``exact`` (the double integral), ``kramers`` (overdamped Kramers),
``fokker-planck`` (MFPT of the discretised Fokker-Planck operator) and ``langevin``
(mean of simulated first-passage times, with its standard error). Outputs are SI.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from langevin.basins import BasinError, Basins, find_basins
from langevin.fokker_planck import log_mfpt_fokker_planck
from langevin.kramers import KramersError, kramers_rate
from langevin.landscape import INTERPOLANT, check_nodes
from langevin.langevin import (
    LangevinBudgetError,
    first_passage_times,
    suggest_time_step,
)
from langevin.mfpt import log_mfpt
from nanopore.provenance import annotate, provenance_attrs
from nanopore.units import PICOSECOND

METHODS = ("exact", "kramers", "fokker-planck", "langevin")

#: Default Langevin budget of trajectory-steps per rates call (about 40 s per core).
DEFAULT_MAX_STEPS = 2e9


def check_basin_overrides(
    grid: np.ndarray, dry: float | None, wet: float | None, barrier: float | None
) -> None:
    """Refuse user-given basins that cannot be right, naming which one and why.

    Parameters
    ----------
    grid : ndarray
        Grid (molecules).
    dry, wet, barrier : float or None
        The user's --dry, --wet, --barrier (molecules).

    Raises
    ------
    BasinError
        With the option at fault and the fix.
    """
    lo, hi = float(grid[0]), float(grid[-1])
    for name, value in (("--dry", dry), ("--wet", wet), ("--barrier", barrier)):
        if value is not None and not lo <= value <= hi:
            raise BasinError(
                f"{name} {value:g} lies outside the profile grid [{lo:g}, {hi:g}] molecules; "
                "give a value on the grid"
            )
    if dry is not None and wet is not None and not dry < wet:
        raise BasinError(
            f"--dry {dry:g} must lie below --wet {wet:g} (the dry state has fewer molecules); "
            "swap them"
        )
    if barrier is not None:
        if dry is not None and not barrier > dry:
            raise BasinError(f"--barrier {barrier:g} must lie above --dry {dry:g}, between the minima")
        if wet is not None and not barrier < wet:
            raise BasinError(f"--barrier {barrier:g} must lie below --wet {wet:g}, between the minima")


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
    check_basin_overrides(np.asarray(grid, dtype=float), dry, wet, barrier)
    given = any(v is not None for v in (dry, wet, barrier))
    first_error: BasinError | None = None
    found: list[Basins | None] = []
    for k, row in enumerate(rows):
        evidence = {"error": None if error is None else np.atleast_2d(error)[k],
                    "replicates": None if replicates is None else replicates[:, k]}
        try:
            found.append(find_basins(grid, row, prominence, dry=dry, wet=wet, barrier=barrier,
                                     **evidence))
        except BasinError as exc:
            first_error = first_error or exc
            found.append(None)
    good = [i for i, b in enumerate(found) if b is not None]
    if not good:
        if given and first_error is not None:
            raise BasinError(f"the basins given do not fit the profile: {first_error}")
        where = (f" (rows at {keys.min():g} .. {keys.max():g})" if rows.shape[0] > 1 else "")
        raise BasinError(
            f"no profile row{where} has separate dry and wet basins; give the basins "
            "explicitly (--dry, --wet in molecules)"
        )
    missing = [i for i, b in enumerate(found) if b is None]
    if missing:
        warnings.warn(
            f"{len(missing)} profile row(s) lack a dry or a wet basin (one state is unstable "
            "there); their rates use the basins of the nearest row that has both",
            stacklevel=2,
        )
        from langevin.basins import with_errors as _with_errors

        for i in missing:
            nearest = min(good, key=lambda g: abs(keys[g] - keys[i]))
            found[i] = dataclasses.replace(
                _with_errors(found[nearest], None if error is None else np.atleast_2d(error)[i],
                             None if replicates is None else replicates[:, i]),
                borrowed=True)
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
    max_steps: float | None = DEFAULT_MAX_STEPS,
    max_wall_time: float | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Rates for many profiles on one grid.

    Every method integrates the same interpolant of the tabulated profile
    (:mod:`langevin.landscape`).

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
        Langevin settings (time step and simulated-time limit in ps).
    progress : bool, optional
        Progress bar (Langevin: finished trajectories, live).
    max_steps : float, optional
        Langevin budget of trajectory-steps over all rows; a run that would exceed
        it (judged beforehand from the exact MFPT, and enforced while running) stops
        with a message pointing to the exact method. None: no budget.
    max_wall_time : float, optional
        Langevin wall-clock limit (s).
    labels : sequence of str, optional
        Name of each row for messages (e.g. ``"V = 0.5 V"``).

    Returns
    -------
    dict of str to ndarray
        ``k_wet``, ``k_dry`` (1/s) and, for ``langevin``, ``k_wet_error``,
        ``k_dry_error`` (1/s, one standard error) and ``time_step`` (ps).

    Raises
    ------
    KramersError
        Where Kramers' formula cannot apply (the message says why and where).
    LangevinBudgetError
        When Langevin would exceed, or reaches, its step or time budget.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    grid = np.asarray(grid, dtype=float)
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))
    d = np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape)
    check_nodes(grid, f, d)
    dry = np.array([b.dry for b in basins])
    wet = np.array([b.wet for b in basins])
    top = np.array([b.barrier for b in basins])
    labels = list(labels) if labels is not None else [f"row {i}" for i in range(f.shape[0])]
    out: dict[str, np.ndarray] = {}
    if method == "exact":
        out["k_wet"] = np.exp(-log_mfpt(grid, f, d, dry, wet)) / PICOSECOND
        out["k_dry"] = np.exp(-log_mfpt(grid, f, d, wet, dry)) / PICOSECOND
        return out
    rows = f.shape[0]
    k_wet = np.empty(rows)
    k_dry = np.empty(rows)
    if method == "kramers":
        for i in range(rows):
            try:
                k_wet[i] = kramers_rate(grid, f[i], d[i], dry[i], top[i])
                k_dry[i] = kramers_rate(grid, f[i], d[i], wet[i], top[i])
            except KramersError as exc:
                raise KramersError(f"Kramers at {labels[i]}: {exc}") from None
    elif method == "fokker-planck":
        for i in tqdm(range(rows), disable=not progress, desc="rates (fokker-planck)"):
            k_wet[i] = np.exp(-log_mfpt_fokker_planck(grid, f[i], d[i], dry[i], wet[i]))
            k_dry[i] = np.exp(-log_mfpt_fokker_planck(grid, f[i], d[i], wet[i], dry[i]))
    else:
        return _langevin_rates(grid, f, d, dry, wet, labels, n_trajectories, seed, time_step,
                               max_time, progress, max_steps, max_wall_time)
    if not np.all(np.isfinite(k_wet) & (k_wet > 0) & np.isfinite(k_dry) & (k_dry > 0)):
        raise RuntimeError(f"{method} gave a rate that is not positive and finite; "
                           "use --method exact")
    out["k_wet"] = k_wet / PICOSECOND
    out["k_dry"] = k_dry / PICOSECOND
    return out


def _langevin_rates(grid, f, d, dry, wet, labels, n_trajectories, seed, time_step, max_time,
                    progress, max_steps, max_wall_time) -> dict[str, np.ndarray]:
    """Mean first-passage times of Langevin ensembles, with standard errors (see rate_arrays)."""
    rows = f.shape[0]
    steps = np.array([time_step or suggest_time_step(grid, f[i], d[i]) for i in range(rows)])
    # judge the cost beforehand from the exact MFPTs
    tau_wet = np.exp(log_mfpt(grid, f, d, dry, wet))
    tau_dry = np.exp(log_mfpt(grid, f, d, wet, dry))
    needed = float(np.sum(n_trajectories * (tau_wet + tau_dry) / steps))
    if max_steps is not None and needed > max_steps:
        worst = int(np.argmax((tau_wet + tau_dry) / steps))
        raise LangevinBudgetError(
            f"Langevin would need about {needed:.2g} trajectory-steps, above the budget of "
            f"{max_steps:.2g} (--max-steps): at {labels[worst]} the mean first-passage times are "
            f"{tau_wet[worst]:.3g} and {tau_dry[worst]:.3g} ps at dt = {steps[worst]:.3g} ps. "
            "Use --method exact (or fokker-planck), exact at any barrier, or raise --max-steps"
        )
    deadline = None if max_wall_time is None else time.monotonic() + float(max_wall_time)
    k = {"wet": np.empty(rows), "dry": np.empty(rows)}
    errors = {"wet": np.empty(rows), "dry": np.empty(rows)}
    used = 0.0
    with tqdm(total=2 * rows * n_trajectories, disable=not progress, unit="trajectory",
              desc="Langevin first passages") as bar:
        for i in range(rows):
            for direction, start, target, tau in (("wet", dry[i], wet[i], tau_wet[i]),
                                                  ("dry", wet[i], dry[i], tau_dry[i])):
                budget = None if max_steps is None else max(max_steps - used, 1.0)
                times = first_passage_times(
                    grid, f[i], d[i], grid[start], grid[target], n_trajectories,
                    seed=seed + 2 * i + (direction == "dry"), time_step=steps[i],
                    max_time=max_time, max_steps=budget, deadline=deadline, bar=bar,
                )
                finished = np.isfinite(times)
                used += float(np.sum(np.where(finished, times, max_time or 0.0))) / steps[i]
                if finished.sum() < 2:
                    raise LangevinBudgetError(
                        f"Langevin at {labels[i]}: fewer than two of {n_trajectories} trajectories "
                        f"reached the {direction} basin within the time limit; the rate is too "
                        "slow for brute force, use --method exact or fokker-planck"
                    )
                if not finished.all():
                    warnings.warn(
                        f"Langevin at {labels[i]}: {int((~finished).sum())} trajectories did not "
                        f"reach the {direction} basin; the mean first-passage time is "
                        "underestimated",
                        stacklevel=3,
                    )
                mean = times[finished].mean()
                error = times[finished].std(ddof=1) / np.sqrt(finished.sum())
                k[direction][i] = 1.0 / mean
                errors[direction][i] = error / mean**2
    return {
        "k_wet": k["wet"] / PICOSECOND,
        "k_dry": k["dry"] / PICOSECOND,
        "k_wet_error": errors["wet"] / PICOSECOND,
        "k_dry_error": errors["dry"] / PICOSECOND,
        "time_step": steps,
    }


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
    labels = (None if scalar else [f"V = {v:g} V" for v in np.atleast_1d(voltages)])
    rates = rate_arrays(grid, f, d, basins, method=method, labels=labels, **options)
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
        "basins_borrowed": [int(b.borrowed) for b in basins],
    }
    if free_energy_error is not None or free_energy_replicates is not None:
        variables["barrier_wetting_error"] = [b.barrier_wetting_error for b in basins]
        variables["barrier_drying_error"] = [b.barrier_drying_error for b in basins]
    units = {
        "k_wet": ("1/s", "wetting rate, 1 / MFPT(dry -> wet)"),
        "k_dry": ("1/s", "drying rate, 1 / MFPT(wet -> dry)"),
        "k_wet_error": ("1/s", "standard error of k_wet"),
        "k_dry_error": ("1/s", "standard error of k_dry"),
        "time_step": ("ps", "Langevin time step"),
        "n_dry": ("molecules", "N at the dry minimum"),
        "n_barrier": ("molecules", "N at the barrier top"),
        "n_wet": ("molecules", "N at the wet minimum"),
        "barrier_wetting": ("kT", "barrier from the dry side"),
        "barrier_drying": ("kT", "barrier from the wet side"),
        "barrier_wetting_error": ("kT", "standard error of barrier_wetting"),
        "barrier_drying_error": ("kT", "standard error of barrier_drying"),
        "basins_borrowed": ("1", ("1 where the profile has no dry and wet basins of its own "
                                  "(one state is unstable) and the basins are the nearest "
                                  "row's: k_wet, k_dry there are not rates between two states")),
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
    ds.attrs["interpolant"] = INTERPOLANT
    if temperature is not None:
        ds.attrs["temperature"] = float(temperature)
    return ds
