"""Convergence check: the profile from the first half of every window against the second.

If the windows are equilibrated and long enough, the two halves give the same
profile within their errors: each half has about twice the variance of the whole,
so their difference has a standard deviation of about twice the full-data error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data import UmbrellaData
from analysis.estimator import Estimator
from analysis.gauge import apply_gauge


@dataclass(frozen=True)
class ConvergenceCheck:
    """First half against second half.

    Attributes
    ----------
    first, second : ndarray
        Profiles of the two halves (kT), zero at the gauge point, or at the
        nearest grid point that both halves reach when one leaves the gauge
        point empty; all NaN when they share no grid point.
    difference : ndarray
        second - first (kT).
    max_difference : float
        Largest |difference| on the grid (kT); NaN when the halves share no point.
    max_z : float
        Largest |difference| / (2 sigma) with sigma the full-data error.
    converged : bool
        Whether ``max_z`` is at most ``z_limit``.
    """

    first: np.ndarray
    second: np.ndarray
    difference: np.ndarray
    max_difference: float
    max_z: float
    converged: bool


def convergence_check(estimator: Estimator, data: UmbrellaData, gauge_index: int,
                      error: np.ndarray, z_limit: float = 4.0) -> ConvergenceCheck:
    """Compare the profiles of the two halves of the data.

    Parameters
    ----------
    estimator : Estimator
        The estimator used for the profile.
    data : UmbrellaData
        The samples the profile was computed from, in time order.
    gauge_index : int
        Grid index of the gauge point.
    error : ndarray
        Standard error of the full-data profile (kT).
    z_limit : float, optional
        Largest acceptable difference in units of its expected spread.

    Returns
    -------
    ConvergenceCheck
    """
    first_data, second_data = data.halves()
    first_raw = np.asarray(estimator.fit(first_data).free_energy, dtype=float)
    second_raw = np.asarray(estimator.fit(second_data).free_energy, dtype=float)
    # compare at the gauge point, or, when a half leaves it empty (a dry minimum at
    # the grid's edge reached by a few samples), at the nearest point both reach
    shared = np.flatnonzero(np.isfinite(first_raw) & np.isfinite(second_raw))
    if shared.size == 0:
        nothing = np.full(first_raw.shape, np.nan)
        return ConvergenceCheck(nothing, nothing, nothing, float("nan"), float("nan"), False)
    reference = int(shared[np.argmin(np.abs(shared - gauge_index))])
    first = apply_gauge(first_raw, reference)
    second = apply_gauge(second_raw, reference)
    difference = second - first
    spread = 2.0 * np.asarray(error, dtype=float)
    finite = np.isfinite(difference)
    max_difference = float(np.max(np.abs(difference[finite]))) if finite.any() else float("nan")
    usable = finite & (spread > 0)
    max_z = float(np.max(np.abs(difference[usable]) / spread[usable])) if usable.any() else float("nan")
    return ConvergenceCheck(first, second, difference, max_difference, max_z,
                            bool(np.isfinite(max_z) and max_z <= z_limit))
