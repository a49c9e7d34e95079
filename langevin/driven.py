"""A free energy driven in time, and its propagation by three levels of model.

A :class:`DrivenLandscape` is Omega(N; x) = sum_m c_m(x) Omega_m(N) for a drive x
(voltage, pressure), with c_0 = 1. The same drive protocol x(t) can be followed by

* the two-state master equation with exact rates k_wet(x), k_dry(x)
  (:func:`master_response`), valid when the barrier separates time scales;
* the Fokker-Planck equation for p(N, t) (:func:`fokker_planck_response`), exact
  for the one-dimensional diffusion model;
* an ensemble of Langevin trajectories (:func:`langevin_response`), the same
  model sampled, for checks and for observables beyond the mean.

Periodic drives are run to their periodic steady state (:func:`periodic_response`),
never for a fixed small number of periods. Times are in seconds at this level; the
profile's D is in molecules^2/ps.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from langevin import fokker_planck
from langevin.basins import Basins
from langevin.landscape import check_nodes, refine, subdivisions
from langevin.langevin import build_tables, run_ensemble, suggest_time_step
from langevin.master import periodic_two_state, propagate_two_state
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
    threshold: float | None = None

    def free_energy(self, drive: np.ndarray) -> np.ndarray:
        """Omega(N; x) (kT), shape (k, n_grid), for drive values of shape (k,)."""
        return self.coefficients(np.atleast_1d(np.asarray(drive, dtype=float))) @ self.basis

    def rate_table(self, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Basins]]:
        """Exact log rates ln(k / (1/s)) at the given drive values and the basins used."""
        drive = np.atleast_1d(np.asarray(drive, dtype=float))
        f = self.free_energy(drive)
        if self.threshold is None:
            basins = basins_for_rows(self.grid, f, drive, **self.basins_override)
        else:
            basins = self.basins_across(f)
        dry = np.array([b.dry for b in basins])
        wet = np.array([b.wet for b in basins])
        d = np.broadcast_to(self.diffusion, f.shape)
        log_scale = math.log(PICOSECOND)
        log_k_wet = -log_mfpt(self.grid, f, d, dry, wet) - log_scale
        log_k_dry = -log_mfpt(self.grid, f, d, wet, dry) - log_scale
        return log_k_wet, log_k_dry, basins

    def basins_across(self, free_energy: np.ndarray) -> list[Basins]:
        """Basins on either side of the fixed wet/dry threshold, one per profile row.

        The dry minimum is the lowest point below the threshold, the wet minimum the
        lowest above it (unless given in ``basins_override``), the barrier the
        highest point between them: the two states of the master equation are then
        the same at every drive value and temperature.
        """
        grid = self.grid
        below = grid < self.threshold
        snap = lambda value: int(np.argmin(np.abs(grid - value)))
        out = []
        for row in np.atleast_2d(free_energy):
            given = self.basins_override
            dry = (snap(given["dry"]) if given.get("dry") is not None
                   else int(np.argmin(np.where(below, row, np.inf))))
            wet = (snap(given["wet"]) if given.get("wet") is not None
                   else int(np.argmin(np.where(below, np.inf, row))))
            top = (snap(given["barrier"]) if given.get("barrier") is not None
                   else dry + int(np.argmax(row[dry:wet + 1])))
            out.append(Basins(dry, top, wet))
        return out

    def with_threshold(self, threshold: float) -> DrivenLandscape:
        """The same landscape with a fixed wet/dry threshold (molecules) for its rates."""
        return replace(self, threshold=float(threshold))

    def reference_basins(self, drive_range: tuple[float, float], samples: int = 101) -> Basins:
        """Basins at the coexistence drive (where k_wet = k_dry) within a range.

        Their barrier top is the wet/dry threshold used for P_wet by the
        Fokker-Planck and Langevin models.
        """
        drive = np.linspace(drive_range[0], drive_range[1], samples)
        log_k_wet, log_k_dry, basins = self.rate_table(drive)
        return basins[int(np.argmin(np.abs(log_k_wet - log_k_dry)))]


def refined_landscape(
    landscape: DrivenLandscape,
    drive_range: tuple[float, float],
    max_free_energy_step: float = 0.25,
    samples: int = 9,
) -> DrivenLandscape:
    """The same driven landscape on nodes fine enough for the Fokker-Planck model.

    Every cell of the profile's interpolant is split until no sub-cell changes
    Omega by more than ``max_free_energy_step`` (kT) anywhere in the drive range;
    the interpolated function, and so the exact rates, are unchanged, while the
    Fokker-Planck operator on the finer nodes converges to them (0.25 kT: about
    0.5 % in the mean first-passage time).

    Parameters
    ----------
    landscape : DrivenLandscape
        Landscape on the profile's own nodes.
    drive_range : tuple of float
        Lowest and highest drive value.
    max_free_energy_step : float, optional
        Largest Omega change per refined cell (kT).
    samples : int, optional
        Drive values probed.

    Returns
    -------
    DrivenLandscape
    """
    probe = landscape.free_energy(np.linspace(drive_range[0], drive_range[1], samples))
    check_nodes(landscape.grid, probe, landscape.diffusion)
    counts = subdivisions(landscape.grid, probe, landscape.diffusion, max_free_energy_step,
                          max_points=20_000)
    if np.all(counts == 1):
        return landscape
    grid, basis, diffusion = refine(landscape.grid, landscape.basis, landscape.diffusion, counts)
    return replace(landscape, grid=grid, basis=basis, diffusion=diffusion)


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


@dataclass
class PeriodicResponse:
    """Response over one period of the periodic steady state.

    Attributes
    ----------
    phase : ndarray, shape (n_samples + 1,)
        Fraction of the period, 0 .. 1.
    time : ndarray
        Time since the start of the period (s).
    drive : ndarray
        Drive values.
    p_wet : ndarray
        Probability that the pore is wet.
    mean_n : ndarray
        Mean number of water molecules (NaN for the master equation).
    mean_conductance : ndarray or None
        Mean of G(N) (S) when a G(N) was given.
    periodic_error : float
        Largest change of P_wet between the last two simulated periods.
    periods : int
        Periods simulated (or their equivalent for the master equation, solved directly).
    converged : bool
        Whether ``periodic_error`` is within the tolerance (Langevin: within the
        tolerance or the ensemble's noise).
    """

    phase: np.ndarray
    time: np.ndarray
    drive: np.ndarray
    p_wet: np.ndarray
    mean_n: np.ndarray
    mean_conductance: np.ndarray | None
    periodic_error: float
    periods: int
    converged: bool


def _rates_at(landscape: DrivenLandscape, drive: np.ndarray, table_points: int):
    lo, hi = float(np.min(drive)), float(np.max(drive))
    table = np.linspace(lo, hi if hi > lo else lo + 1e-12, table_points)
    log_k_wet, log_k_dry, _ = landscape.rate_table(table)
    return np.exp(np.interp(drive, table, log_k_wet)), np.exp(np.interp(drive, table, log_k_dry))


def _aitken(history: list[np.ndarray]) -> np.ndarray | None:
    """Extrapolate period-to-period states along their slowest mode (None if not geometric)."""
    first = history[-2] - history[-3]
    second = history[-1] - history[-2]
    norm = float(first @ first)
    if norm == 0:
        return None
    ratio = float(second @ first) / norm
    if not 0.0 < ratio < 0.999999:
        return None
    guess = np.clip(history[-1] + second * ratio / (1.0 - ratio), 0.0, None)
    return guess / guess.sum()


def periodic_response(
    landscape: DrivenLandscape,
    waveform: Callable[[np.ndarray], np.ndarray],
    frequency: float,
    method: str,
    steps_per_period: int,
    threshold: float,
    tolerance: float = 1e-3,
    min_periods: int = 2,
    max_periods: int = 400,
    conductance: np.ndarray | None = None,
    n_trajectories: int = 2000,
    seed: int = 0,
    time_step: float | None = None,
    max_steps: float = 2e11,
    table_points: int = 241,
) -> PeriodicResponse:
    """Response to a periodic drive, run until it is periodic to a stated tolerance.

    * ``master``: the periodic state of the two-state equation is solved directly
      (:func:`langevin.master.periodic_two_state`), then one more period is run to
      measure the period-to-period change.
    * ``fokker-planck``: periods are propagated from equilibrium at the drive's
      phase-0 value; every third period the distribution is extrapolated along its
      slowest relaxing mode (Aitken), and the run stops when P_wet changes by less
      than ``tolerance`` between two consecutive, fully simulated periods.
    * ``langevin``: periods are propagated (a fresh random stream per period) until
      the change is within the tolerance or within the ensemble's noise,
      4 sqrt(0.5 / n_trajectories).

    Parameters
    ----------
    landscape : DrivenLandscape
        Driven free energy.
    waveform : callable
        Drive value at a phase (fraction of the period, 0 .. 1).
    frequency : float
        Drive frequency (Hz).
    method : {"master", "fokker-planck", "langevin"}
        Kinetic model.
    steps_per_period : int
        Samples (time steps) per period.
    threshold : float
        N above which the pore counts as wet (molecules).
    tolerance : float, optional
        Largest accepted change of P_wet between consecutive periods.
    min_periods, max_periods : int, optional
        Bounds on the periods simulated (Fokker-Planck, Langevin).
    conductance : ndarray, shape (n_grid,), optional
        G(N) (S) to average.
    n_trajectories, seed, time_step, max_steps : optional
        Langevin settings (dt in ps; budget of trajectory-steps).
    table_points : int, optional
        Master equation: drive values at which exact rates are tabulated.

    Returns
    -------
    PeriodicResponse
        The last simulated period.
    """
    period = 1.0 / frequency
    phase = np.linspace(0.0, 1.0, steps_per_period + 1)
    drive = np.asarray(waveform(phase), dtype=float)
    time = phase * period
    dt = period / steps_per_period
    grid = landscape.grid
    if method == "master":
        k_wet, k_dry = _rates_at(landscape, drive, table_points)
        start = periodic_two_state(k_wet, k_dry, dt)
        p_wet = propagate_two_state(k_wet, k_dry, dt, start)
        again = propagate_two_state(k_wet, k_dry, dt, p_wet[-1])
        error = float(np.max(np.abs(again - p_wet)))
        return PeriodicResponse(phase, time, drive, again, np.full(phase.size, np.nan), None,
                                error, 2, error <= tolerance)
    observables = [(grid > threshold).astype(float), grid]
    if conductance is not None:
        observables.append(np.asarray(conductance, dtype=float))
    observables = np.vstack(observables)
    equilibrium = fokker_planck.equilibrium_distribution(grid, landscape.free_energy(drive[0])[0])
    previous = None
    error = math.inf
    periods = 0
    if method == "fokker-planck":
        coefficients = landscape.coefficients(drive[1:])
        state = equilibrium
        history: list[np.ndarray] = []
        while periods < max_periods:
            averages, final = fokker_planck.propagate(
                grid, landscape.basis, landscape.diffusion, state, coefficients,
                dt / PICOSECOND, observables,
            )
            series = np.vstack([(observables @ state)[None, :], averages])
            periods += 1
            if previous is not None:
                error = float(np.max(np.abs(series[:, 0] - previous[:, 0])))
            previous = series
            if error <= tolerance and periods >= min_periods:
                break
            history = (history + [final])[-3:]
            state = final
            if len(history) == 3 and periods % 3 == 0 and periods + 2 <= max_periods:
                jump = _aitken(history)
                if jump is not None:
                    state, history, previous = jump, [], None
        converged = error <= tolerance
    elif method == "langevin":
        if time_step is None:
            probe = landscape.free_energy(np.linspace(drive.min(), drive.max(), 9))
            time_step = min(suggest_time_step(grid, row, landscape.diffusion) for row in probe)
        block_ps = dt / PICOSECOND
        steps_per_block = max(1, int(round(block_ps / time_step)))
        time_step = block_ps / steps_per_block
        per_period = float(steps_per_block) * steps_per_period * n_trajectories
        if per_period * min_periods > max_steps:
            raise ValueError(
                f"a Langevin ensemble over this drive needs {per_period * min_periods:.2e} "
                f"trajectory-steps (dt = {time_step:.2e} ps over {min_periods} periods of "
                f"{period:.2e} s), above the budget of {max_steps:.2e}; use the fokker-planck "
                "model, its exact limit, or a faster drive"
            )
        rng = np.random.default_rng(seed)
        positions = rng.choice(grid, size=n_trajectories, p=equilibrium)
        tables = build_tables(grid, landscape.basis, landscape.diffusion, time_step)
        coefficients = landscape.coefficients(waveform(0.5 * (phase[1:] + phase[:-1])))
        noise = 4.0 * math.sqrt(0.5 / n_trajectories)
        while periods < max_periods and (periods + 1) * per_period <= max_steps:
            run = run_ensemble(tables, positions, steps_per_period, steps_per_block,
                               seed=seed + 7919 * periods, coefficients=coefficients)
            samples = np.concatenate([positions[:, None], run.positions.astype(float)], axis=1)
            positions = run.final_positions
            series = [np.mean(samples > threshold, axis=0), samples.mean(axis=0)]
            if conductance is not None:
                series.append(np.interp(samples, grid, conductance).mean(axis=0))
            series = np.vstack(series).T
            periods += 1
            if previous is not None:
                error = float(np.max(np.abs(series[:, 0] - previous[:, 0])))
            previous = series
            if error <= max(tolerance, noise) and periods >= min_periods:
                break
        converged = error <= max(tolerance, noise)
    else:
        raise ValueError(f"unknown model '{method}'; choose master, fokker-planck or langevin")
    return PeriodicResponse(
        phase, time, drive, previous[:, 0], previous[:, 1],
        previous[:, 2] if conductance is not None else None, error, periods, bool(converged),
    )


def warn_unconverged(label: str, responses: list[PeriodicResponse], tolerance: float) -> None:
    """Warn once about drives whose response did not become periodic within the limits."""
    bad = [r for r in responses if not r.converged]
    if bad:
        worst = max(r.periodic_error for r in bad)
        warnings.warn(
            f"{len(bad)} {label} did not reach the periodic state within the period limit "
            f"(largest period-to-period change of P_wet {worst:.2g} > {tolerance:g}); "
            "raise --max-periods, or see periodic_error in the output",
            RuntimeWarning,
            stacklevel=3,
        )
