"""Overdamped (Smoluchowski) Kramers rate over a barrier.

k = D_top sqrt(|Omega''_top| / (2 pi)) exp(-(Omega_top - Omega_min)) / Z_min (Omega in kT),
with Z_min the partition function of the starting well in the local quadratic
approximation: sqrt(2 pi / Omega''_min) for an interior minimum, which gives the
familiar D_top sqrt(Omega''_min |Omega''_top|) / (2 pi) exp(-dOmega); a truncated
Gaussian for a minimum at a reflecting grid end (half a harmonic well doubles the
rate; a well that rises linearly from the wall has Z = 1 / slope). Curvatures and
slopes are quadratic fits to the tabulated points (the nodes of the toolkit's
interpolant) near each extremum.

The formula needs a barrier well above kT and parabolic extrema; where it cannot
apply, :class:`KramersError` says why instead of returning a number.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx

#: Smallest barrier (kT) for which the formula is used; its error grows like 1 / barrier.
MIN_BARRIER = 5.0


class KramersError(ValueError):
    """Kramers' formula does not apply to this profile (the message says why)."""


def local_fit(
    grid: np.ndarray, free_energy: np.ndarray, index: int, half_width: float = 1.0
) -> tuple[float, float]:
    """Slope and curvature of the free energy at a grid point by a local quadratic fit.

    Parameters
    ----------
    grid : ndarray
        Grid (molecules).
    free_energy : ndarray
        Free energy (kT).
    index : int
        Grid index.
    half_width : float, optional
        Half-width of the fitting window (molecules); at least two points each side
        (one side at a grid end, where the window is twice as wide).

    Returns
    -------
    slope : float
        Omega' (kT / molecule).
    curvature : float
        Omega'' (kT / molecule^2).
    """
    grid = np.asarray(grid, dtype=float)
    spacing = float(np.mean(np.diff(grid)))
    points = max(2, int(round(half_width / spacing)))
    if index == 0:
        lo, hi = 0, min(grid.size, 2 * points + 1)
    elif index == grid.size - 1:
        lo, hi = max(0, grid.size - 2 * points - 1), grid.size
    else:
        lo, hi = max(0, index - points), min(grid.size, index + points + 1)
    if hi - lo < 3:
        raise KramersError("fewer than three grid points near the extremum; use --method exact")
    x = grid[lo:hi] - grid[index]
    coeffs = np.polyfit(x, np.asarray(free_energy, dtype=float)[lo:hi], 2)
    return float(coeffs[1]), 2.0 * float(coeffs[0])


def local_curvature(grid: np.ndarray, free_energy: np.ndarray, index: int, half_width: float = 1.0) -> float:
    """Second derivative of the free energy at a grid point by a local quadratic fit (kT/molecule^2)."""
    return local_fit(grid, free_energy, index, half_width)[1]


def well_partition_function(
    grid: np.ndarray, free_energy: np.ndarray, minimum: int, half_width: float = 1.0
) -> float:
    """int over the well of exp(-(Omega - Omega_min)) in the local quadratic approximation.

    Parameters
    ----------
    grid, free_energy : ndarray
        Grid (molecules) and free energy (kT).
    minimum : int
        Grid index of the minimum (interior, or a reflecting grid end).
    half_width : float, optional
        Half-width of the fit (molecules).

    Returns
    -------
    float
        Z (molecules).

    Raises
    ------
    KramersError
        If the profile is not a well there.
    """
    slope, curvature = local_fit(grid, free_energy, minimum, half_width)
    where = f"N = {float(grid[minimum]):g}"
    at_end = minimum in (0, len(grid) - 1)
    if not at_end:
        if curvature <= 0:
            raise KramersError(
                f"the minimum at {where} is not a parabolic well (fitted curvature "
                f"{curvature:.3g} kT per molecule^2 over +-{half_width:g} molecules): the profile is "
                "too rough there for Kramers' formula; use --method exact"
            )
        return math.sqrt(2.0 * math.pi / curvature)
    rise = slope if minimum == 0 else -slope  # slope away from the wall
    if rise < 0 and (curvature <= 0 or -rise / math.sqrt(curvature) > 1.0):
        raise KramersError(
            f"the minimum at the grid end ({where}) does not rise away from the wall (fitted "
            f"slope {rise:.3g} kT per molecule into the grid): the well lies inside or beyond "
            "the grid; use --method exact"
        )
    if curvature > 0:
        scale = math.sqrt(2.0 * curvature)
        return float(math.sqrt(math.pi / (2.0 * curvature)) * erfcx(rise / scale))
    if rise > 0:
        return 1.0 / rise
    raise KramersError(
        f"the minimum at the grid end ({where}) does not rise away from the wall: "
        "Kramers' formula needs a well; use --method exact"
    )


def kramers_rate(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    minimum: int,
    barrier: int,
    half_width: float = 1.0,
    min_barrier: float = MIN_BARRIER,
) -> float:
    """Overdamped Kramers rate out of a minimum over a barrier.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    minimum, barrier : int
        Grid indices of the starting minimum and of the barrier top.
    half_width : float, optional
        Half-width of the curvature fits (molecules).
    min_barrier : float, optional
        Smallest barrier (kT) accepted.

    Returns
    -------
    float
        Rate (1/ps).

    Raises
    ------
    KramersError
        When the barrier is too low, or the barrier top or the well is not parabolic.
    """
    grid = np.asarray(grid, dtype=float)
    free_energy = np.asarray(free_energy, dtype=float)
    height = float(free_energy[barrier] - free_energy[minimum])
    if height < min_barrier:
        raise KramersError(
            f"the barrier from N = {grid[minimum]:g} is {height:.3g} kT, below the "
            f"{min_barrier:g} kT Kramers' formula needs (its error grows like 1/barrier); "
            "use --method exact"
        )
    if barrier in (0, grid.size - 1):
        raise KramersError("the barrier top lies at a grid end; use --method exact")
    _, curvature_top = local_fit(grid, free_energy, barrier, half_width)
    if curvature_top >= 0:
        raise KramersError(
            f"the barrier top at N = {grid[barrier]:g} is not a parabolic maximum (fitted "
            f"curvature {curvature_top:.3g} kT per molecule^2 over +-{half_width:g} molecules): the "
            "profile is too rough there for Kramers' formula; use --method exact"
        )
    well = well_partition_function(grid, free_energy, minimum, half_width)
    prefactor = float(diffusion[barrier]) * math.sqrt(-curvature_top / (2.0 * math.pi)) / well
    return prefactor * math.exp(-height)
