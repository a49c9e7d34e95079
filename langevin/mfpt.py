"""Exact mean first-passage times of one-dimensional diffusion on a profile.

For start a below target b, with a reflecting wall at the lower grid end N_min,

    tau(a -> b) = int_a^b dy exp(Omega(y)) / D(y) int_{N_min}^y dz exp(-Omega(z)),

and symmetrically (reflecting at the upper end N_max) for b below a. Omega is in
kT. Both integrals are evaluated with the trapezoidal rule on the profile grid in
log space, so barriers of hundreds of kT neither overflow nor underflow, and many
profiles (one per voltage, say) are done in one vectorised call.
"""

from __future__ import annotations

import numpy as np


def _log_cumulative_trapezoid(log_values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """log of the cumulative trapezoid integral of exp(log_values) along the last axis."""
    shift = np.max(log_values, axis=-1, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    values = np.exp(log_values - shift)
    segments = 0.5 * (values[..., 1:] + values[..., :-1]) * np.diff(grid)
    cumulative = np.concatenate(
        [np.zeros(values.shape[:-1] + (1,)), np.cumsum(segments, axis=-1)], axis=-1
    )
    with np.errstate(divide="ignore"):
        return np.log(cumulative) + shift


def log_mfpt_upward(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """log of the exact MFPT from grid index ``start`` up to ``target``.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Strictly increasing grid (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Free energy (kT), one profile per leading index.
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D (molecules^2/ps).
    start, target : int or ndarray of int, shape (...)
        Grid indices, ``start < target``; reflecting wall at index 0.

    Returns
    -------
    ndarray, shape (...)
        log(tau / ps).
    """
    free_energy = np.asarray(free_energy, dtype=float)
    diffusion = np.broadcast_to(np.asarray(diffusion, dtype=float), free_energy.shape)
    start = np.asarray(start)
    target = np.asarray(target)
    if np.any(start >= target):
        raise ValueError("upward passage needs start < target")
    log_inner = _log_cumulative_trapezoid(-free_energy, grid)
    log_integrand = free_energy + log_inner - np.log(diffusion)
    segment = np.arange(grid.size - 1)
    inside = (segment >= start[..., None]) & (segment < target[..., None])
    shift = np.max(np.where(inside, log_integrand[..., :-1], -np.inf), axis=-1, keepdims=True)
    shift = np.maximum(shift, np.max(np.where(inside, log_integrand[..., 1:], -np.inf), axis=-1,
                                      keepdims=True))
    node = np.arange(grid.size)
    in_window = (node >= start[..., None]) & (node <= target[..., None])
    values = np.exp(np.where(in_window, log_integrand - shift, -np.inf))
    segments = 0.5 * (values[..., 1:] + values[..., :-1]) * np.diff(grid)
    total = np.sum(np.where(inside, segments, 0.0), axis=-1)
    return np.log(total) + shift[..., 0]


def log_mfpt(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """log of the exact MFPT between grid indices, in either direction.

    Upward passages reflect at the lower grid end, downward ones at the upper end.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Strictly increasing grid (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Free energy (kT).
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D (molecules^2/ps).
    start, target : int or ndarray of int, shape (...)
        Grid indices (all passages of one call in the same direction).

    Returns
    -------
    ndarray
        log(tau / ps).
    """
    grid = np.asarray(grid, dtype=float)
    start = np.asarray(start)
    target = np.asarray(target)
    if np.all(target > start):
        return log_mfpt_upward(grid, free_energy, diffusion, start, target)
    if np.all(target < start):
        last = grid.size - 1
        free_energy = np.asarray(free_energy, dtype=float)[..., ::-1]
        diffusion = np.asarray(diffusion, dtype=float)[..., ::-1]
        return log_mfpt_upward(-grid[::-1], free_energy, diffusion, last - start, last - target)
    raise ValueError("start and target must differ, all in the same direction")


def mean_first_passage_time(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: float,
    target: float,
) -> float:
    """Exact mean first-passage time from ``start`` to ``target``.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Strictly increasing grid (molecules).
    free_energy : ndarray, shape (n_grid,)
        Free energy (kT).
    diffusion : ndarray, shape (n_grid,)
        D (molecules^2/ps).
    start, target : float
        Start and absorbing target (molecules), snapped to the nearest grid point.
        The grid end beyond ``start`` reflects.

    Returns
    -------
    float
        Mean first-passage time (ps).
    """
    grid = np.asarray(grid, dtype=float)
    i = int(np.argmin(np.abs(grid - start)))
    j = int(np.argmin(np.abs(grid - target)))
    if i == j:
        return 0.0
    return float(np.exp(log_mfpt(grid, free_energy, diffusion, i, j)))
