"""The dry minimum, the wet minimum and the barrier top of a filling profile.

A minimum counts as a basin only if it stands out from the profile by more than
its error: its depth (prominence: the rise to the lower of the two barriers that
separate it from deeper ground) must exceed both a floor (``prominence``, kT) and
``sigmas`` standard errors of that depth. The error of a depth
Omega(top) - Omega(min) comes from bootstrap replicate profiles when given (their
spread of the difference, which keeps the correlation of the two points), else from
the standard errors ``free_energy_error`` as sqrt(e_top^2 + e_min^2) (independent
errors: the conservative choice for positively correlated ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Default number of standard errors by which a basin's depth must exceed its error.
BASIN_SIGMAS = 2.0


class BasinError(ValueError):
    """A profile without two distinct basins (give the basins explicitly)."""


@dataclass(frozen=True)
class Basins:
    """Grid indices of the dry minimum, the barrier top and the wet minimum.

    Attributes
    ----------
    dry, barrier, wet : int
        Grid indices, ``dry < barrier < wet``.
    barrier_wetting_error, barrier_drying_error : float
        Standard errors (kT) of Omega(top) - Omega(dry) and Omega(top) - Omega(wet);
        NaN when the profile has no errors.
    borrowed : bool
        True when the profile has no separate dry and wet basins of its own and
        these are another profile's (:func:`langevin.rates.basins_for_rows`).
    """

    dry: int
    barrier: int
    wet: int
    barrier_wetting_error: float = math.nan
    barrier_drying_error: float = math.nan
    borrowed: bool = False

    def positions(self, grid: np.ndarray) -> tuple[float, float, float]:
        """N at the dry minimum, the barrier top and the wet minimum (molecules)."""
        return float(grid[self.dry]), float(grid[self.barrier]), float(grid[self.wet])


def difference_error(
    i: np.ndarray | int,
    j: np.ndarray | int,
    error: np.ndarray | None = None,
    replicates: np.ndarray | None = None,
) -> np.ndarray:
    """Standard error (kT) of Omega[i] - Omega[j].

    Parameters
    ----------
    i, j : int or ndarray of int
        Grid indices.
    error : ndarray, shape (n_grid,), optional
        Standard errors of the profile (kT), taken as independent.
    replicates : ndarray, shape (n_replicates, n_grid), optional
        Bootstrap replicate profiles (kT); preferred over ``error``.

    Returns
    -------
    ndarray
        Standard errors (kT); NaN when neither source is given.
    """
    i, j = np.asarray(i), np.asarray(j)
    if replicates is not None and replicates.shape[0] > 1:
        return np.std(replicates[:, i] - replicates[:, j], axis=0, ddof=1)
    if error is not None:
        error = np.asarray(error, dtype=float)
        return np.hypot(error[i], error[j])
    return np.full(np.broadcast(i, j).shape, np.nan)


def prominent_peaks(values: np.ndarray, prominence: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of a sequence and their topographic prominence.

    A maximum's prominence is its height above the higher of its two bases, the
    lowest points between it and the nearest higher point on each side (or the
    end of the sequence). A flat maximum is placed at its middle sample (the left
    one of the two middle samples). Same definitions as ``scipy.signal.find_peaks``
    with ``prominence``, without importing ``scipy.signal`` (over a second of
    start-up for every command that finds basins).

    Parameters
    ----------
    values : ndarray
        The sequence (any units; here -Omega in kT).
    prominence : float
        Smallest prominence kept (units of ``values``).

    Returns
    -------
    peaks, prominences, left_bases, right_bases : ndarray
        Indices of the maxima kept, their prominences and the indices of their
        left and right bases.
    """
    x = np.asarray(values, dtype=float)
    peaks = []
    i, last = 1, x.size - 1
    while i < last:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < last and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    found, heights, lefts, rights = [], [], [], []
    for peak in peaks:
        left_base, left_min = peak, x[peak]
        j = peak
        while j >= 0 and x[j] <= x[peak]:
            if x[j] < left_min:
                left_min, left_base = x[j], j
            j -= 1
        right_base, right_min = peak, x[peak]
        j = peak
        while j < x.size and x[j] <= x[peak]:
            if x[j] < right_min:
                right_min, right_base = x[j], j
            j += 1
        height = x[peak] - max(left_min, right_min)
        if height >= prominence:
            found.append(peak)
            heights.append(height)
            lefts.append(left_base)
            rights.append(right_base)
    return (np.array(found, dtype=int), np.array(heights, dtype=float),
            np.array(lefts, dtype=int), np.array(rights, dtype=int))


def find_basins(
    grid: np.ndarray,
    free_energy: np.ndarray,
    prominence: float = 0.5,
    dry: float | None = None,
    wet: float | None = None,
    barrier: float | None = None,
    error: np.ndarray | None = None,
    replicates: np.ndarray | None = None,
    sigmas: float = BASIN_SIGMAS,
) -> Basins:
    """Locate the dry and wet minima and the barrier between them.

    The dry minimum is the lowest-N local minimum that stands out (see the module
    docstring; grid ends count when the profile rises away from them), the wet
    minimum the highest-N one, and the barrier top the maximum in between. Any of
    the three can be given instead (in molecules; snapped to the grid).

    Parameters
    ----------
    grid : ndarray
        Grid (molecules).
    free_energy : ndarray
        Free energy (kT).
    prominence : float, optional
        Smallest depth (kT) of a minimum that counts as a basin, whatever its error.
    dry, wet, barrier : float, optional
        Overrides (molecules).
    error : ndarray, optional
        Standard error of ``free_energy`` (kT).
    replicates : ndarray, shape (n_replicates, n_grid), optional
        Bootstrap replicate profiles (kT).
    sigmas : float, optional
        A basin's depth must exceed this many standard errors.

    Returns
    -------
    Basins
        With the standard errors of the two barrier heights.

    Raises
    ------
    BasinError
        When fewer than two basins are found and none are given.
    """
    grid = np.asarray(grid, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    if error is not None:
        error = np.asarray(error, dtype=float)
    if replicates is not None:
        replicates = np.atleast_2d(np.asarray(replicates, dtype=float))
    snap = lambda value: int(np.argmin(np.abs(grid - value)))
    if dry is None or wet is None:
        floor = float(np.min(-f)) - 10.0 * max(prominence, 1.0)
        padded = np.concatenate([[floor], -f, [floor]])
        peaks, depth, left, right = prominent_peaks(padded, prominence)  # floor, then errors
        # The depth is measured to the lower of the two barriers (higher -f); a base
        # on the padding means the minimum is the deepest on that side.
        base = np.where(padded[left] > padded[right], left, right) - 1
        minima = peaks - 1
        if (error is not None or replicates is not None) and minima.size:
            threshold = np.zeros(minima.size)
            inside = (base >= 0) & (base < f.size)
            if inside.any():
                sigma = difference_error(base[inside], minima[inside], error, replicates)
                sigma[~np.isfinite(sigma)] = 0.0
                threshold[inside] = sigmas * sigma
            minima = minima[depth > threshold]
        if dry is not None:
            minima = minima[minima > snap(dry)]
        if wet is not None:
            minima = minima[minima < snap(wet)]
        found = list(minima)
        evidence = " (depth beyond its error)" if error is not None or replicates is not None else ""
        if dry is None and wet is None and len(found) < 2:
            raise BasinError(
                f"found {len(found)} basin(s) deeper than {prominence:g} kT{evidence}; the "
                "profile has no separate dry and wet minima here: give --dry/--wet "
                "(molecules) explicitly"
            )
        if not found:
            raise BasinError("no basin found besides the one given; give both --dry and --wet")
        dry_index = snap(dry) if dry is not None else int(found[0])
        wet_index = snap(wet) if wet is not None else int(found[-1])
    else:
        dry_index, wet_index = snap(dry), snap(wet)
    if not dry_index < wet_index - 1:
        raise BasinError(
            f"dry minimum (N={grid[dry_index]:g}) must lie below the wet one "
            f"(N={grid[wet_index]:g}) with a grid point between them"
        )
    if barrier is not None:
        barrier_index = snap(barrier)
        if not dry_index < barrier_index < wet_index:
            raise BasinError("the barrier must lie between the dry and the wet minimum")
    else:
        barrier_index = dry_index + 1 + int(np.argmax(f[dry_index + 1 : wet_index]))
    if error is None and replicates is None:
        return Basins(dry_index, barrier_index, wet_index)
    return with_errors(Basins(dry_index, barrier_index, wet_index), error, replicates)


def with_errors(
    basins: Basins, error: np.ndarray | None = None, replicates: np.ndarray | None = None
) -> Basins:
    """The same basins with barrier-height errors from another profile's errors."""
    return Basins(
        basins.dry, basins.barrier, basins.wet,
        float(difference_error(basins.barrier, basins.dry, error, replicates)),
        float(difference_error(basins.barrier, basins.wet, error, replicates)),
    )
