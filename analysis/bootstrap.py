"""Bootstrap uncertainties of a profile over decorrelated samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.data import UmbrellaData
from analysis.errors import AnalysisError
from analysis.estimator import Estimator


def bootstrap_profiles(
    estimator: Estimator,
    data: UmbrellaData,
    n_bootstrap: int,
    seed: int | np.random.Generator,
    progress: bool = False,
) -> np.ndarray:
    """Profiles of bootstrap replicates of the data.

    Each replicate draws every window's (decorrelated) samples with replacement
    and refits the estimator.

    Parameters
    ----------
    estimator : Estimator
        A configured estimator.
    data : UmbrellaData
        Approximately independent samples (see :mod:`analysis.decorrelation`).
    n_bootstrap : int
        Number of replicates.
    seed : int or numpy.random.Generator
        Random seed or generator.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    ndarray, shape (n_bootstrap, n_grid)
        Free energies (kT), each up to its own constant; NaN where undefined.
    """
    rng = np.random.default_rng(seed)
    replicates = range(n_bootstrap)
    if progress:
        from tqdm.auto import tqdm

        replicates = tqdm(replicates, desc=f"bootstrap ({estimator.name})", leave=False)
    return np.array([estimator.fit(data.resample(rng)).free_energy for _ in replicates])


def bootstrap_error(replicates: np.ndarray, gauge_index: int) -> np.ndarray:
    """Standard error of the profile relative to the gauge point.

    Parameters
    ----------
    replicates : ndarray, shape (n_bootstrap, n_grid)
        Bootstrap profiles (kT).
    gauge_index : int
        Grid index where Omega = 0 by definition (its error is zero).

    Returns
    -------
    ndarray, shape (n_grid,)
        Standard deviation over replicates of Omega - Omega[gauge] (kT); NaN
        where fewer than two replicates are defined.
    """
    shifted = replicates - replicates[:, gauge_index: gauge_index + 1]
    defined = np.sum(np.isfinite(shifted), axis=0)
    with np.errstate(invalid="ignore"):
        error = np.nanstd(np.where(np.isfinite(shifted), shifted, np.nan), axis=0, ddof=1) \
            if replicates.shape[0] > 1 else np.full(replicates.shape[1], np.nan)
    error = np.asarray(error, dtype=float)
    error[defined < 2] = np.nan
    return error


def reference_index(replicates: np.ndarray, gauge_index: int) -> int:
    """Grid point that the bootstrap errors are taken relative to.

    The gauge point when two or more replicates define it. Otherwise the grid point
    nearest to it (the lower one on a tie) that at least half of the replicates,
    and at least two, define: decorrelated samples are a thin subset of a window's
    samples, and a dry minimum at the grid's edge can be reached by correlated
    samples alone. -1 when no point qualifies.

    Parameters
    ----------
    replicates : ndarray, shape (n_bootstrap, n_grid)
        Bootstrap profiles (kT); NaN where undefined.
    gauge_index : int
        Grid index of the gauge point.

    Returns
    -------
    int
    """
    defined = np.sum(np.isfinite(replicates), axis=0)
    if defined[gauge_index] >= 2:
        return int(gauge_index)
    good = np.flatnonzero(defined >= max(2.0, replicates.shape[0] / 2))
    if good.size == 0:
        return -1
    return int(good[np.argmin(np.abs(good - gauge_index) + 0.1 * (good > gauge_index))])


def profile_error(
    replicates: np.ndarray, gauge_index: int, n: np.ndarray, voltage: float
) -> tuple[np.ndarray, list[str]]:
    """Bootstrap error of a profile, refusing when the replicates cannot give one.

    Parameters
    ----------
    replicates : ndarray, shape (n_bootstrap, n_grid)
        Bootstrap profiles (kT), each up to its own constant; NaN where undefined.
    gauge_index : int
        Grid index of the gauge point (the estimate's dry minimum).
    n : ndarray, shape (n_grid,)
        Grid of the collective variable (molecules), for the messages.
    voltage : float
        Voltage of the profile (V), for the messages.

    Returns
    -------
    ndarray, shape (n_grid,)
        Standard error of Omega - Omega[reference] (kT), with the reference point
        of :func:`reference_index`: the gauge point (error zero there) unless fewer
        than two replicates define it. Grid points that fewer than two replicates
        define, the gauge point among them, take the largest error of the others.
    list of str
        Notes: a reference point other than the gauge point, points filled in,
        and a gauge point that fewer than half of the replicates define.

    Raises
    ------
    AnalysisError
        When no grid point near the gauge point, or no other grid point, is
        defined in enough replicates: there is no error to report, and zero would
        claim an exact profile.
    """
    n_bootstrap = replicates.shape[0]
    at_gauge = int(np.sum(np.isfinite(replicates[:, gauge_index])))
    where = f"{voltage:g} V: "
    reference = reference_index(replicates, gauge_index)
    if reference < 0:
        raise AnalysisError(
            f"{where}no grid point is defined in half of the {n_bootstrap} bootstrap replicates "
            f"(the gauge point N = {n[gauge_index]:.3g}, the dry minimum, in {at_gauge}): the "
            "windows sample too thinly for an error; add windows or run them longer"
        )
    notes = []
    with np.errstate(invalid="ignore"):
        error = bootstrap_error(replicates, reference)
    missing = ~np.isfinite(error)
    missing[reference] = False
    error[reference] = 0.0
    others = np.ones(error.size, dtype=bool)
    others[reference] = False
    if not np.any(others & ~missing):
        raise AnalysisError(
            f"{where}no grid point besides N = {n[reference]:.3g} is defined in two or more "
            "bootstrap replicates, so the profile has no error; add windows or run them longer"
        )
    if reference != gauge_index:
        notes.append(f"{where}{at_gauge} of {n_bootstrap} bootstrap replicates reach the dry "
                     f"minimum N = {n[gauge_index]:.3g} (decorrelated samples do not reach it); "
                     f"errors are of Omega(N) - Omega({n[reference]:.3g}), the nearest point "
                     "they reach, and the dry minimum's own takes the largest")
    elif at_gauge < n_bootstrap / 2:
        notes.append(f"{where}only {at_gauge} of {n_bootstrap} bootstrap replicates are defined at "
                     f"the gauge point N = {n[gauge_index]:.3g}; the errors rest on those")
    if missing.any():
        fill = float(np.max(error[others & ~missing]))
        error[missing] = fill
        notes.append(f"{where}bootstrap replicates left {int(missing.sum())} grid point(s) "
                     f"empty; their error is set to the largest, {fill:.3g} kT")
    return error, notes


def gauged_replicates(
    replicates: np.ndarray, gauge_index: int, free_energy: np.ndarray
) -> tuple[np.ndarray, int]:
    """Bootstrap profiles in the gauge of the estimate, ready to keep in a profile.

    Parameters
    ----------
    replicates : ndarray, shape (n_bootstrap, n_grid)
        Bootstrap profiles (kT), each up to its own constant; NaN where undefined.
    gauge_index : int
        Grid index where Omega = 0 (the estimate's dry minimum).
    free_energy : ndarray, shape (n_grid,)
        The estimate (kT, zero at ``gauge_index``).

    Returns
    -------
    ndarray, shape (n_bootstrap, n_grid)
        Each replicate shifted to agree with the estimate at the reference point
        of :func:`reference_index` (the gauge point, where Omega = 0, unless fewer
        than two replicates define it) (kT). A replicate undefined at that point
        is dropped to the estimate; grid points a replicate leaves empty take the
        estimate's value (so they add no spread there).
    int
        Number of values filled in.
    """
    estimate = np.asarray(free_energy, dtype=float)
    reference = reference_index(replicates, gauge_index)
    reference = gauge_index if reference < 0 else reference
    shifted = replicates - replicates[:, reference: reference + 1] + estimate[reference]
    missing = ~np.isfinite(shifted)
    filled = np.where(missing, estimate[None, :], shifted)
    return filled, int(missing.sum())


def keep_replicates(profile: Any, analyses: Sequence[Any]) -> None:
    """Add ``free_energy_replicates`` (dims ``replicate`` + the profile's) to a profile.

    Parameters
    ----------
    profile : xarray.Dataset
        The profile of :func:`analysis.fes.compute_profile`, changed in place.
    analyses : list of VoltageAnalysis
        Its per-voltage analyses, each with ``replicates`` (or None).

    Raises
    ------
    ValueError
        When some voltage has no bootstrap replicates (``--bootstrap 0``).
    """
    kept = [getattr(a, "replicates", None) for a in analyses]
    if any(k is None for k in kept):
        raise ValueError("--keep-replicates needs bootstrap replicates; give --bootstrap N > 0")
    counts = {k.shape[0] for k in kept}
    if len(counts) != 1:
        raise ValueError(f"voltages have different numbers of replicates {sorted(counts)}")
    stacked = np.stack(kept, axis=1) if "voltage" in profile["free_energy"].dims else kept[0]
    dims = ("replicate", *profile["free_energy"].dims)
    profile["free_energy_replicates"] = (dims, stacked)
    profile["free_energy_replicates"].attrs.update(
        units="kT", long_name="bootstrap replicates of the free energy, same gauge")
