"""Overdamped Langevin dynamics of the pore's water count N on a free-energy profile.

High-level drivers around :func:`langevin.kernels.propagate_blocks`: tabulate the
drift and noise of a profile, run seeded ensembles (optionally driven by a
time-dependent free energy) and collect first-passage times. Times are in ps, the
profile's own time unit; convert with :mod:`nanopore.units` for SI output.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np
from tqdm.auto import tqdm

from langevin._random import seed_states
from langevin.kernels import propagate_blocks
from langevin.landscape import check_nodes, refine_uniform, subdivisions


@dataclass(frozen=True)
class DriftTables:
    """Tabulated drift and noise of the Euler-Maruyama step on a uniform grid.

    Attributes
    ----------
    grid : ndarray
        Uniform grid (molecules).
    time_step : float
        Time step dt (ps).
    drift_values, drift_slopes : ndarray, shape (n_basis, n_grid - 1)
        Drift times dt at the left node of each cell and its increment across the
        cell (molecules). Basis 0 carries the reference profile and the dD/dN term.
    amplitude_values, amplitude_slopes : ndarray, shape (n_grid - 1,)
        Noise amplitude sqrt(2 D dt) and its increment (molecules).
    """

    grid: np.ndarray
    time_step: float
    drift_values: np.ndarray
    drift_slopes: np.ndarray
    amplitude_values: np.ndarray
    amplitude_slopes: np.ndarray

    @property
    def n_basis(self) -> int:
        """Number of basis profiles."""
        return self.drift_values.shape[0]


def uniform_grid(n: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Resample arrays given on a (possibly non-uniform) grid onto a uniform one.

    Kept for callers outside the kinetics; the kinetic methods refine the
    profile's interpolant instead (:mod:`langevin.landscape`).

    Parameters
    ----------
    n : ndarray, shape (n_grid,)
        Strictly increasing grid.
    *arrays : ndarray, shape (..., n_grid)
        Arrays on ``n``.

    Returns
    -------
    tuple of ndarray
        The uniform grid (same end points and number of points) followed by the
        arrays interpolated linearly onto it; unchanged if already uniform.
    """
    n = np.asarray(n, dtype=float)
    spacing = np.diff(n)
    if np.allclose(spacing, spacing.mean(), rtol=1e-6, atol=0):
        return (n, *[np.asarray(a, dtype=float) for a in arrays])
    grid = np.linspace(n[0], n[-1], n.size)
    out = [grid]
    for a in arrays:
        a = np.asarray(a, dtype=float)
        flat = a.reshape(-1, a.shape[-1])
        out.append(np.stack([np.interp(grid, n, row) for row in flat]).reshape(a.shape))
    return tuple(out)


def build_tables(
    n: np.ndarray,
    free_energy_basis: np.ndarray,
    diffusion: np.ndarray,
    time_step: float,
    max_log_diffusion_step: float = 0.02,
) -> DriftTables:
    """Tabulate the Ito drift and noise of the profile's interpolant for Euler-Maruyama.

    The drift -D Omega' + D' of the interpolant (:mod:`langevin.landscape`) is a
    constant force per cell times D(N) (plus D ln D'); the tables hold it per cell
    of a uniform grid, exactly at every node and with D linear inside each table
    cell. The table grid is the profile's grid split into equal sub-cells until D
    changes by at most ``max_log_diffusion_step`` (relative) per sub-cell; a
    non-uniform profile grid is covered by a uniform one at least four times finer
    than its smallest spacing (the interpolant's kinks are then rounded over one
    table cell).

    Parameters
    ----------
    n : ndarray, shape (n_grid,)
        Grid of N (molecules).
    free_energy_basis : ndarray, shape (n_grid,) or (n_basis, n_grid)
        Free energy (kT), or basis profiles Omega_m whose combination
        Omega_0 + sum_{m>=1} c_m(t) Omega_m is the free energy at time t.
    diffusion : ndarray, shape (n_grid,)
        D(N) (molecules^2/ps).
    time_step : float
        dt (ps).
    max_log_diffusion_step : float, optional
        Largest change of ln D per table cell.

    Returns
    -------
    DriftTables
    """
    if not time_step > 0:
        raise ValueError(f"time step must be positive, got {time_step} ps")
    n = np.asarray(n, dtype=float)
    basis = np.atleast_2d(np.asarray(free_energy_basis, dtype=float))
    diffusion = np.asarray(diffusion, dtype=float)
    check_nodes(n, basis, diffusion)
    counts = subdivisions(n, np.zeros((1, n.size)), diffusion, np.inf, max_log_diffusion_step)
    spacing = np.diff(n)
    if not np.allclose(spacing, spacing.mean(), rtol=1e-9, atol=0):
        counts = np.maximum(counts, 4)
    grid, basis, diffusion = refine_uniform(n, basis, diffusion, counts)
    width = grid[1] - grid[0]
    force = -np.diff(basis, axis=1) / width  # constant per cell (kT per molecule)
    force[0] += np.diff(np.log(diffusion)) / width  # D' = D (ln D)'
    drift_left = force * diffusion[None, :-1] * time_step
    drift_right = force * diffusion[None, 1:] * time_step
    amplitude = np.sqrt(2.0 * diffusion * time_step)
    return DriftTables(
        grid=grid,
        time_step=float(time_step),
        drift_values=np.ascontiguousarray(drift_left),
        drift_slopes=np.ascontiguousarray(drift_right - drift_left),
        amplitude_values=np.ascontiguousarray(amplitude[:-1]),
        amplitude_slopes=np.ascontiguousarray(np.diff(amplitude)),
    )


def suggest_time_step(n: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray) -> float:
    """A time step that resolves the profile's features.

    The step is chosen so that both the diffusive step sqrt(2 D dt) and the drift
    step stay below a tenth of the profile's shortest length scale, taken as the
    larger of the grid spacing and 1 / sqrt(max |Omega''|) (Omega'' from the
    change of the interpolant's slope between neighbouring cells).

    Parameters
    ----------
    n : ndarray
        Grid (molecules).
    free_energy : ndarray, shape (n_grid,) or (n_basis, n_grid)
        Free energy (kT); for a basis, the reference row is used.
    diffusion : ndarray
        D(N) (molecules^2/ps).

    Returns
    -------
    float
        dt (ps).
    """
    n = np.asarray(n, dtype=float)
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))[0]
    d = np.asarray(diffusion, dtype=float)
    spacing = np.diff(n)
    slope = np.diff(f) / spacing  # the interpolant's force, per cell
    curvature = np.abs(np.diff(slope)) / (0.5 * (spacing[1:] + spacing[:-1])) if n.size > 2 else [0.0]
    length = max(float(np.min(spacing)),
                 1.0 / math.sqrt(max(float(np.max(curvature)), 1e-12)))
    length = min(length, float(n[-1] - n[0]) / 10.0)
    d_max = float(np.max(d))
    force_max = float(np.max(np.maximum(d[1:], d[:-1]) * np.abs(slope))) + 1e-300
    step = 0.1 * length
    return min(step**2 / (2.0 * d_max), step / force_max)


class LangevinBudgetError(RuntimeError):
    """A Langevin run stopped at its step or wall-time budget before its trajectories finished."""


@dataclass
class LangevinRun:
    """Result of a Langevin ensemble.

    Attributes
    ----------
    block_times : ndarray, shape (n_blocks,)
        Time at the end of each recorded block (ps).
    positions : ndarray, shape (n_trajectories, n_blocks)
        N at those times (molecules); NaN after absorption.
    passage_times : ndarray, shape (n_trajectories,)
        Time of absorption (ps); NaN for trajectories never absorbed.
    final_positions : ndarray, shape (n_trajectories,)
        N at the end (or at absorption).
    """

    block_times: np.ndarray
    positions: np.ndarray
    passage_times: np.ndarray
    final_positions: np.ndarray


def run_ensemble(
    tables: DriftTables,
    initial: np.ndarray | float,
    n_blocks: int,
    steps_per_block: int,
    seed: int,
    n_trajectories: int | None = None,
    coefficients: np.ndarray | None = None,
    absorb_below: float = -np.inf,
    absorb_above: float = np.inf,
    progress: bool = False,
    description: str = "Langevin",
) -> LangevinRun:
    """Run an ensemble of overdamped Langevin trajectories.

    Parameters
    ----------
    tables : DriftTables
        Drift and noise tables (:func:`build_tables`).
    initial : float or ndarray, shape (n_trajectories,)
        Starting N (molecules).
    n_blocks : int
        Number of recorded blocks.
    steps_per_block : int
        Time steps per block; positions are recorded at block ends.
    seed : int
        Seed; trajectory j always gets the same stream for a given seed.
    n_trajectories : int, optional
        Needed when ``initial`` is a scalar.
    coefficients : ndarray, shape (n_blocks, n_basis), optional
        Coefficients c_m of the basis profiles per block; column 0 must be 1.
        Default: the reference profile only.
    absorb_below, absorb_above : float, optional
        Absorbing targets (molecules); trajectories stop on reaching them.
    progress : bool, optional
        Show a progress bar.
    description : str, optional
        Progress-bar label.

    Returns
    -------
    LangevinRun
    """
    x = np.array(np.broadcast_to(np.asarray(initial, dtype=float),
                                 (n_trajectories,) if np.ndim(initial) == 0 else np.shape(initial)))
    if x.ndim != 1 or x.size == 0:
        raise ValueError("give at least one initial position (or n_trajectories with a scalar)")
    grid = tables.grid
    if np.any(x < grid[0]) or np.any(x > grid[-1]):
        raise ValueError(f"initial positions must lie on the grid [{grid[0]:g}, {grid[-1]:g}]")
    if coefficients is None:
        coefficients = np.ones((n_blocks, 1))
    coefficients = np.ascontiguousarray(np.asarray(coefficients, dtype=float))
    if coefficients.shape != (n_blocks, tables.n_basis):
        raise ValueError(
            f"coefficients must have shape (n_blocks, n_basis) = ({n_blocks}, {tables.n_basis}),"
            f" got {coefficients.shape}"
        )
    if not np.allclose(coefficients[:, 0], 1.0):
        raise ValueError("coefficient of the reference profile (column 0) must be 1")
    states = seed_states(np.uint64(seed), 0, x.size)
    passage = np.full(x.size, -1, dtype=np.int64)
    records = np.empty((x.size, n_blocks), dtype=np.float32)
    spacing = grid[1] - grid[0]
    chunk = max(1, min(n_blocks, int(2e7 // max(1, x.size * steps_per_block)) or 1))
    with tqdm(total=n_blocks, disable=not progress, desc=description, unit="block") as bar:
        for start in range(0, n_blocks, chunk):
            stop = min(n_blocks, start + chunk)
            propagate_blocks(
                x, states, passage, grid[0], 1.0 / spacing,
                tables.drift_values, tables.drift_slopes,
                tables.amplitude_values, tables.amplitude_slopes,
                coefficients[start:stop], start * steps_per_block, steps_per_block,
                grid[0], grid[-1],
                float(absorb_below), float(absorb_above), records[:, start:stop],
            )
            bar.update(stop - start)
            if np.all(passage >= 0):
                records[:, stop:] = np.nan
                break
    passage_times = np.where(passage >= 0, passage * tables.time_step, np.nan)
    block_times = (np.arange(n_blocks) + 1) * steps_per_block * tables.time_step
    return LangevinRun(block_times, records, passage_times, x)


def first_passage_times(
    n: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    start: float,
    target: float,
    n_trajectories: int,
    seed: int,
    time_step: float | None = None,
    max_time: float | None = None,
    progress: bool = False,
    max_steps: float | None = None,
    deadline: float | None = None,
    bar: tqdm | None = None,
) -> np.ndarray:
    """First-passage times from ``start`` to ``target`` by Langevin dynamics.

    The wall beyond ``start`` (away from the target) reflects; the target absorbs.

    Parameters
    ----------
    n, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    start, target : float
        Start and absorbing target (molecules).
    n_trajectories : int
        Ensemble size.
    seed : int
        Seed.
    time_step : float, optional
        dt (ps); default :func:`suggest_time_step`.
    max_time : float, optional
        Simulated time after which to give up (ps); unfinished trajectories give
        NaN. Default: no limit of this kind.
    progress : bool, optional
        Show a progress bar of finished trajectories (ignored when ``bar`` is given).
    max_steps : float, optional
        Budget of trajectory-steps (all trajectories together); default 1e12.
    deadline : float, optional
        ``time.monotonic()`` value at which to stop.
    bar : tqdm, optional
        A progress bar to advance by one per finished trajectory.

    Returns
    -------
    ndarray, shape (n_trajectories,)
        First-passage times (ps); NaN where the target was not reached within ``max_time``.

    Raises
    ------
    LangevinBudgetError
        When the step budget or the deadline runs out first.
    """
    if time_step is None:
        time_step = suggest_time_step(n, free_energy, diffusion)
    tables = build_tables(n, free_energy, diffusion, time_step)
    steps_per_block = 10_000
    budget = 1e12 if max_steps is None else float(max_steps)
    limit_blocks = (np.inf if max_time is None
                    else max(1, int(math.ceil(max_time / time_step / steps_per_block))))
    if target > start:
        below, above = -np.inf, target
    else:
        below, above = target, np.inf
    x = np.full(n_trajectories, float(start))
    states = seed_states(np.uint64(seed), 0, n_trajectories)
    passage = np.full(n_trajectories, -1, dtype=np.int64)
    grid = tables.grid
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=n_trajectories, disable=not progress, desc="first passages")
    done = 0
    used = 0.0
    finished = 0
    try:
        while done < limit_blocks and np.any(passage < 0):
            live = int(np.sum(passage < 0))
            if used >= budget or (deadline is not None and time.monotonic() >= deadline):
                reason = (f"the step budget of {budget:.3g} trajectory-steps" if used >= budget
                          else "the wall-time limit")
                raise LangevinBudgetError(
                    f"Langevin stopped at {reason} with {live} of {n_trajectories} trajectories "
                    f"still on their way after {done * steps_per_block * time_step:.3g} ps "
                    f"(dt = {time_step:.3g} ps): the rate is too slow for brute force; use "
                    "--method exact (or fokker-planck), which are exact at any barrier"
                )
            # about 2e7 trajectory-steps per call: a live progress bar, prompt limits
            blocks = max(1, int(2e7 // (live * steps_per_block)))
            blocks = int(min(blocks, limit_blocks - done,
                             max(1, (budget - used) // (live * steps_per_block) + 1)))
            propagate_blocks(
                x, states, passage, grid[0], 1.0 / (grid[1] - grid[0]),
                tables.drift_values, tables.drift_slopes,
                tables.amplitude_values, tables.amplitude_slopes,
                np.ones((blocks, 1)), done * steps_per_block, steps_per_block,
                grid[0], grid[-1], below, above,
                np.empty((n_trajectories, blocks), dtype=np.float32),
            )
            done += blocks
            used += float(live) * blocks * steps_per_block
            now = int(np.sum(passage >= 0))
            bar.update(now - finished)
            finished = now
    finally:
        if own_bar:
            bar.close()
    return np.where(passage >= 0, passage * time_step, np.nan)


def set_threads(n_threads: int | None) -> int:
    """Set the number of threads used by the kernels; returns the number in use."""
    if n_threads:
        numba.set_num_threads(int(n_threads))
    return numba.get_num_threads()
