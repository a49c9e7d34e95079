"""The dry minimum, the wet minimum and the barrier top of a filling profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks


class BasinError(ValueError):
    """A profile without two distinct basins (give the basins explicitly)."""


@dataclass(frozen=True)
class Basins:
    """Grid indices of the dry minimum, the barrier top and the wet minimum.

    Attributes
    ----------
    dry, barrier, wet : int
        Grid indices, ``dry < barrier < wet``.
    """

    dry: int
    barrier: int
    wet: int

    def positions(self, grid: np.ndarray) -> tuple[float, float, float]:
        """N at the dry minimum, the barrier top and the wet minimum (molecules)."""
        return float(grid[self.dry]), float(grid[self.barrier]), float(grid[self.wet])


def find_basins(
    grid: np.ndarray,
    free_energy: np.ndarray,
    prominence: float = 0.5,
    dry: float | None = None,
    wet: float | None = None,
    barrier: float | None = None,
) -> Basins:
    """Locate the dry and wet minima and the barrier between them.

    The dry minimum is the lowest-N local minimum whose prominence exceeds
    ``prominence`` (grid ends count when the profile rises away from them), the wet
    minimum the highest-N one, and the barrier top the maximum in between. Any of the
    three can be given instead (in molecules; snapped to the grid).

    Parameters
    ----------
    grid : ndarray
        Grid (molecules).
    free_energy : ndarray
        Free energy (kT).
    prominence : float, optional
        Smallest depth (kT) of a minimum that counts as a basin.
    dry, wet, barrier : float, optional
        Overrides (molecules).

    Returns
    -------
    Basins

    Raises
    ------
    BasinError
        When fewer than two basins are found and none are given.
    """
    grid = np.asarray(grid, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    snap = lambda value: int(np.argmin(np.abs(grid - value)))  # noqa: E731
    if dry is None or wet is None:
        floor = float(np.min(-f)) - 10.0 * max(prominence, 1.0)
        padded = np.concatenate([[floor], -f, [floor]])
        peaks, _ = find_peaks(padded, prominence=prominence)
        minima = peaks - 1
        if dry is not None:
            minima = minima[minima > snap(dry)]
        if wet is not None:
            minima = minima[minima < snap(wet)]
        found = list(minima)
        if dry is None and wet is None and len(found) < 2:
            raise BasinError(
                f"found {len(found)} basin(s) deeper than {prominence:g} kT; the profile has "
                "no separate dry and wet minima here: give --dry/--wet (molecules) explicitly"
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
    return Basins(dry_index, barrier_index, wet_index)
