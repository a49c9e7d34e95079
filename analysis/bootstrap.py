"""Bootstrap uncertainties of a profile over decorrelated samples."""

from __future__ import annotations

import numpy as np

from analysis.data import UmbrellaData
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
