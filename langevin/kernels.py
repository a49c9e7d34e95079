"""Numba kernels of the overdamped Langevin integrator in N.

The Ito equation

    dN = [-D(N) dOmega/dN + dD/dN] dt + sqrt(2 D(N)) dW        (Omega in kT)

is advanced by Euler-Maruyama on tabulated, linearly interpolated drift and noise
amplitude, with reflecting walls at the grid ends and optional absorbing targets.
The free energy may change in time as a linear combination of basis profiles,
Omega(N, t) = sum_m c_m(t) Omega_m(N), with the coefficients constant over one
block of steps. Trajectories run in parallel (``prange``); each owns its random
stream, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

from langevin._random import ZIGGURAT_EDGES, ZIGGURAT_HEIGHTS, next_normal


@numba.njit(parallel=True, cache=True, fastmath=False)
def propagate_blocks(
    positions,
    states,
    passage_steps,
    grid_start,
    inverse_spacing,
    drift_values,
    drift_slopes,
    amplitude_values,
    amplitude_slopes,
    coefficients,
    step_offset,
    steps_per_block,
    lower_wall,
    upper_wall,
    absorb_below,
    absorb_above,
    records,
):
    """Advance every live trajectory through a range of blocks, in place.

    Parameters
    ----------
    positions : float64[n_traj]
        Current N of each trajectory; updated.
    states : uint64[n_traj, 4]
        xoshiro256** state per trajectory; updated.
    passage_steps : int64[n_traj]
        -1 while a trajectory is live; set to the global step count at which it
        crossed an absorbing target.
    grid_start, inverse_spacing : float
        First grid point and 1 / spacing (uniform grid).
    drift_values, drift_slopes : float64[n_basis, n_grid - 1]
        Per-cell value at the left node and increment across the cell of each
        basis drift, already multiplied by dt (molecules per step).
    amplitude_values, amplitude_slopes : float64[n_grid - 1]
        The same for the noise amplitude sqrt(2 D dt) (molecules).
    coefficients : float64[n_blocks, n_basis]
        Basis coefficients of each block run by this call.
    step_offset : int
        Global step count before this call (for passage times).
    steps_per_block : int
        Steps per block.
    lower_wall, upper_wall : float
        Reflecting walls (molecules).
    absorb_below, absorb_above : float
        A trajectory stops when N <= absorb_below or N >= absorb_above
        (use -inf / +inf to disable).
    records : float32[n_traj, n_blocks]
        N at the end of each block (NaN once absorbed); filled. Its second
        dimension sets the number of blocks run.
    """
    n_traj = positions.shape[0]
    n_blocks = records.shape[1]
    n_basis = drift_values.shape[0]
    last_cell = drift_values.shape[1] - 1
    edges = ZIGGURAT_EDGES
    heights = ZIGGURAT_HEIGHTS
    for j in numba.prange(n_traj):
        x = positions[j]
        s0 = states[j, 0]
        s1 = states[j, 1]
        s2 = states[j, 2]
        s3 = states[j, 3]
        passage = passage_steps[j]
        for b in range(n_blocks):
            if passage >= 0:
                records[j, b] = np.nan
                continue
            c0 = coefficients[b, 0]
            for step in range(steps_per_block):
                u = (x - grid_start) * inverse_spacing
                cell = int(u)
                if cell > last_cell:
                    cell = last_cell
                elif cell < 0:
                    cell = 0
                frac = u - cell
                drift = c0 * (drift_values[0, cell] + frac * drift_slopes[0, cell])
                for m in range(1, n_basis):
                    drift += coefficients[b, m] * (
                        drift_values[m, cell] + frac * drift_slopes[m, cell]
                    )
                amplitude = amplitude_values[cell] + frac * amplitude_slopes[cell]
                z, s0, s1, s2, s3 = next_normal(s0, s1, s2, s3, edges, heights)
                x += drift + amplitude * z
                if x < lower_wall:
                    x = 2.0 * lower_wall - x
                    if x > upper_wall:
                        x = upper_wall
                elif x > upper_wall:
                    x = 2.0 * upper_wall - x
                    if x < lower_wall:
                        x = lower_wall
                if x <= absorb_below or x >= absorb_above:
                    passage = step_offset + b * steps_per_block + step + 1
                    break
            records[j, b] = x if passage < 0 else np.nan
        positions[j] = x
        passage_steps[j] = passage
        states[j, 0] = s0
        states[j, 1] = s1
        states[j, 2] = s2
        states[j, 3] = s3
