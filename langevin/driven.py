"""A free energy driven in time, and its propagation by three levels of model.

A :class:`DrivenLandscape` is Omega(N; x) = sum_m c_m(x) Omega_m(N) for a drive x
(voltage, pressure), with c_0 = 1. The same drive protocol x(t) can be followed by

* the two-state master equation with exact rates k_wet(x), k_dry(x)
  (:func:`master_response`), valid when the barrier separates time scales;
* the Fokker-Planck equation for p(N, t) (:func:`fokker_planck_response`), exact
  for the one-dimensional diffusion model;
* an ensemble of Langevin trajectories (:func:`langevin_response`), the same
  model sampled, for checks and for observables beyond the mean.

Times are in seconds at this level; the profile's D is in molecules^2/ps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from langevin import fokker_planck
from langevin.basins import Basins
from langevin.langevin import build_tables, run_ensemble, suggest_time_step
from langevin.master import propagate_two_state
from langevin.mfpt import log_mfpt
from langevin.rates import basins_for_rows
from nanopore.units import PICOSECOND


@dataclass
class DrivenLandscape:
    """Free energy as a function of N and of a drive variable.

    Attributes
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules), uniform.
    basis : ndarray, shape (n_basis, n_grid)
        Basis profiles Omega_m (kT per unit of c_m).
    coefficients : callable
        Maps drive values, shape (k,), to coefficients, shape (k, n_basis); column 0
        must be 1.
    diffusion : ndarray, shape (n_grid,)
        D(N) (molecules^2/ps), constant in time.
    drive_name, drive_units : str
        E.g. ``"voltage"``, ``"V"``.
    """

    grid: np.ndarray
    basis: np.ndarray
    coefficients: Callable[[np.ndarray], np.ndarray]
    diffusion: np.ndarray
    drive_name: str = "voltage"
    drive_units: str = "V"
    basins_override: dict = field(default_factory=dict)

    def free_energy(self, drive: np.ndarray) -> np.ndarray:
        """Omega(N; x) (kT), shape (k, n_grid), for drive values of shape (k,)."""
        return self.coefficients(np.atleast_1d(np.asarray(drive, dtype=float))) @ self.basis

    def rate_table(self, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Basins]]:
        """Exact log rates ln(k / (1/s)) at the given drive values and the basins used."""
        drive = np.atleast_1d(np.asarray(drive, dtype=float))
        f = self.free_energy(drive)
        basins = basins_for_rows(self.grid, f, drive, **self.basins_override)
        dry = np.array([b.dry for b in basins])
        wet = np.array([b.wet for b in basins])
        d = np.broadcast_to(self.diffusion, f.shape)
        log_scale = math.log(PICOSECOND)
        log_k_wet = -log_mfpt(self.grid, f, d, dry, wet) - log_scale
        log_k_dry = -log_mfpt(self.grid, f, d, wet, dry) - log_scale
        return log_k_wet, log_k_dry, basins

    def reference_basins(self, drive_range: tuple[float, float], samples: int = 101) -> Basins:
        """Basins at the coexistence drive (where k_wet = k_dry) within a range.

        Their barrier top is the wet/dry threshold used for P_wet by the
        Fokker-Planck and Langevin models.
        """
        drive = np.linspace(drive_range[0], drive_range[1], samples)
        log_k_wet, log_k_dry, basins = self.rate_table(drive)
        return basins[int(np.argmin(np.abs(log_k_wet - log_k_dry)))]


@dataclass
class Response:
    """Response of the pore to a drive protocol.

    Attributes
    ----------
    time : ndarray, shape (n_samples,)
        Times (s), the first one the start.
    drive : ndarray
        Drive values at those times.
    p_wet : ndarray
        Probability that the pore is wet.
    mean_n : ndarray
        Mean number of water molecules (NaN for the master equation).
    mean_conductance : ndarray or None
        Mean of G(N) (S) when a G(N) was given (Fokker-Planck, Langevin).
    """

    time: np.ndarray
    drive: np.ndarray
    p_wet: np.ndarray
    mean_n: np.ndarray
    mean_conductance: np.ndarray | None = None


def master_response(
    landscape: DrivenLandscape,
    drive_of_time: Callable[[np.ndarray], np.ndarray],
    duration: float,
    n_steps: int,
    table_points: int = 241,
) -> Response:
    """Two-state master-equation response to a drive protocol.

    Parameters
    ----------
    landscape : DrivenLandscape
        Driven free energy.
    drive_of_time : callable
        x(t) for times in s.
    duration : float
        Total time (s).
    n_steps : int
        Time steps.
    table_points : int, optional
        Drive values at which exact rates are tabulated (log-interpolated between).

    Returns
    -------
    Response
        Starting from equilibrium at x(0).
    """
    time = np.linspace(0.0, duration, n_steps + 1)
    drive = drive_of_time(time)
    lo, hi = float(np.min(drive)), float(np.max(drive))
    table = np.linspace(lo, hi if hi > lo else lo + 1e-12, table_points)
    log_k_wet, log_k_dry, _ = landscape.rate_table(table)
    k_wet = np.exp(np.interp(drive, table, log_k_wet))
    k_dry = np.exp(np.interp(drive, table, log_k_dry))
    p_wet = propagate_two_state(k_wet, k_dry, duration / n_steps, k_wet[0] / (k_wet[0] + k_dry[0]))
    return Response(time, drive, p_wet, np.full(time.size, np.nan))


def fokker_planck_response(
    landscape: DrivenLandscape,
    drive_of_time: Callable[[np.ndarray], np.ndarray],
    duration: float,
    n_steps: int,
    threshold: float,
    conductance: np.ndarray | None = None,
) -> Response:
    """Fokker-Planck response to a drive protocol (implicit finite volumes).

    Parameters
    ----------
    landscape : DrivenLandscape
        Driven free energy.
    drive_of_time : callable
        x(t) for times in s.
    duration : float
        Total time (s).
    n_steps : int
        Time steps (backward Euler, drive evaluated at each step's end).
    threshold : float
        N above which the pore counts as wet (molecules).
    conductance : ndarray, shape (n_grid,), optional
        G(N) (S) to average.

    Returns
    -------
    Response
        Starting from equilibrium at x(0).
    """
    time = np.linspace(0.0, duration, n_steps + 1)
    drive = drive_of_time(time)
    grid = landscape.grid
    observables = [(grid > threshold).astype(float), grid]
    if conductance is not None:
        observables.append(np.asarray(conductance, dtype=float))
    observables = np.vstack(observables)
    initial = fokker_planck.equilibrium_distribution(grid, landscape.free_energy(drive[0])[0])
    coefficients = landscape.coefficients(drive[1:])
    averages, _ = fokker_planck.propagate(
        grid, landscape.basis, landscape.diffusion, initial, coefficients,
        (duration / n_steps) / PICOSECOND, observables,
    )
    start = observables @ initial
    series = np.vstack([start[None, :], averages])
    return Response(
        time, drive, series[:, 0], series[:, 1],
        series[:, 2] if conductance is not None else None,
    )


def langevin_response(
    landscape: DrivenLandscape,
    drive_of_time: Callable[[np.ndarray], np.ndarray],
    duration: float,
    n_samples: int,
    threshold: float,
    n_trajectories: int,
    seed: int,
    time_step: float | None = None,
    conductance: np.ndarray | None = None,
    max_steps: float = 2e11,
    progress: bool = False,
) -> Response:
    """Langevin-ensemble response to a drive protocol.

    Parameters
    ----------
    landscape : DrivenLandscape
        Driven free energy.
    drive_of_time : callable
        x(t) for times in s.
    duration : float
        Total time (s).
    n_samples : int
        Recorded samples (blocks); the drive is held at its mid-block value.
    threshold : float
        N above which the pore counts as wet (molecules).
    n_trajectories : int
        Ensemble size.
    seed : int
        Seed.
    time_step : float, optional
        dt (ps); default from the most demanding drive value.
    conductance : ndarray, optional
        G(N) (S) to average.
    max_steps : float, optional
        Refuse runs of more trajectory-steps than this (use the Fokker-Planck
        model, its exact limit, instead).
    progress : bool, optional
        Progress bar.

    Returns
    -------
    Response
        Starting from equilibrium at x(0) (initial N drawn from it).
    """
    time = np.linspace(0.0, duration, n_samples + 1)
    drive = drive_of_time(time)
    grid = landscape.grid
    if time_step is None:
        probe = landscape.free_energy(np.linspace(drive.min(), drive.max(), 9))
        time_step = min(suggest_time_step(grid, row, landscape.diffusion) for row in probe)
    block_ps = (duration / n_samples) / PICOSECOND
    steps_per_block = max(1, int(round(block_ps / time_step)))
    time_step = block_ps / steps_per_block
    total = float(steps_per_block) * n_samples * n_trajectories
    if total > max_steps:
        raise ValueError(
            f"a Langevin ensemble over this drive needs {total:.2e} trajectory-steps "
            f"(dt = {time_step:.2e} ps over {duration:.2e} s); use the fokker-planck model, "
            "its exact limit, or a faster drive"
        )
    rng = np.random.default_rng(seed)
    equilibrium = fokker_planck.equilibrium_distribution(grid, landscape.free_energy(drive[0])[0])
    initial = rng.choice(grid, size=n_trajectories, p=equilibrium)
    tables = build_tables(grid, landscape.basis, landscape.diffusion, time_step)
    coefficients = landscape.coefficients(drive_of_time(0.5 * (time[1:] + time[:-1])))
    run = run_ensemble(
        tables, initial, n_samples, steps_per_block, seed=seed, coefficients=coefficients,
        progress=progress, description="Langevin ensemble",
    )
    positions = np.concatenate([initial[:, None], run.positions.astype(float)], axis=1)
    p_wet = np.mean(positions > threshold, axis=0)
    mean_n = positions.mean(axis=0)
    mean_g = None
    if conductance is not None:
        mean_g = np.interp(positions, grid, conductance).mean(axis=0)
    return Response(time, drive, p_wet, mean_n, mean_g)
