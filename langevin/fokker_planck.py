"""Fokker-Planck (Smoluchowski) equation for p(N, t) by finite volumes.

    dp/dt = d/dN [ D exp(-Omega) d/dN ( exp(Omega) p ) ]        (Omega in kT)

Each grid point owns a cell (half cells at the ends, reflecting walls). The flux
between neighbouring cells uses the Scharfetter-Gummel form, exact for a constant
force across the interface, so the discrete equilibrium is exp(-Omega) on the grid
to round-off. The result is a continuous-time master equation with rates

    W[i+1, i] = D_{i+1/2} B(+dOmega) / (h_i w_i),  W[i, i+1] = D_{i+1/2} B(-dOmega) / (h_i w_{i+1}),

B(x) = x / (exp(x) - 1), h the node spacing and w the cell width. Time stepping
is implicit (backward Euler), and Omega may change in time as
Omega_0 + sum_m c_m(t) Omega_m.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.linalg import solve_banded


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
def _fill_rates(free_energy, conductance_half, widths, up, down):
    """Hopping rates up (i -> i+1) and down (i+1 -> i) across each interface."""
    for i in range(up.size):
        delta = free_energy[i + 1] - free_energy[i]
        up[i] = conductance_half[i] * _bernoulli(delta) / widths[i]
        down[i] = conductance_half[i] * _bernoulli(-delta) / widths[i + 1]


def transition_rates(grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray):
    """Rates of the discretised Fokker-Planck equation.

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
    diffusion = np.asarray(diffusion, dtype=float)
    conductance_half = 0.5 * (diffusion[1:] + diffusion[:-1]) / np.diff(grid)
    up = np.empty(grid.size - 1)
    down = np.empty(grid.size - 1)
    _fill_rates(np.asarray(free_energy, dtype=float), conductance_half, cell_widths(grid), up, down)
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


def mfpt_fokker_planck(
    grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray, start: int, target: int
) -> float:
    """Mean first-passage time of the discrete Fokker-Planck process.

    Solves the backward equation sum_j W[j, i] tau_j = -1 on the cells between the
    reflecting end and the absorbing target cell.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    start, target : int
        Grid indices.

    Returns
    -------
    float
        MFPT (ps).
    """
    if start == target:
        return 0.0
    if target < start:
        last = grid.size - 1
        return mfpt_fokker_planck(
            -np.asarray(grid)[::-1], np.asarray(free_energy)[::-1], np.asarray(diffusion)[::-1],
            last - start, last - target,
        )
    up, down = transition_rates(grid, free_energy, diffusion)
    m = target  # transient cells 0 .. target-1
    # backward operator: (L tau)_i = up_i (tau_{i+1} - tau_i) + down_{i-1} (tau_{i-1} - tau_i)
    diag = -up[:m].copy()
    diag[1:] -= down[: m - 1]
    upper = up[: m - 1]
    lower = down[: m - 1]
    banded = np.zeros((3, m))
    banded[0, 1:] = upper
    banded[1] = diag
    banded[2, :-1] = lower
    tau = solve_banded((1, 1), banded, -np.ones(m))
    return float(tau[start])


@numba.njit(cache=True)
def _propagate(
    probability, basis, coefficients, conductance_half, widths, time_step, observables, out
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
        _fill_rates(free_energy, conductance_half, widths, up, down)
        # (I - dt W) P_new = P_old, W tridiagonal: a sub, b diag, c super
        for i in range(n):
            b[i] = 1.0
            a[i] = 0.0
            c[i] = 0.0
        for i in range(n - 1):
            b[i] += time_step * up[i]
            b[i + 1] += time_step * down[i]
            a[i + 1] = -time_step * up[i]
            c[i] = -time_step * down[i]
        cp[0] = c[0] / b[0]
        dp[0] = probability[0] / b[0]
        for i in range(1, n):
            denominator = b[i] - a[i] * cp[i - 1]
            cp[i] = c[i] / denominator
            dp[i] = (probability[i] - a[i] * dp[i - 1]) / denominator
        probability[n - 1] = dp[n - 1]
        for i in range(n - 2, -1, -1):
            probability[i] = dp[i] - cp[i] * probability[i + 1]
        total = 0.0
        for i in range(n):
            if probability[i] < 0.0:
                probability[i] = 0.0
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
    conductance_half = 0.5 * (diffusion[1:] + diffusion[:-1]) / np.diff(grid)
    _propagate(
        probability, basis, coefficients, conductance_half, cell_widths(grid),
        float(time_step), observables, out,
    )
    return out, probability
