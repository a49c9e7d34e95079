"""Exact mean first-passage times of one-dimensional diffusion on a profile.

For start a below target b, with a reflecting wall at the lower grid end N_min,

    tau(a -> b) = int_a^b dy exp(Omega(y)) / D(y) int_{N_min}^y dz exp(-Omega(z)),

and symmetrically (reflecting at the upper end N_max) for b below a. Omega is in
kT. Omega and D between the tabulated points are the toolkit's one interpolant
(:mod:`langevin.landscape`: Omega piecewise linear, D piecewise log-linear), and
both integrals are done exactly for it, cell by cell, in log space: barriers of
hundreds of kT neither overflow nor underflow, and many profiles (one per
voltage, say) are done in one vectorised call.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from langevin.landscape import _GL_NODES, _GL_WEIGHTS


@numba.njit(cache=True)
def _log_exprel(x):
    """log((exp(x) - 1) / x) for a scalar x."""
    ax = abs(x)
    if ax < 1e-6:
        return 0.5 * x + x * x / 24.0
    return math.log(-math.expm1(-ax) / ax) + max(x, 0.0)


@numba.njit(cache=True)
def _log_cells(grid, free_energy, log_d, nodes, weights, out):
    """Per-cell log outer integrals for every row (see :func:`log_cell_integrals`)."""
    n_rows, n = free_energy.shape
    for r in range(n_rows):
        log_inner = -np.inf
        for i in range(n - 1):
            h = grid[i + 1] - grid[i]
            log_h = math.log(h)
            s = free_energy[r, i + 1] - free_energy[r, i]
            delta = log_d[r, i + 1] - log_d[r, i]
            left = free_energy[r, i]
            # T1: exp(Omega)/D times the inner integral accumulated up to the cell
            if log_inner == -np.inf:
                first = -np.inf
            else:
                first = log_h + left - log_d[r, i] + log_inner + _log_exprel(s - delta)
            # T2: the inner integral's growth inside the cell,
            # log of G = int_0^1 exp(-delta u) (exp(s u) - 1) / s du
            upper = _log_exprel(s - delta)
            if abs(s) >= 1e-4 or abs(delta) > 5.0:
                lower = _log_exprel(-delta)
                high = max(upper, lower)
                low = min(upper, lower)
                log_g = high + math.log(-math.expm1(low - high)) - math.log(abs(s))
            else:  # the closed form cancels; the integrand is smooth and non-cancelling
                acc = 0.0
                for k in range(nodes.size):
                    u = nodes[k]
                    growth = u if s == 0.0 else math.expm1(s * u) / s
                    acc += weights[k] * math.exp(-delta * u) * growth
                log_g = math.log(acc)
            second = 2.0 * log_h - log_d[r, i] + log_g
            if first > second:
                out[r, i] = first + math.log1p(math.exp(second - first))
            else:
                out[r, i] = second + math.log1p(math.exp(first - second))
            # the inner integral over this cell, exact for a linear Omega
            piece = -left + log_h + _log_exprel(-s)
            if log_inner == -np.inf:
                log_inner = piece
            elif log_inner > piece:
                log_inner = log_inner + math.log1p(math.exp(piece - log_inner))
            else:
                log_inner = piece + math.log1p(math.exp(log_inner - piece))


@numba.njit(cache=True)
def _exprel(x):
    """(exp(x) - 1) / x for a scalar x."""
    if abs(x) < 1e-8:
        return 1.0 + 0.5 * x
    return math.expm1(x) / x


@numba.njit(cache=True)
def _cells_linear(grid, free_energy, diffusion, nodes, weights, out):
    """As :func:`_log_cells` in linear arithmetic, for rows spanning under ~600 kT."""
    n_rows, n = free_energy.shape
    for r in range(n_rows):
        lowest = free_energy[r, 0]
        for i in range(1, n):
            lowest = min(lowest, free_energy[r, i])
        inner = 0.0
        boltzmann = math.exp(-(free_energy[r, 0] - lowest))
        for i in range(n - 1):
            h = grid[i + 1] - grid[i]
            s = free_energy[r, i + 1] - free_energy[r, i]
            inverse_d = 1.0 / diffusion[r, i]
            delta = math.log(diffusion[r, i + 1] * inverse_d) if diffusion[r, i + 1] != diffusion[r, i] else 0.0
            e_up = _exprel(s - delta)
            if abs(s) >= 1e-4 or abs(delta) > 5.0:
                g = (e_up - _exprel(-delta)) / s
            else:
                g = 0.0
                for k in range(nodes.size):
                    u = nodes[k]
                    growth = u if s == 0.0 else math.expm1(s * u) / s
                    g += weights[k] * math.exp(-delta * u) * growth
            out[r, i] = h * inverse_d * (inner / boltzmann * e_up + h * g)
            inner += h * boltzmann * _exprel(-s)
            boltzmann = math.exp(-(free_energy[r, i + 1] - lowest))


def log_cell_integrals(
    grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray
) -> np.ndarray:
    """log of the outer integral of the upward MFPT over each cell.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega (kT).
    diffusion : ndarray, shape (..., n_grid)
        D (molecules^2/ps).

    Returns
    -------
    ndarray, shape (..., n_grid - 1)
        log( int_cell dy exp(Omega(y)) / D(y) int_{N_min}^y dz exp(-Omega(z)) / ps ).
    """
    f = np.asarray(free_energy, dtype=float)
    shape = f.shape
    rows = np.ascontiguousarray(f.reshape(-1, shape[-1]))
    log_d = np.ascontiguousarray(
        np.log(np.broadcast_to(np.asarray(diffusion, dtype=float), shape)).reshape(rows.shape))
    grid = np.ascontiguousarray(grid, dtype=float)
    out = np.empty((rows.shape[0], shape[-1] - 1))
    span = np.ptp(rows, axis=-1) + np.ptp(log_d, axis=-1)
    if np.all(span < 600.0):  # exp() cannot overflow: plain arithmetic, then one log per cell
        _cells_linear(grid, rows, np.exp(log_d), _GL_NODES, _GL_WEIGHTS, out)
        out = np.log(out)
    else:
        _log_cells(grid, rows, log_d, _GL_NODES, _GL_WEIGHTS, out)
    return out.reshape(shape[:-1] + (shape[-1] - 1,))


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
    log_cells = log_cell_integrals(grid, free_energy, diffusion)
    segment = np.arange(np.asarray(grid).size - 1)
    inside = (segment >= start[..., None]) & (segment < target[..., None])
    masked = np.where(inside, log_cells, -np.inf)
    shift = np.max(masked, axis=-1, keepdims=True)
    total = np.sum(np.exp(masked - shift), axis=-1)
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
        free_energy = np.asarray(free_energy, dtype=float)
        diffusion = np.broadcast_to(np.asarray(diffusion, dtype=float), free_energy.shape)
        return log_mfpt_upward(-grid[::-1], free_energy[..., ::-1], diffusion[..., ::-1],
                               last - start, last - target)
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
