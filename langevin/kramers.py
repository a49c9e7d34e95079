"""Overdamped (Smoluchowski) Kramers rate over a barrier."""

from __future__ import annotations

import math

import numpy as np


def local_curvature(grid: np.ndarray, free_energy: np.ndarray, index: int, half_width: float = 1.0) -> float:
    """Second derivative of the free energy at a grid point by a local quadratic fit.

    Parameters
    ----------
    grid : ndarray
        Grid (molecules).
    free_energy : ndarray
        Free energy (kT).
    index : int
        Grid index of the extremum.
    half_width : float, optional
        Half-width of the fitting window (molecules); at least two points each side
        (one side at a grid end).

    Returns
    -------
    float
        Omega'' (kT / molecule^2).
    """
    spacing = float(np.mean(np.diff(grid)))
    points = max(2, int(round(half_width / spacing)))
    lo = max(0, index - points)
    hi = min(grid.size, index + points + 1)
    x = grid[lo:hi] - grid[index]
    coeffs = np.polyfit(x, free_energy[lo:hi], 2)
    return 2.0 * float(coeffs[0])


def kramers_rate(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    minimum: int,
    barrier: int,
    half_width: float = 1.0,
) -> float:
    """Overdamped Kramers rate out of a minimum over a barrier.

    k = D_top sqrt(Omega''_min |Omega''_top|) / (2 pi) exp(-(Omega_top - Omega_min)),
    with Omega in kT (so beta = 1). A minimum at a reflecting grid end is half a
    harmonic well, which doubles the rate.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    minimum, barrier : int
        Grid indices of the starting minimum and of the barrier top.
    half_width : float, optional
        Half-width of the curvature fits (molecules).

    Returns
    -------
    float
        Rate (1/ps).
    """
    curvature_min = local_curvature(grid, free_energy, minimum, half_width)
    curvature_top = local_curvature(grid, free_energy, barrier, half_width)
    if curvature_min <= 0 or curvature_top >= 0:
        return float("nan")
    height = free_energy[barrier] - free_energy[minimum]
    prefactor = diffusion[barrier] * math.sqrt(curvature_min * -curvature_top) / (2.0 * math.pi)
    if minimum in (0, grid.size - 1):
        prefactor *= 2.0
    return prefactor * math.exp(-height)
