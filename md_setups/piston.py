"""Pressure-driven (nonequilibrium) MD of the pore: a piston under a force ramp.

The intrusion/extrusion check of the kinetic model: unrestrained MD of the built
pore whose liquid is squeezed and released by a piston following a triangular
pressure ramp P(t) (low -> high -> low at a constant rate), in several replicas,
recording N(t). ``nanopore compare`` sets these cycles beside the master-equation
and Fokker-Planck cycles of the same pore's profile.

The piston. The box is made taller by a vacuum gap, so that the liquid (both
reservoirs, which met across the periodic boundary) becomes a slab centred on the
wall. Two flat plates at abs(z - z_c) = H, one on each side of the wall, confine it:
every water oxygen and ion beyond a plate feels the soft wall
U = 0.5 k (abs(dz) - H)^2 (dz the minimum-image distance from the pore centre
plane). The plates are rigid and move together (one coordinate H): the liquid
pushes them outwards with F_liquid = -dU/dH (the sum of the magnitudes of the
soft wall's forces, read from its force group), the applied pressure pushes them inwards with
F_applied = 2 A P(t) (A the box cross-section). H follows overdamped dynamics,
dH/dt = mu (F_liquid - F_applied), updated every sampling interval, with the
mobility mu set from a relaxation time tau_p and water's compressibility
(mu = H / (2 A K_T tau_p), K_T = 2.2 GPa), so the liquid's pressure follows P(t)
within about tau_p; the measured F_liquid / 2A is recorded beside P(t). The wall
never moves, and the box's barostat is off: the piston is the pressure control.

Massless wall sites and the pore lining are not pushed. Units: nm, ps, MPa.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: context parameter of the plates' distance from the pore centre plane (nm)
PISTON_HEIGHT = "piston_h"
#: force group of the piston (CV restraint 1, field 2, position restraints 3)
PISTON_GROUP = 4
#: MPa per kJ/mol/nm^3
MPA_PER_KJ_MOL_NM3 = 1.0e3 / 6.02214076e23 / 1.0e-27 / 1.0e6
#: isothermal bulk modulus of water near 300 K (MPa)
WATER_BULK_MODULUS_MPA = 2200.0


class PistonError(ValueError):
    """A piston run that cannot be made."""


@dataclass(frozen=True)
class PressureRamp:
    """A triangular pressure cycle: ``hold`` ps at ``low``, up to ``high`` and back at ``rate``.

    Attributes
    ----------
    low, high : float
        Pressures (MPa).
    rate : float
        Magnitude of dP/dt (MPa/ps).
    hold : float
        Time at ``low`` before the ramp (ps).
    """

    low: float
    high: float
    rate: float
    hold: float = 0.0

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise PistonError(f"the upper pressure ({self.high} MPa) must exceed the lower one "
                              f"({self.low} MPa)")
        if not self.rate > 0:
            raise PistonError(f"the ramp rate must be positive (MPa/ps), got {self.rate}")
        if self.hold < 0:
            raise PistonError("the hold time must not be negative (ps)")

    @property
    def ramp_time(self) -> float:
        """Duration of one ramp, low to high (ps)."""
        return (self.high - self.low) / self.rate

    @property
    def duration(self) -> float:
        """Hold plus the up-and-down cycle (ps)."""
        return self.hold + 2.0 * self.ramp_time

    def pressure(self, time_ps: np.ndarray | float) -> np.ndarray | float:
        """P(t) (MPa)."""
        t = np.asarray(time_ps, dtype=float) - self.hold
        up = np.clip(t, 0.0, self.ramp_time)
        down = np.clip(t - self.ramp_time, 0.0, self.ramp_time)
        value = self.low + self.rate * (up - down)
        return float(value) if np.ndim(value) == 0 else value


def add_piston(system: Any, particles: list[int], center_z: float, height: float,
               stiffness: float = 5000.0) -> int:
    """Add the two plates at abs(z - center_z) = H as a soft wall on chosen particles.

    Parameters
    ----------
    system : openmm.System
    particles : list of int
        Particles the plates push (water oxygens and ions).
    center_z : float
        z of the plane midway between the plates (nm): the pore centre.
    height : float
        Initial H (nm); a context parameter :data:`PISTON_HEIGHT`.
    stiffness : float
        k of the soft wall (kJ/mol/nm^2).

    Returns
    -------
    int
        Index of the force. Its force on a particle is along z, of magnitude
        k (abs(dz) - H) beyond a plate: the sum of the magnitudes is the push of the
        liquid on the plates, -dU/dH (see :func:`plate_force`).
    """
    import openmm

    force = openmm.CustomExternalForce(
        f"0.5 * {float(stiffness)!r} * step(d) * d^2;"
        f" d = abs(periodicdistance(0, 0, z, 0, 0, {float(center_z)!r})) - {PISTON_HEIGHT}")
    force.addGlobalParameter(PISTON_HEIGHT, float(height))
    for index in particles:
        force.addParticle(int(index), [])
    force.setForceGroup(PISTON_GROUP)
    return system.addForce(force)


def plate_force(context: Any, particles: list[int]) -> float:
    """Push of the liquid on the two plates, -dU/dH = sum of abs(F_z) of the piston force (kJ/mol/nm).

    Parameters
    ----------
    context : openmm.Context
    particles : list of int
        The particles the plates push.

    Returns
    -------
    float
    """
    from openmm import unit

    state = context.getState(getForces=True, groups={PISTON_GROUP})
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return float(np.abs(np.asarray(forces)[particles, 2]).sum())


def pushed_particles(topology: Any, system: Any) -> list[int]:
    """Water oxygens and ions: heavy atoms with mass outside the wall."""
    chosen = []
    for atom in topology.atoms():
        if atom.element is None or atom.element.symbol == "H" or atom.residue.name == "WAL":
            continue
        if system.getParticleMass(atom.index)._value > 0:
            chosen.append(atom.index)
    return chosen


def slab_positions(topology: Any, positions: np.ndarray, center_z: float,
                   box_height: float) -> np.ndarray:
    """Whole molecules moved by periodic images so that their first atom lies within L_z/2 of the centre."""
    positions = np.array(positions, dtype=float)
    for residue in topology.residues():
        atoms = [a.index for a in residue.atoms()]
        shift = -box_height * np.round((positions[atoms[0], 2] - center_z) / box_height)
        positions[atoms, 2] += shift
    return positions


def disable_barostats(system: Any) -> int:
    """Stop every Monte Carlo barostat of a system (frequency 0): the piston controls the pressure.

    Returns
    -------
    int
        How many were stopped.
    """
    import openmm

    kinds = tuple(getattr(openmm, name) for name in
                  ("MonteCarloBarostat", "MonteCarloAnisotropicBarostat", "MonteCarloMembraneBarostat",
                   "MonteCarloFlexibleBarostat") if hasattr(openmm, name))
    found = [system.getForce(k) for k in range(system.getNumForces())
             if isinstance(system.getForce(k), kinds)]
    for barostat in found:
        barostat.setFrequency(0)
    return len(found)


def run_piston(setup: Any, out: str | os.PathLike, ramp: PressureRamp, replicas: int = 3,
               gap: float = 1.5, relaxation: float = 2.0, stiffness: float = 5000.0,
               seed: int | None = None, progress: bool = True) -> Path:
    """Pressure cycles of the unrestrained pore under a piston, in several replicas.

    Parameters
    ----------
    setup : md_setups.setup.Setup
        A built model pore.
    out : path-like
        Run directory (the build is shared with the windows).
    ramp : PressureRamp
    replicas : int
        Independent runs (seeds ``seed``, ``seed + 1``, ...).
    gap : float
        Vacuum added to the box height behind the plates (nm).
    relaxation : float
        Piston relaxation time tau_p (ps).
    stiffness : float
        Soft-wall k (kJ/mol/nm^2).
    seed : int, optional
        First seed; default from the setup.
    progress : bool
        Progress bar.

    Returns
    -------
    Path
        ``OUT/piston_cycle.nc``: along (``replica``, ``time``) ``n`` (molecules),
        ``pressure`` (applied, MPa), ``pressure_measured`` (F_liquid / 2A, MPa),
        ``piston`` (H, nm).
    """
    import openmm
    import xarray as xr

    from md_setups.runner import WindowRunner
    from nanopore.profile import write_dataset
    from nanopore.provenance import annotate, provenance_attrs

    if getattr(setup, "geometry", None) is not None:
        raise PistonError("the piston drive needs a built model pore (a slab of liquid on both "
                          "sides of a wall); prepared [system] pores are not supported")
    if replicas < 1:
        raise PistonError("give at least one replica")
    if gap <= 0 or relaxation <= 0 or stiffness <= 0:
        raise PistonError("gap (nm), relaxation (ps) and stiffness (kJ/mol/nm^2) must be positive")
    runner = WindowRunner(setup, out, progress=False)
    system = runner.built.system
    disable_barostats(system)
    box = runner.built.topology.getPeriodicBoxVectors()
    edges = np.array([box[0][0].value_in_unit(openmm.unit.nanometer),
                      box[1][1].value_in_unit(openmm.unit.nanometer),
                      box[2][2].value_in_unit(openmm.unit.nanometer)])
    center_z = float(setup.cv.center_z)
    height = 0.5 * edges[2]
    area = float(edges[0] * edges[1])
    particles = pushed_particles(runner.built.topology, system)
    add_piston(system, particles, center_z, height, stiffness)
    tall = [openmm.Vec3(edges[0], 0, 0), openmm.Vec3(0, edges[1], 0),
            openmm.Vec3(0, 0, edges[2] + gap)]
    system.setDefaultPeriodicBoxVectors(*tall)
    start = slab_positions(runner.built.topology, runner.built.positions, center_z, edges[2])
    # overdamped plates: mobility from the liquid's stiffness 2 A K_T / H and tau_p
    bulk = WATER_BULK_MODULUS_MPA / MPA_PER_KJ_MOL_NM3
    mobility = height / (2.0 * area * bulk * relaxation)
    stride = setup["run"]["cv_stride"]
    interval = stride * runner.timestep
    if interval > 0.2 * relaxation:
        raise PistonError(f"the sampling interval ({interval} ps) must be well below the piston "
                          f"relaxation time ({relaxation} ps); lower [run] cv_stride")
    n_samples = int(math.ceil(ramp.duration / interval))
    base_seed = int(setup["run"]["seed"] + 104729 if seed is None else seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=replicas * n_samples * stride, desc="piston cycles", unit="step",
                   dynamic_ncols=True)
    series = {name: np.empty((replicas, n_samples)) for name in
              ("n", "pressure", "pressure_measured", "piston")}
    started = time.perf_counter()
    try:
        for r in range(replicas):
            runner._new_simulation(base_seed + r)
            context = runner.context
            context.setPeriodicBoxVectors(*tall)
            context.setPositions(start)
            context.setParameter(PISTON_HEIGHT, height)
            runner._set_parameters(0.0, 0.0, 0.0)
            openmm.LocalEnergyMinimizer.minimize(context, 10.0, 300)
            context.setVelocitiesToTemperature(setup["simulation"]["temperature"] * openmm.unit.kelvin,
                                               base_seed + r)
            h = height
            for k in range(n_samples):
                runner.simulation.step(stride)
                force = plate_force(context, particles)
                now = (k + 1) * interval
                applied = float(ramp.pressure(now))
                h += mobility * (force - 2.0 * area * applied / MPA_PER_KJ_MOL_NM3) * interval
                h = min(max(h, 0.5 * setup["pore"]["length"] + 0.3), 0.5 * (edges[2] + gap) - 0.05)
                context.setParameter(PISTON_HEIGHT, h)
                series["n"][r, k] = runner.collective_variable()
                series["pressure"][r, k] = applied
                series["pressure_measured"][r, k] = force / (2.0 * area) * MPA_PER_KJ_MOL_NM3
                series["piston"][r, k] = h
                if bar is not None:
                    bar.update(stride)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    if not np.all(np.isfinite(series["n"])):
        raise PistonError("the piston run produced non-finite water counts; lower the ramp rate "
                          "or the time step")
    times = (np.arange(n_samples) + 1) * interval
    ds = xr.Dataset({name: (("replica", "time"), values) for name, values in series.items()},
                    coords={"replica": np.arange(replicas), "time": times})
    annotate(ds, {"replica": ("1", "independent run"), "time": ("ps", "time"),
                  "n": ("molecules", "water molecules in the pore"),
                  "pressure": ("MPa", "applied piston pressure P(t)"),
                  "pressure_measured": ("MPa", "force of the liquid on the plates over their area"),
                  "piston": ("nm", "distance H of each plate from the pore centre plane")})
    ds.attrs.update(provenance_attrs(
        "md_setups.piston", inputs=setup.source,
        parameters={"low_MPa": ramp.low, "high_MPa": ramp.high, "rate_MPa_per_ps": ramp.rate,
                    "hold_ps": ramp.hold, "replicas": replicas, "gap_nm": gap,
                    "relaxation_ps": relaxation, "stiffness": stiffness, "seed": base_seed,
                    "platform": runner.platform.getName(), "wall_seconds": round(elapsed, 1)}))
    ds.attrs["temperature"] = float(setup["simulation"]["temperature"])
    ds.attrs["drive"] = "pressure"
    ds.attrs["ramp_rate_MPa_per_ps"] = float(ramp.rate)
    ds.attrs["pressure_low"] = float(ramp.low)
    ds.attrs["pressure_high"] = float(ramp.high)
    ds.attrs["hold_ps"] = float(ramp.hold)
    path = Path(out) / "piston_cycle.nc"
    write_dataset(ds, path)
    return path
