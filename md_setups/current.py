"""Ionic current under an applied voltage, and the conductance of the wet and dry pore.

Three estimators of the same current from one run, sampled every ``stride`` steps:

* velocities: I(t) = (1/L_z) sum_i q_i v_z,i(t), the charge-displacement current
  at each sample;
* displacements: the same sum with v_z replaced by the displacement of every
  charge between samples over the time between them, (1/L_z) sum_i q_i dz_i / dt;
  its time average is exactly the total charge displacement over the run;
* crossings: e times the net number of ion crossings (charge-weighted) of the
  plane through the pore centre per unit time. The wall blocks every other path,
  so this counts the ions that passed through the pore.

The sums run over the ions (charged single-atom molecules). Water molecules are
neutral: their term is the change of the water's total dipole over L_z and the
run time, which is bounded and averages to zero in a steady state, so leaving it
out removes noise without changing the mean current.

The first two agree in expectation at every time; the third agrees with them on
average (over a long run the charge displaced across the box and the charge that
crossed the pore differ by a bounded amount). Errors are block errors: the run is
cut into blocks, the standard error is that of the block means.

The pore's conductance in a state (wet or dry) comes from runs restrained near
that state's water count (the CV restraint of the windows), at one or more
voltages: G = sum_k w_k V_k I_k / sum_k w_k V_k^2 with w = 1/sigma_I^2, the
weighted slope through the origin, with its error. ``g_wet`` and ``g_dry`` (nS)
are what ``nanopore hysteresis --conductance-from`` and the pipeline read.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: e/ps in ampere
AMPERE_PER_E_PER_PS = 1.602176634e-19 / 1.0e-12
#: nA per e/ps
NANOAMPERE_PER_E_PER_PS = AMPERE_PER_E_PER_PS * 1.0e9


class CurrentError(ValueError):
    """A current measurement that cannot be made or used."""


@dataclass
class CurrentSeries:
    """Samples of one run.

    Attributes
    ----------
    time : ndarray
        End of each sampling interval (ps).
    velocity : ndarray
        (1/L_z) sum q v_z at each sample (nA).
    displacement : ndarray
        (1/L_z) sum q dz / dt over each interval (nA).
    crossings : ndarray, shape (n_samples, 2)
        Net crossings of the pore plane in each interval along +z by cations
        (column 0) and anions (column 1) (counts; positive along +z).
    crossing_charge : ndarray
        Charge carried through the plane along +z in each interval (e).
    n : ndarray
        The CV (water count) at each sample, NaN where not read.
    """

    time: np.ndarray
    velocity: np.ndarray
    displacement: np.ndarray
    crossings: np.ndarray
    crossing_charge: np.ndarray
    n: np.ndarray

    @property
    def duration(self) -> float:
        """Length of the sampled run (ps)."""
        return float(self.time[-1] - self.time[0] + (self.time[1] - self.time[0])) if self.time.size > 1 \
            else float(self.time[0])


def block_mean(values: np.ndarray, n_blocks: int) -> tuple[float, float]:
    """Mean and block standard error of a time series.

    Parameters
    ----------
    values : ndarray
        Samples in time order.
    n_blocks : int
        Number of equal blocks (at least 2); trailing samples that do not fill a
        block are dropped from the error (not from the mean).

    Returns
    -------
    tuple of float
        (mean, standard error of the mean from the spread of block means).
    """
    values = np.asarray(values, dtype=float)
    if n_blocks < 2:
        raise CurrentError("block errors need at least 2 blocks")
    size = values.size // n_blocks
    if size < 1:
        raise CurrentError(f"{values.size} samples cannot fill {n_blocks} blocks; run longer or "
                           "sample more often (smaller stride)")
    blocks = values[: size * n_blocks].reshape(n_blocks, size).mean(axis=1)
    return float(values.mean()), float(blocks.std(ddof=1) / math.sqrt(n_blocks))


def plane_crossings(previous: np.ndarray, displacement: np.ndarray, plane: float,
                    box_height: float) -> np.ndarray:
    """Net crossings of the periodic plane z = plane (+ k L_z) by particles moving ``displacement``.

    Parameters
    ----------
    previous : ndarray
        z of each particle at the start (nm), any periodic image.
    displacement : ndarray
        Its move along z (nm), smaller than L_z / 2 in magnitude.
    plane : float
        z of the plane (nm).
    box_height : float
        L_z (nm).

    Returns
    -------
    ndarray of int
        +1 for a crossing along +z, -1 along -z, 0 otherwise.
    """
    start = np.asarray(previous, dtype=float) - plane
    start -= box_height * np.floor(start / box_height + 0.5)  # in [-L/2, L/2): nearest plane image
    end = start + np.asarray(displacement, dtype=float)
    return ((start < 0) & (end >= 0)).astype(int) - ((start >= 0) & (end < 0)).astype(int)


def sample_current(context: Any, advance: Callable[[int], float], n_samples: int, stride: int,
                   charges: np.ndarray, ions: np.ndarray, plane: float,
                   collective_variable: Callable[[], float] | None = None,
                   progress: Any = None) -> CurrentSeries:
    """Run a context and record the three current estimators.

    Parameters
    ----------
    context : openmm.Context
        Ready to run (positions, velocities, voltage set).
    advance : callable
        ``advance(steps)`` integrates ``steps`` steps and returns the box height L_z (nm).
    n_samples : int
        Samples to take.
    stride : int
        Steps between samples.
    charges : ndarray
        Charge of every particle (e).
    ions : ndarray of int
        Particles whose plane crossings are counted (the ions).
    plane : float
        z of the counting plane (nm): the pore centre.
    collective_variable : callable, optional
        Returns the CV, read at each sample.
    progress : callable, optional
        Called with the number of steps after each sample.

    Returns
    -------
    CurrentSeries
    """
    from openmm import unit

    if n_samples < 2:
        raise CurrentError("a current measurement needs at least 2 samples")
    ions = np.asarray(ions, dtype=int)
    if ions.size == 0:
        raise CurrentError("the system has no ions: there is no ionic current to measure")
    q = np.asarray(charges, dtype=float)[ions]
    if np.any(q == 0.0):
        raise CurrentError("every ion must carry a charge")
    state = context.getState(getPositions=True, enforcePeriodicBox=False)
    z = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))[ions, 2]
    t = state.getTime().value_in_unit(unit.picosecond)
    out = {key: [] for key in ("time", "velocity", "displacement", "crossings", "charge", "n")}
    for _ in range(n_samples):
        height = advance(stride)
        state = context.getState(getPositions=True, getVelocities=True, enforcePeriodicBox=False)
        positions = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        velocities = np.asarray(state.getVelocities(asNumpy=True).value_in_unit(
            unit.nanometer / unit.picosecond))
        now = state.getTime().value_in_unit(unit.picosecond)
        z_new = positions[ions, 2]
        dz = z_new - z
        if np.any(np.abs(dz) >= 0.5 * height):
            raise CurrentError("an ion moved more than half the box between samples; lower the stride")
        cross = plane_crossings(z, dz, plane, height)
        out["time"].append(now)
        out["velocity"].append(float(q @ velocities[ions, 2]) / height)
        out["displacement"].append(float(q @ dz) / height / (now - t))
        out["crossings"].append([int(cross[q > 0].sum()), int(cross[q < 0].sum())])
        out["charge"].append(float(q @ cross))
        out["n"].append(collective_variable() if collective_variable is not None else float("nan"))
        z, t = z_new, now
        if progress is not None:
            progress(stride)
    scale = NANOAMPERE_PER_E_PER_PS
    return CurrentSeries(time=np.array(out["time"]), velocity=np.array(out["velocity"]) * scale,
                         displacement=np.array(out["displacement"]) * scale,
                         crossings=np.array(out["crossings"], dtype=int),
                         crossing_charge=np.array(out["charge"]), n=np.array(out["n"]))


def counting_error(crossing_charge: np.ndarray, duration: float) -> float:
    """Counting error of the crossing current: the charge that crossed is a count of ions.

    Ions cross one at a time, so the transported charge Q is a sum of independent
    events of charge q_i: var(Q) = sum q_i^2 (Poisson), estimated from the charge
    counted in each sampling interval. With no crossing at all the block error is
    zero, which would claim an exact zero current; the estimator cannot resolve less
    than one elementary charge over the run, so the count is taken as at least one.

    Parameters
    ----------
    crossing_charge : ndarray
        Charge carried through the plane in each sampling interval (e).
    duration : float
        Length of the run (ps).

    Returns
    -------
    float
        Standard error of the crossing current (nA).
    """
    if duration <= 0.0:
        raise CurrentError(f"a run of {duration} ps has no current")
    variance = max(float(np.sum(np.asarray(crossing_charge, dtype=float) ** 2)), 1.0)
    return math.sqrt(variance) / duration * NANOAMPERE_PER_E_PER_PS


def summarise(series: CurrentSeries, n_blocks: int) -> dict[str, float]:
    """Means and block errors of the three estimators (nA) and the crossing counts.

    Parameters
    ----------
    series : CurrentSeries
    n_blocks : int

    Returns
    -------
    dict
        ``current_velocity``, ``current_displacement``, ``current_crossings`` and
        their ``*_error`` (nA; the crossing current's error is at least its
        :func:`counting_error`); ``crossings_cation``, ``crossings_anion`` (net
        counts along +z); ``n_mean`` (molecules); ``duration_ps``.
    """
    dt = np.diff(np.concatenate([[series.time[0] - (series.time[1] - series.time[0])], series.time]))
    crossing_current = series.crossing_charge / dt * NANOAMPERE_PER_E_PER_PS
    result: dict[str, float] = {}
    for name, values in (("velocity", series.velocity), ("displacement", series.displacement),
                         ("crossings", crossing_current)):
        mean, error = block_mean(values, n_blocks)
        result[f"current_{name}"] = mean
        result[f"current_{name}_error"] = error
    result["current_crossings_error"] = max(result["current_crossings_error"],
                                            counting_error(series.crossing_charge, float(dt.sum())))
    result["crossings_cation"] = float(series.crossings[:, 0].sum())
    result["crossings_anion"] = float(series.crossings[:, 1].sum())
    result["n_mean"] = float(np.nanmean(series.n)) if np.any(np.isfinite(series.n)) else float("nan")
    result["duration_ps"] = float(dt.sum())
    return result


def slope_through_origin(voltages: np.ndarray, currents: np.ndarray,
                         errors: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares G in I = G V (no intercept), with its standard error.

    Parameters
    ----------
    voltages : ndarray
        V (V), not all zero.
    currents, errors : ndarray
        I and its standard error (nA).

    Returns
    -------
    tuple of float
        (G, sigma_G) in nS.
    """
    v = np.asarray(voltages, dtype=float)
    i = np.asarray(currents, dtype=float)
    sigma = np.asarray(errors, dtype=float)
    if not np.any(v != 0.0):
        raise CurrentError("a conductance needs a current at a non-zero voltage")
    floor = max(float(np.max(sigma)) * 1e-6, 1e-12)
    w = 1.0 / np.maximum(sigma, floor) ** 2
    denominator = float(np.sum(w * v * v))
    return float(np.sum(w * v * i) / denominator), float(1.0 / math.sqrt(denominator))


# --------------------------------------------------------------------- the pore
def _charges_and_ions(system: Any) -> tuple[np.ndarray, np.ndarray]:
    """Charges of all particles (e) and the charged particles that are single-atom molecules."""
    import openmm

    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    charges = np.array([nonbonded.getParticleParameters(i)[0].value_in_unit(
        openmm.unit.elementary_charge) for i in range(nonbonded.getNumParticles())])
    bonded = np.zeros(charges.size, dtype=bool)
    for k in range(system.getNumConstraints()):
        i, j, _ = system.getConstraintParameters(k)
        bonded[[i, j]] = True
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            for k in range(force.getNumBonds()):
                i, j = force.getBondParameters(k)[:2]
                # zero-strength bonds tie the wall into one rigid body; they do not make molecules
                if force.getBondParameters(k)[3].value_in_unit(
                        openmm.unit.kilojoule_per_mole / openmm.unit.nanometer ** 2) > 0:
                    bonded[[i, j]] = True
    masses = np.array([system.getParticleMass(i).value_in_unit(openmm.unit.dalton)
                       for i in range(system.getNumParticles())])
    ions = np.flatnonzero((charges != 0.0) & ~bonded & (masses > 0))
    return charges, ions


def state_targets(setup: Any, wet: float | None, dry: float | None) -> dict[str, float]:
    """Restraint targets (molecules) of the wet and dry states: given, or the setup's last and first window."""
    targets = setup.targets
    chosen = {"wet": float(targets[-1]) if wet is None else float(wet),
              "dry": float(targets[0]) if dry is None else float(dry)}
    if chosen["wet"] <= chosen["dry"]:
        raise CurrentError(f"the wet target N = {chosen['wet']} must lie above the dry one "
                           f"N = {chosen['dry']}")
    return chosen


def measure_conductance(setup: Any, out: str | os.PathLike, voltages: Sequence[float],
                        duration_ps: float, equilibration_ps: float = 2.0,
                        wet: float | None = None, dry: float | None = None,
                        spring_constant: float | None = None, n_blocks: int = 5,
                        stride: int | None = None, seed: int | None = None,
                        progress: bool = True) -> Path:
    """Currents of the pore restrained wet and dry at each voltage; G_wet and G_dry.

    Each (state, voltage) run starts from the minimised build, pulls the CV to the
    state's target over the first half of the equilibration, equilibrates, and
    samples for ``duration_ps``.

    Parameters
    ----------
    setup : md_setups.setup.Setup
        A built model pore or a prepared system (``[system]``).
    out : path-like
        Run directory (the build is shared with the windows).
    voltages : sequence of float
        Applied voltages (V); at least one non-zero.
    duration_ps, equilibration_ps : float
        Sampling and equilibration per run (ps).
    wet, dry : float, optional
        Restraint targets (molecules); default the setup's last and first window target.
    spring_constant : float, optional
        kappa (kJ/mol/molecule^2); default the windows'.
    n_blocks : int
        Blocks of the error estimate.
    stride : int, optional
        Steps between samples; default the CV stride.
    seed : int, optional
        Seed of velocities and integrator (default from the setup).
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``OUT/conductance.nc``.
    """
    import openmm
    import xarray as xr

    from md_setups.forces import KAPPA, TARGET
    from md_setups.runner import WindowRunner
    from nanopore.profile import write_dataset
    from nanopore.provenance import annotate, provenance_attrs

    voltages = [float(v) for v in voltages]
    if not any(v != 0.0 for v in voltages):
        raise CurrentError("give at least one non-zero voltage (V) to measure a conductance")
    if len(set(voltages)) != len(voltages):
        raise CurrentError(f"voltages repeat: {voltages}")
    if duration_ps <= 0 or equilibration_ps < 0:
        raise CurrentError("the run needs a positive duration and a non-negative equilibration (ps)")
    targets = state_targets(setup, wet, dry)
    kappa = float(setup["windows"]["spring_constant"] if spring_constant is None else spring_constant)
    stride = int(stride or setup["run"]["cv_stride"])
    runner = WindowRunner(setup, out, progress=False)
    charges, ions = _charges_and_ions(runner.built.system)
    plane = float(setup.cv.center_z)
    n_samples = max(2 * n_blocks, int(round(duration_ps / (stride * runner.timestep))))
    n_equil = int(round(equilibration_ps / runner.timestep / stride)) * stride
    base_seed = int(setup["run"]["seed"] if seed is None else seed)
    total = len(targets) * len(voltages) * (n_equil + n_samples * stride)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="currents", unit="step", dynamic_ncols=True)
    rows: dict[str, list[dict[str, float]]] = {state: [] for state in targets}
    started = time.perf_counter()
    clock = [time.perf_counter(), 0]
    try:
        for s, (state, target) in enumerate(targets.items()):
            for k, voltage in enumerate(voltages):
                runner._new_simulation(base_seed + 1 + 100 * s + k)
                context = runner.context
                context.setPositions(runner.built.positions)
                context.setPeriodicBoxVectors(*runner.built.topology.getPeriodicBoxVectors())
                runner._set_parameters(voltage, 0.0, 0.0)
                openmm.LocalEnergyMinimizer.minimize(context, 10.0, 500)
                context.setVelocitiesToTemperature(
                    setup["simulation"]["temperature"] * openmm.unit.kelvin, base_seed + 1 + 100 * s + k)
                runner._set_parameters(voltage, kappa, target)
                start = runner.collective_variable()
                for step in range(0, n_equil, stride):  # pull over the first half, then hold
                    fraction = min(1.0, step / max(1, n_equil // 2))
                    context.setParameter(TARGET, start + (target - start) * fraction)
                    runner._advance(stride, bar, clock)
                context.setParameter(TARGET, target)
                context.setParameter(KAPPA, kappa)
                series = sample_current(context, lambda steps: runner._advance(steps, bar, clock),
                                        n_samples, stride, charges, ions, plane,
                                        runner.collective_variable)
                rows[state].append(summarise(series, n_blocks))
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    states = list(targets)
    names = list(rows[states[0]][0])
    data = {name: (("state", "voltage"), np.array([[row[name] for row in rows[s]] for s in states]))
            for name in names}
    ds = xr.Dataset(data, coords={"state": states, "voltage": np.array(voltages)})
    ds["target"] = ("state", np.array([targets[s] for s in states]))
    fitted = [slope_through_origin(np.array(voltages), ds["current_displacement"].sel(state=s).values,
                                   ds["current_displacement_error"].sel(state=s).values) for s in states]
    ds["conductance"] = ("state", np.array([g for g, _ in fitted]))
    ds["conductance_error"] = ("state", np.array([e for _, e in fitted]))
    annotate(ds, {
        "state": ("", "pore state the CV was restrained near"),
        "voltage": ("V", "applied voltage"),
        "current_velocity": ("nA", "(1/L_z) sum q v_z, mean over samples"),
        "current_velocity_error": ("nA", "block standard error"),
        "current_displacement": ("nA", "(1/L_z) sum q dz/dt, charge displacement"),
        "current_displacement_error": ("nA", "block standard error"),
        "current_crossings": ("nA", "charge of ions crossing the pore plane per time"),
        "current_crossings_error": ("nA", "block standard error, at least the counting error"),
        "crossings_cation": ("1", "net cation crossings of the pore plane along +z"),
        "crossings_anion": ("1", "net anion crossings of the pore plane along +z"),
        "n_mean": ("molecules", "mean water count in the pore"),
        "duration_ps": ("ps", "sampled time"),
        "target": ("molecules", "restraint target of the state"),
        "conductance": ("nS", "G from the displacement current, slope through the origin"),
        "conductance_error": ("nS", "standard error of G"),
    })
    ds.attrs.update(provenance_attrs(
        "md_setups.current", inputs=setup.source,
        parameters={"voltages_V": voltages, "duration_ps": duration_ps,
                    "equilibration_ps": equilibration_ps, "targets": targets, "kappa": kappa,
                    "n_blocks": n_blocks, "stride": stride, "seed": base_seed,
                    "platform": runner.platform.getName(), "wall_seconds": round(elapsed, 1)}))
    ds.attrs["temperature"] = float(setup["simulation"]["temperature"])
    ds.attrs["g_wet_nS"] = float(ds["conductance"].sel(state="wet"))
    ds.attrs["g_dry_nS"] = float(ds["conductance"].sel(state="dry"))
    path = Path(out) / "conductance.nc"
    write_dataset(ds, path)
    return path


def read_conductance(path: str | os.PathLike, sigmas: float = 2.0) -> tuple[float, float]:
    """G_wet and G_dry (nS) from a ``conductance.nc``, for the kinetics.

    A measured G that is negative but within ``sigmas`` standard errors of zero
    (a dry pore's G is zero within its noise) is taken as 0; one below that is an
    error, as is G_wet not above G_dry.

    Parameters
    ----------
    path : path-like
    sigmas : float

    Returns
    -------
    tuple of float
        (g_wet, g_dry) in nS.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; measure it with `nanopore md conductance`")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        if "conductance" not in ds or "state" not in ds.dims:
            raise CurrentError(f"{path} has no conductance per state; it is not a "
                               "`nanopore md conductance` output")
        values = {str(s): (float(ds["conductance"].sel(state=s)),
                           float(ds["conductance_error"].sel(state=s))) for s in ds["state"].values}
    if set(values) != {"wet", "dry"}:
        raise CurrentError(f"{path} must hold the states wet and dry, has {sorted(values)}")
    chosen = {}
    for state, (g, error) in values.items():
        if not math.isfinite(g):
            raise CurrentError(f"{path}: G_{state} is not a number")
        if g < 0:
            if g < -sigmas * error:
                raise CurrentError(f"{path}: G_{state} = {g:.3g} +- {error:.2g} nS is negative beyond "
                                   "its error; the run is too short or broken")
            g = 0.0
        chosen[state] = g
    if chosen["wet"] <= chosen["dry"]:
        raise CurrentError(f"{path}: G_wet = {chosen['wet']:.3g} nS is not above G_dry = "
                           f"{chosen['dry']:.3g} nS; run longer or at a higher voltage")
    return chosen["wet"], chosen["dry"]
