"""Fast and parallel bootstrap replicates of a profile.

Two routes beside :func:`analysis.bootstrap.bootstrap_profiles`, with the same
output (replicate profiles, each up to its own constant):

* :func:`histogram_bootstrap_profiles` for WHAM, which sees the samples only
  through each window's histogram. Drawing a window's n samples with replacement
  and histogramming them gives counts with the multinomial distribution
  Multinomial(n, p) with p the window's own histogram, so the replicates draw the
  counts directly: the same distribution of replicates without touching the
  samples again.
* :func:`parallel_bootstrap_profiles` for any estimator: replicates on a pool of
  threads (NumPy releases the interpreter lock in the heavy array work), each
  with its own random stream spawned from the caller's generator, so the result
  does not depend on the number of threads.
"""

from __future__ import annotations

import contextlib
import copy
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy.special import logsumexp

from analysis.data import UmbrellaData
from analysis.estimator import bin_centers


def available_cpus() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def histogram_bootstrap_profiles(estimator: Any, data: UmbrellaData, n_bootstrap: int,
                                 rng: np.random.Generator,
                                 initial: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap profiles of a :class:`analysis.wham.WHAM` estimator from multinomial counts.

    Parameters
    ----------
    estimator : analysis.wham.WHAM
        The configured estimator (its grid, oversampling and tolerance are used).
    data : UmbrellaData
        Approximately independent samples.
    n_bootstrap : int
        Number of replicates.
    rng : numpy.random.Generator
        Random source.
    initial : ndarray, optional
        Window free energies (kT) to start each solve from.

    Returns
    -------
    ndarray, shape (n_bootstrap, n_grid)
        Free energies (kT), each up to its own constant; NaN where undefined.
    """
    from analysis.wham import fine_edges, solve_wham

    x, _ = data.concatenated()
    fine, offset = fine_edges(estimator.edges, estimator.oversample, float(x.min()), float(x.max()))
    counts = data.histogram(fine)
    n_k = counts.sum(axis=1)
    probabilities = counts / n_k[:, None]
    bias = data.reduced_bias(bin_centers(fine))
    n_out = estimator.edges.size - 1
    widths = np.log(np.diff(estimator.edges))
    profiles = np.full((n_bootstrap, n_out), np.nan)
    start = initial
    for r in range(n_bootstrap):
        drawn = rng.multinomial(n_k, probabilities)
        f, log_p, _ = solve_wham(drawn, bias, estimator.tolerance, estimator.max_iterations, start)
        start = f
        grid = log_p[offset: offset + n_out * estimator.oversample].reshape(n_out, -1)
        with np.errstate(divide="ignore"):
            values = -(logsumexp(grid, axis=1) - widths)
        values[~np.isfinite(values)] = np.nan
        profiles[r] = values
    return profiles


def parallel_bootstrap_profiles(estimator: Any, data: UmbrellaData, n_bootstrap: int,
                                rng: np.random.Generator, jobs: int = 0,
                                progress: bool = False) -> np.ndarray:
    """Bootstrap profiles of any estimator, replicates spread over threads.

    Parameters
    ----------
    estimator : Estimator
        A configured estimator; each thread fits a copy.
    data : UmbrellaData
        Approximately independent samples.
    n_bootstrap : int
        Number of replicates.
    rng : numpy.random.Generator
        Random source; replicate r draws from the r-th stream spawned from it.
    jobs : int
        Threads; 0 for one per available CPU core.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ndarray, shape (n_bootstrap, n_grid)
        Free energies (kT), each up to its own constant; NaN where undefined.
    """
    streams = rng.spawn(n_bootstrap)
    jobs = min(n_bootstrap, jobs if jobs > 0 else available_cpus()) or 1

    def replicate(stream: np.random.Generator) -> np.ndarray:
        return copy.copy(estimator).fit(data.resample(stream)).free_energy

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_bootstrap, desc=f"bootstrap ({estimator.name})", leave=False)
    results = []
    try:
        if jobs == 1:
            for stream in streams:
                results.append(replicate(stream))
                if bar is not None:
                    bar.update(1)
        else:
            quiet = getattr(estimator, "quiet", contextlib.nullcontext)
            with quiet(), ThreadPoolExecutor(max_workers=jobs) as pool:
                for profile in pool.map(replicate, streams):
                    results.append(profile)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return np.array(results)
