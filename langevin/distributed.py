"""Langevin ensembles as Dask tasks.

:func:`rate_arrays_dask` splits the rows (voltages) of a rate calculation into
one task each. Row i of :func:`langevin.rates.rate_arrays` draws from seeds
``seed + 2 i`` (wetting) and ``seed + 2 i + 1`` (drying), and each task is given
exactly those, so the result is identical to the sequential calculation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langevin.basins import Basins
from langevin.rates import rate_arrays


def _row(grid, free_energy, diffusion, basin, method, n_trajectories, seed, time_step,
         max_time) -> dict[str, np.ndarray]:
    return rate_arrays(grid, free_energy[None, :], diffusion[None, :], [basin], method=method,
                       n_trajectories=n_trajectories, seed=seed, time_step=time_step,
                       max_time=max_time)


def rate_arrays_dask(client: Any, grid: np.ndarray, free_energy: np.ndarray,
                     diffusion: np.ndarray, basins: Sequence[Basins], method: str = "langevin",
                     n_trajectories: int = 500, seed: int = 0, time_step: float | None = None,
                     max_time: float | None = None) -> dict[str, np.ndarray]:
    """:func:`langevin.rates.rate_arrays` with one Dask task per row.

    Parameters
    ----------
    client : dask.distributed.Client
    grid, free_energy, diffusion, basins, method, n_trajectories, seed, time_step, max_time
        As for :func:`langevin.rates.rate_arrays`; ``free_energy`` has shape
        (n_rows, n_grid) (kT), ``diffusion`` (n_rows, n_grid) or (n_grid,)
        (molecules^2/ps).

    Returns
    -------
    dict of str to ndarray
        ``k_wet``, ``k_dry`` (1/s) and, for ``langevin``, their standard errors.
    """
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))
    d = np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape)
    futures = [client.submit(_row, grid, f[i], np.ascontiguousarray(d[i]), basins[i], method,
                             n_trajectories, seed + 2 * i, time_step, max_time, pure=False)
               for i in range(f.shape[0])]
    rows = client.gather(futures)
    return {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
