"""The gauge of a profile: Omega = 0 at the dry minimum.

The dry minimum is the lowest-N basin minimum, found as in the kinetics stage
(:func:`langevin.basins.find_basins`: the lowest-N local minimum deeper than
``prominence``); a profile with a single basin is pinned at its global minimum.
"""

from __future__ import annotations

import numpy as np

from langevin.basins import BasinError, find_basins


def dry_minimum_index(n: np.ndarray, free_energy: np.ndarray, prominence: float = 0.5) -> int:
    """Grid index of the dry minimum.

    Parameters
    ----------
    n : ndarray
        Grid (molecules).
    free_energy : ndarray
        Omega (kT); NaN entries are ignored.
    prominence : float, optional
        Smallest depth (kT) of a minimum that counts as a basin.

    Returns
    -------
    int
    """
    n = np.asarray(n, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    finite = np.flatnonzero(np.isfinite(f))
    if finite.size == 0:
        raise ValueError("the profile has no finite values")
    try:
        return int(finite[find_basins(n[finite], f[finite], prominence=prominence).dry])
    except BasinError:
        return int(finite[np.argmin(f[finite])])


def apply_gauge(free_energy: np.ndarray, index: int) -> np.ndarray:
    """Shift profiles so that they vanish at grid index ``index``.

    Parameters
    ----------
    free_energy : ndarray, shape (..., n_grid)
        Omega (kT).
    index : int
        Gauge point.

    Returns
    -------
    ndarray
        Omega - Omega[..., index].
    """
    free_energy = np.asarray(free_energy, dtype=float)
    return free_energy - free_energy[..., index: index + 1]
