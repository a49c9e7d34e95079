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
        Standard error of Omega - Omega[gauge] (kT), zero at the gauge point;
        grid points that fewer than two replicates define take the largest error
        of the others.
    list of str
        Notes: points filled in that way, and a gauge point that fewer than half
        of the replicates define.

    Raises
    ------
    AnalysisError
        When fewer than two replicates define the gauge point, or no other grid
        point: there is no error to report, and zero would claim an exact profile.
    """
    n_bootstrap = replicates.shape[0]
    at_gauge = int(np.sum(np.isfinite(replicates[:, gauge_index])))
    where = f"{voltage:g} V: "
    if at_gauge < 2:
        raise AnalysisError(
            f"{where}{at_gauge} of {n_bootstrap} bootstrap replicates are defined at the gauge "
            f"point N = {n[gauge_index]:.3g} (the dry minimum), too few for an error: the windows "
            "there sample it too thinly; add a window at that N or run the windows longer"
        )
    with np.errstate(invalid="ignore"):
        error = bootstrap_error(replicates, gauge_index)
    missing = ~np.isfinite(error)
    missing[gauge_index] = False
    error[gauge_index] = 0.0
    others = np.ones(error.size, dtype=bool)
    others[gauge_index] = False
    if not np.any(others & ~missing):
        raise AnalysisError(
            f"{where}no grid point besides the gauge point is defined in two or more bootstrap "
            "replicates, so the profile has no error; add windows or run them longer"
        )
    notes = []
    if at_gauge < n_bootstrap / 2:
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
        Omega - Omega[gauge] of each replicate (kT). A replicate undefined at the
        gauge point is dropped to the estimate; grid points a replicate leaves empty
        take the estimate's value (so they add no spread there).
    int
        Number of values filled in.
    """
    shifted = replicates - replicates[:, gauge_index: gauge_index + 1]
    missing = ~np.isfinite(shifted)
    filled = np.where(missing, np.asarray(free_energy, dtype=float)[None, :], shifted)
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
