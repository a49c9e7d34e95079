"""Fokker-Planck (Smoluchowski) equation for p(N, t) by finite volumes.

    dp/dt = d/dN [ D exp(-Omega) d/dN ( exp(Omega) p ) ]        (Omega in kT)

Each grid point owns a cell (half cells at the ends, reflecting walls). The flux
between neighbouring points is exact for the toolkit's interpolant
(:mod:`langevin.landscape`): with the steady flux J through a cell,
J int_cell exp(Omega) / D dN = exp(Omega_i) p_i - exp(Omega_{i+1}) p_{i+1}, and for
Omega linear and D log-linear across the cell this gives the Scharfetter-Gummel form
with a varying D,

    W[i+1, i] = D_i B(x) / (h_i w_i),  W[i, i+1] = D_{i+1} B(-x) / (h_i w_{i+1}),

x = (Omega_{i+1} - Omega_i) - ln(D_{i+1} / D_i), B(x) = x / (exp(x) - 1), h the node
spacing and w the cell width. The discrete equilibrium is w_i exp(-Omega_i) to
round-off. Rates work on the interpolant refined until no cell changes Omega by
more than a tenth of a kT (:func:`langevin.landscape.subdivisions`), and the mean
first-passage time of the discrete operator is solved by its flux recursion in log
space, so barriers of hundreds of kT stay exact. Time stepping is implicit
(backward Euler), and Omega may change in time as Omega_0 + sum_m c_m(t) Omega_m.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from langevin.landscape import check_nodes, subdivisions
from langevin.landscape import refine as refine_table


def cell_widths(grid: np.ndarray) -> np.ndarray:
    """Finite-volume cell widths (molecules): half spacings, halved at the ends."""
    spacing = np.diff(grid)
    widths = np.empty(grid.size)
    widths[0] = 0.5 * spacing[0]
    widths[-1] = 0.5 * spacing[-1]
    widths[1:-1] = 0.5 * (spacing[1:] + spacing[:-1])
    return widths


@numba.njit(cache=True)
def _bernoulli(x):
    if abs(x) < 1e-8:
        return 1.0 - 0.5 * x
    if x > 700.0:
        return x * math.exp(-x)
    return x / math.expm1(x)


@numba.njit(cache=True)
def _fill_rates(free_energy, log_d_rise, left_conductance, right_conductance, widths, up, down):
    """Hopping rates up (i -> i+1) and down (i+1 -> i) across each interface."""
    for i in range(up.size):
        x = free_energy[i + 1] - free_energy[i] - log_d_rise[i]
        up[i] = left_conductance[i] * _bernoulli(x) / widths[i]
        down[i] = right_conductance[i] * _bernoulli(-x) / widths[i + 1]


def _interface_terms(grid: np.ndarray, diffusion: np.ndarray):
    """ln(D_{i+1}/D_i), D_i / h_i and D_{i+1} / h_i of each interface."""
    grid = np.asarray(grid, dtype=float)
    diffusion = np.asarray(diffusion, dtype=float)
    spacing = np.diff(grid)
    return (np.ascontiguousarray(np.diff(np.log(diffusion))),
            np.ascontiguousarray(diffusion[:-1] / spacing),
            np.ascontiguousarray(diffusion[1:] / spacing))


def transition_rates(grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray):
    """Rates of the discretised Fokker-Planck equation on the given nodes.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).

    Returns
    -------
    up, down : ndarray, shape (n_grid - 1,)
        Rates (1/ps) of the jumps i -> i+1 and i+1 -> i.
    """
    grid = np.asarray(grid, dtype=float)
    up = np.empty(grid.size - 1)
    down = np.empty(grid.size - 1)
    _fill_rates(np.asarray(free_energy, dtype=float), *_interface_terms(grid, diffusion),
                cell_widths(grid), up, down)
    return up, down


def equilibrium_distribution(grid: np.ndarray, free_energy: np.ndarray) -> np.ndarray:
    """Stationary cell probabilities of the discrete equation, w_i exp(-Omega_i) normalised."""
    weights = cell_widths(grid) * np.exp(-(free_energy - np.min(free_energy)))
    return weights / weights.sum()


def generator_matrix(grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray) -> np.ndarray:
    """Dense rate matrix W with dP/dt = W P for cell probabilities P (1/ps)."""
    up, down = transition_rates(grid, free_energy, diffusion)
    size = grid.size
    matrix = np.zeros((size, size))
    idx = np.arange(size - 1)
    matrix[idx + 1, idx] = up
    matrix[idx, idx + 1] = down
    matrix[idx, idx] -= up
    matrix[idx + 1, idx + 1] -= down
    return matrix


@numba.njit(cache=True)
def _log_flux_recursion(free_energy, log_d, grid, widths, start, target):
    """log MFPT of the birth-death chain from ``start`` up to ``target`` (reflecting at 0).

    With Delta_i = tau_i - tau_{i+1}, the backward equation gives
    up_i Delta_i = 1 + down_{i-1} Delta_{i-1}: a recursion of positive terms only,
    done in log space.
    """
    log_delta = -np.inf
    total = -np.inf
    for i in range(target):
        h = grid[i + 1] - grid[i]
        x = free_energy[i + 1] - free_energy[i] - (log_d[i + 1] - log_d[i])
        log_up = log_d[i] - math.log(h * widths[i]) - _log_exprel(x)
        carried = -np.inf
        if i > 0:
            hp = grid[i] - grid[i - 1]
            xp = free_energy[i] - free_energy[i - 1] - (log_d[i] - log_d[i - 1])
            log_down = log_d[i] - math.log(hp * widths[i]) - _log_exprel(-xp)
            carried = log_down + log_delta
        # log(1 + exp(carried)) - log_up
        if carried > 0.0:
            log_delta = carried + math.log1p(math.exp(-carried)) - log_up
        else:
            log_delta = math.log1p(math.exp(carried)) - log_up
        if i >= start:
            if total >= log_delta:
                total = total + math.log1p(math.exp(log_delta - total))
            else:
                total = log_delta + math.log1p(math.exp(total - log_delta))
    return total


@numba.njit(cache=True)
def _log_exprel(x):
    """log((exp(x) - 1) / x) for a scalar x."""
    ax = abs(x)
    if ax < 1e-6:
        return 0.5 * x + x * x / 24.0
    return math.log(-math.expm1(-ax) / ax) + max(x, 0.0)


def log_mfpt_fokker_planck(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: int,
    target: int,
    refine: bool = True,
    max_free_energy_step: float = 0.1,
) -> float:
    """log of the mean first-passage time of the discrete Fokker-Planck process.

    Solves the backward equation sum_j W[j, i] tau_j = -1 on the cells between the
    reflecting end and the absorbing target (by its flux recursion, in log space).

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    start, target : int
        Indices on ``grid`` (not on the refined grid).
    refine : bool, optional
        Solve on the interpolant refined until no cell changes Omega by more than
        ``max_free_energy_step`` (kT); False: on the given nodes only.
    max_free_energy_step : float, optional
        Refinement criterion (kT); 0.1 kT keeps the MFPT within about 0.1 % of the
        exact integral.

    Returns
    -------
    float
        log(MFPT / ps).
    """
    grid = np.asarray(grid, dtype=float)
    free_energy = np.asarray(free_energy, dtype=float)
    diffusion = np.broadcast_to(np.asarray(diffusion, dtype=float), free_energy.shape)
    check_nodes(grid, free_energy, diffusion)
    if start == target:
        return -np.inf
    if refine:
        counts = subdivisions(grid, free_energy, diffusion, max_free_energy_step)
        index = np.concatenate([[0], np.cumsum(counts)])
        grid, free_energy, diffusion = refine_table(grid, free_energy, diffusion, counts)
        start, target = int(index[start]), int(index[target])
    if target < start:
        last = grid.size - 1
        grid, free_energy, diffusion = -grid[::-1], free_energy[::-1], diffusion[::-1]
        start, target = last - start, last - target
    grid = np.ascontiguousarray(grid)
    return float(_log_flux_recursion(
        np.ascontiguousarray(free_energy), np.ascontiguousarray(np.log(diffusion)), grid,
        cell_widths(grid), int(start), int(target)))


def mfpt_fokker_planck(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: int,
    target: int,
    refine: bool = True,
) -> float:
    """Mean first-passage time of the discrete Fokker-Planck process (ps).

    See :func:`log_mfpt_fokker_planck`; may overflow to inf beyond about 700 kT.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    start, target : int
        Grid indices.
    refine : bool, optional
        Refine the interpolant first (default).

    Returns
    -------
    float
        MFPT (ps).
    """
    if start == target:
        return 0.0
    return float(np.exp(log_mfpt_fokker_planck(grid, free_energy, diffusion, start, target, refine)))


@numba.njit(cache=True)
def _propagate(
    probability, basis, coefficients, log_d_rise, left_conductance, right_conductance, widths,
    time_step, observables, out
):
    """Backward-Euler steps of the driven equation; observables recorded after each step."""
    n = probability.size
    n_basis = basis.shape[0]
    free_energy = np.empty(n)
    up = np.empty(n - 1)
    down = np.empty(n - 1)
    a = np.empty(n)
    b = np.empty(n)
    c = np.empty(n)
    cp = np.empty(n)
    dp = np.empty(n)
    for k in range(coefficients.shape[0]):
        for i in range(n):
            value = basis[0, i]
            for m in range(1, n_basis):
                value += coefficients[k, m] * basis[m, i]
            free_energy[i] = value
        _fill_rates(free_energy, log_d_rise, left_conductance, right_conductance, widths, up, down)
        # (I - dt W) P_new = P_old, W tridiagonal: a sub, c super. Thomas elimination with
        # the pivots written as dt up_i + s_i, s_0 = 1, s_i = 1 + dt down_{i-1} s_{i-1} / pivot_{i-1}:
        # sums of positive terms, so no cancellation even when dt W is huge (columns of W sum
        # to zero and I - dt W is then nearly singular).
        excess = 1.0
        for i in range(n):
            a[i] = -time_step * up[i - 1] if i > 0 else 0.0
            c[i] = -time_step * down[i] if i < n - 1 else 0.0
            if i > 0:
                excess = 1.0 + time_step * down[i - 1] * excess / b[i - 1]
            b[i] = excess + (time_step * up[i] if i < n - 1 else 0.0)  # the pivot
            cp[i] = c[i] / b[i]
            dp[i] = (probability[i] - (a[i] * dp[i - 1] if i > 0 else 0.0)) / b[i]
        probability[n - 1] = dp[n - 1]
        for i in range(n - 2, -1, -1):
            probability[i] = dp[i] - cp[i] * probability[i + 1]
        total = 0.0
        for i in range(n):
            probability[i] = max(probability[i], 0.0)
            total += probability[i]
        for i in range(n):
            probability[i] /= total
        for q in range(observables.shape[0]):
            acc = 0.0
            for i in range(n):
                acc += observables[q, i] * probability[i]
            out[k, q] = acc


def propagate(
    grid: np.ndarray,
    free_energy_basis: np.ndarray,
    diffusion: np.ndarray,
    initial: np.ndarray,
    coefficients: np.ndarray,
    time_step: float,
    observables: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Propagate cell probabilities under a (possibly time-dependent) free energy.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy_basis : ndarray, shape (n_grid,) or (n_basis, n_grid)
        Omega_0 and the basis profiles Omega_m (kT).
    diffusion : ndarray, shape (n_grid,)
        D (molecules^2/ps).
    initial : ndarray, shape (n_grid,)
        Initial cell probabilities (summing to 1).
    coefficients : ndarray, shape (n_steps, n_basis)
        c_m at the end of each step (column 0 is ignored: Omega_0 always counts once).
    time_step : float
        Step (ps).
    observables : ndarray, shape (n_observables, n_grid)
        Functions of N whose averages are recorded after every step.

    Returns
    -------
    averages : ndarray, shape (n_steps, n_observables)
        Observable averages after each step.
    final : ndarray, shape (n_grid,)
        Cell probabilities at the end.
    """
    basis = np.ascontiguousarray(np.atleast_2d(np.asarray(free_energy_basis, dtype=float)))
    grid = np.asarray(grid, dtype=float)
    diffusion = np.asarray(diffusion, dtype=float)
    probability = np.array(initial, dtype=float)
    coefficients = np.ascontiguousarray(np.atleast_2d(np.asarray(coefficients, dtype=float)))
    if coefficients.shape[1] != basis.shape[0]:
        raise ValueError("coefficients need one column per basis profile")
    observables = np.ascontiguousarray(np.atleast_2d(np.asarray(observables, dtype=float)))
    out = np.empty((coefficients.shape[0], observables.shape[0]))
    _propagate(
        probability, basis, coefficients, *_interface_terms(grid, diffusion), cell_widths(grid),
        float(time_step), observables, out,
    )
    return out, probability
