"""The wall's contact angle measured in MD: a cylindrical droplet on a flat wall.

Geometry. A flat slab of wall sites with the same lattice, lattice constants,
thickness (the setup's pore length) and wall-oxygen Lennard-Jones sigma and
epsilon as the setup's pore wall (no pore cut), carrying a liquid cylinder of
water that is periodic along y. The cylinder has no contact-line ends, so no
line tension enters its shape: its cross-section in the x-z plane is a circular
segment whose angle with the wall is the contact angle of Young's equation.
The droplet starts as a half cylinder (90 degrees) and relaxes towards its
angle. Water model, cut-off, electrostatics, temperature, time step and
friction are the setup's; the run is NVT (Langevin), with a vacuum gap above
the droplet larger than the cut-off so that the droplet never sees the wall's
periodic image.

Measurement. Oxygen positions are binned in x (relative to the droplet's
centre, found each frame by a circular mean along the periodic x axis) and in
z (above the top layer of wall sites) into a time-averaged density map; the
angle comes from a circle fitted to its half-liquid-density contour above the
first water layers (:mod:`analysis.contact_angle`), taken on the base plane one
wall-oxygen sigma above the top layer of wall sites (the closest approach of
oxygen centres, where the first water layer sits on an attractive wall). Its
error is the standard error over blocks of the run.

Lengths in nm, times in ps, energies in kJ/mol, densities in molecules/nm^3,
angles in degrees.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.contact_angle import (
    CircleFit,
    ContactAngleError,
    block_error,
    block_trend,
    fit_contact_angle,
)
from md_setups.builder import _CLEARANCE, _wall_lj
from md_setups.platforms import choose_platform
from md_setups.setup import Setup, validate_setup
from nanopore.provenance import annotate, provenance_attrs

#: number density of liquid water near 300 K (molecules/nm^3), to size the droplet
WATER_DENSITY = 33.4
#: the default box is wide enough for a droplet of this angle (degrees)
SMALLEST_ANGLE = 60.0


@dataclass(frozen=True)
class DropletSettings:
    """How the droplet run is set up and analysed.

    Attributes
    ----------
    waters : int
        Water molecules in the droplet (about; the half cylinder cut from a water
        box holds close to this many).
    width : float
        Box edge along x (nm); 0 sizes it for a droplet of 60 degrees plus twice
        the cut-off. Rounded up to whole lattice cells.
    duration : float
        Production time that is analysed (ps).
    equilibration : float
        Time before the production, not analysed (ps).
    frame_interval : float
        Time between analysed frames (ps).
    bin_width : float
        Edge of the density map's cells in x and z (nm).
    blocks : int
        Blocks of the production run for the error (at least 2).
    exclude : float
        Contour points lower than this above the top layer of wall sites (the
        first water layers) are not fitted (nm).
    epsilon : float or None
        Wall-oxygen epsilon (kJ/mol) instead of the setup's.
    seed : int or None
        Seed of the velocities and the integrator; default the setup's.
    """

    waters: int = 600
    width: float = 0.0
    duration: float = 100.0
    equilibration: float = 20.0
    frame_interval: float = 0.2
    bin_width: float = 0.1
    blocks: int = 4
    exclude: float = 0.6
    epsilon: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.waters >= 50, f"waters = {self.waters}: a droplet needs at least 50"),
            (self.width >= 0, f"width = {self.width} nm must be 0 (auto) or positive"),
            (self.duration > 0, f"duration = {self.duration} ps must be positive"),
            (self.equilibration >= 0, f"equilibration = {self.equilibration} ps must not be negative"),
            (self.frame_interval > 0, f"frame interval = {self.frame_interval} ps must be positive"),
            (0.01 <= self.bin_width <= 0.5, f"bin width = {self.bin_width} nm must lie in 0.01-0.5 nm"),
            (self.blocks >= 2, f"blocks = {self.blocks}: a block error needs at least 2"),
            (0.0 <= self.exclude <= 3.0, f"exclude = {self.exclude} nm must lie in 0-3 nm"),
            (self.epsilon is None or 0.0 <= self.epsilon <= 10.0,
             f"epsilon = {self.epsilon} kJ/mol must lie in 0-10 kJ/mol"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"contact angle: {message}")
        frames = self.duration / self.frame_interval
        if frames < 10 * self.blocks:
            raise ValueError(f"contact angle: {frames:.0f} frames are too few for {self.blocks} "
                             "blocks (at least 10 each); run longer or lower --frame-interval")


@dataclass
class Droplet:
    """A built droplet-on-wall system.

    Attributes
    ----------
    topology : openmm.app.Topology
    positions : ndarray, shape (n_atoms, 3)
        Positions (nm).
    system : openmm.System
    oxygen_indices : ndarray of int
        Water oxygens.
    box : ndarray, shape (3,)
        Box edges (nm).
    wall_top : float
        Height of the top layer of wall sites (nm).
    info : dict
        Counts and parameters.
    """

    topology: Any
    positions: np.ndarray
    system: Any
    oxygen_indices: np.ndarray
    box: np.ndarray
    wall_top: float
    info: dict[str, Any] = field(default_factory=dict)


def with_epsilon(setup: Setup, epsilon: float | None) -> Setup:
    """The setup with another wall-oxygen epsilon (kJ/mol); unchanged for None."""
    if epsilon is None:
        return setup
    values = setup.to_dict()
    values["wall"]["epsilon"] = float(epsilon)
    return validate_setup(values, source=setup.source)


def lattice_constants(setup: Setup) -> tuple[float, float, int]:
    """Lattice constants of the setup's wall.

    Returns
    -------
    a_xy, a_z : float
        In-plane and normal lattice constants (nm), exactly those of the pore wall
        (the spacing adjusted to fit the box and the wall thickness).
    layers : int
        Lattice cells across the wall thickness.
    """
    lateral = setup["box"]["lateral"]
    spacing = setup["wall"]["spacing"]
    length = setup["pore"]["length"]
    a_xy = lateral / max(1, round(lateral / spacing))
    layers = max(1, round(length / spacing))
    return a_xy, length / layers, layers


def slab_sites(lattice: str, a_xy: float, a_z: float, layers: int, cells_x: int, cells_y: int,
               z_bottom: float) -> np.ndarray:
    """Sites of a flat wall slab, periodic in x and y.

    The same construction as the pore wall (:func:`md_setups.builder.wall_sites`)
    without the pore: ``layers + 1`` planes of a simple cubic lattice, plus for
    ``fcc`` the face-centred sites (the top plane is a (100) face).

    Parameters
    ----------
    lattice : {"cubic", "fcc"}
    a_xy, a_z : float
        Lattice constants in the plane and along z (nm).
    layers : int
        Cells across the slab.
    cells_x, cells_y : int
        Cells along x and y.
    z_bottom : float
        Height of the lowest plane (nm).

    Returns
    -------
    ndarray, shape (n_sites, 3)
        Positions (nm).
    """
    gx, gy = np.arange(cells_x) * a_xy, np.arange(cells_y) * a_xy
    zs = z_bottom + np.arange(layers + 1) * a_z
    points = [np.stack(np.meshgrid(gx, gy, zs, indexing="ij"), axis=-1).reshape(-1, 3)]
    if lattice == "fcc":
        half_xy, half_z = 0.5 * a_xy, 0.5 * a_z
        for shift in ((half_xy, half_xy, 0.0), (half_xy, 0.0, half_z), (0.0, half_xy, half_z)):
            zs_shift = zs[:-1] + shift[2] if shift[2] else zs
            mesh = np.meshgrid(gx + shift[0], gy + shift[1], zs_shift, indexing="ij")
            points.append(np.stack(mesh, axis=-1).reshape(-1, 3))
    return np.concatenate(points)


def droplet_box(setup: Setup, settings: DropletSettings) -> dict[str, float | int]:
    """Box and droplet sizes for a setup.

    Returns
    -------
    dict
        ``cells_x``, ``cells_y`` (lattice cells), ``box_x``, ``box_y``, ``box_z``
        (nm), ``start_radius`` (nm; the half cylinder it starts as), ``wall_bottom``
        and ``wall_top`` (nm).
    """
    a_xy, _, _ = lattice_constants(setup)
    cutoff = setup["simulation"]["cutoff"]
    cells_y = math.ceil((2.0 * cutoff + 0.2) / a_xy)
    box_y = cells_y * a_xy
    area = settings.waters / (WATER_DENSITY * box_y)
    theta = math.radians(SMALLEST_ANGLE)
    radius_min_angle = math.sqrt(area / (theta - math.sin(theta) * math.cos(theta)))
    width = settings.width or 2.0 * radius_min_angle * math.sin(theta) + 2.0 * cutoff
    start_radius = math.sqrt(2.0 * area / math.pi)
    width = max(width, 2.0 * start_radius + 2.0 * cutoff)
    cells_x = math.ceil(width / a_xy - 1e-9)
    wall_bottom = 0.2
    wall_top = wall_bottom + setup["pore"]["length"]
    tallest = 2.0 * math.sqrt(area / math.pi)  # a detached cylinder
    box_z = wall_top + 0.5 + tallest + cutoff + 0.5
    return {"cells_x": cells_x, "cells_y": cells_y, "box_x": cells_x * a_xy, "box_y": box_y,
            "box_z": box_z, "start_radius": start_radius, "wall_bottom": wall_bottom,
            "wall_top": wall_top}


def build_droplet(setup: Setup, settings: DropletSettings) -> Droplet:
    """Build a half-cylinder of water on a flat slab of the setup's wall.

    Parameters
    ----------
    setup : Setup
        The pore setup whose wall, water model and nonbonded settings are used
        (with ``settings.epsilon`` if given).
    settings : DropletSettings

    Returns
    -------
    Droplet
    """
    import openmm
    from openmm import app, unit
    from scipy.spatial import cKDTree

    setup = with_epsilon(setup, settings.epsilon)
    sizes = droplet_box(setup, settings)
    a_xy, a_z, layers = lattice_constants(setup)
    box = np.array([sizes["box_x"], sizes["box_y"], sizes["box_z"]])
    forcefield = app.ForceField(setup.water_forcefield)
    model = setup["solvent"]["water_model"]
    radius = float(sizes["start_radius"])
    base = float(sizes["wall_top"]) + _CLEARANCE * setup["wall"]["sigma"]

    modeller = app.Modeller(app.Topology(), [])
    height = 1.25 * radius + 0.3
    solvent_box = openmm.Vec3(box[0], box[1], height) * unit.nanometer
    modeller.addSolvent(forcefield, model=model, boxSize=solvent_box, neutralize=False)
    positions = np.array(modeller.getPositions().value_in_unit(unit.nanometer))
    residues = list(modeller.topology.residues())
    oxygen_atoms = np.array([next(a.index for a in res.atoms()
                                  if a.element is not None and a.element.symbol == "O")
                             for res in residues])
    residue_of_atom = np.array([a.residue.index for a in modeller.topology.atoms()])
    # wrap whole molecules into the solvent box (Modeller centres it on the origin), then lift it
    solvent_edges = np.array([box[0], box[1], height])
    shift = -np.floor(positions[oxygen_atoms] / solvent_edges) * solvent_edges
    shift[:, 2] += base
    positions += shift[residue_of_atom]
    oxygens = positions[oxygen_atoms]
    # the water box is not periodic in a box of this size: drop close pairs across its faces
    periodic = cKDTree(np.mod(oxygens, np.array([box[0], box[1], 1e6])),
                       boxsize=np.array([box[0], box[1], 1e6]))
    close = periodic.query_pairs(0.23, output_type="ndarray")
    distance = np.hypot(oxygens[:, 0] - 0.5 * box[0], oxygens[:, 2] - base)
    if len(close):
        distance[close[:, 1]] = np.inf
    # the half cylinder: the requested number of waters nearest to the middle of its base
    inside = np.zeros(len(oxygens), dtype=bool)
    inside[np.argsort(distance)[:settings.waters]] = True
    inside &= np.isfinite(distance)
    modeller.positions = positions * unit.nanometer
    modeller.delete([res for res in residues if not inside[res.index]])
    n_water = int(inside.sum())
    if n_water < settings.waters:
        raise ContactAngleError(f"only {n_water} waters fit in the starting half cylinder "
                                f"(asked for {settings.waters})")
    radius = float(distance[inside].max())

    method = app.PME if setup["simulation"]["nonbonded"] == "pme" else app.CutoffPeriodic
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=method,
        nonbondedCutoff=setup["simulation"]["cutoff"] * unit.nanometer,
        constraints=None, rigidWater=True, ewaldErrorTolerance=5e-4, removeCMMotion=False)
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    oxygen_indices = np.array([a.index for a in modeller.topology.atoms()
                               if a.element is not None and a.element.symbol == "O"])
    _, sigma_o, epsilon_o = nonbonded.getParticleParameters(int(oxygen_indices[0]))
    sigma_wall, epsilon_wall = _wall_lj(setup, sigma_o.value_in_unit(unit.nanometer),
                                        epsilon_o.value_in_unit(unit.kilojoule_per_mole))

    sites = slab_sites(setup["wall"]["lattice"], a_xy, a_z, layers, int(sizes["cells_x"]),
                       int(sizes["cells_y"]), float(sizes["wall_bottom"]))
    wall = app.Topology()
    chain = wall.addChain("W")
    for _ in range(len(sites)):
        wall.addAtom("C", app.element.carbon, wall.addResidue("WAL", chain))
    modeller.add(wall, sites * unit.nanometer)
    for _ in range(len(sites)):
        system.addParticle(0.0)
        nonbonded.addParticle(0.0, sigma_wall, epsilon_wall)
    vectors = [openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0), openmm.Vec3(0, 0, box[2])]
    modeller.topology.setPeriodicBoxVectors(vectors * unit.nanometer)
    system.setDefaultPeriodicBoxVectors(*modeller.topology.getPeriodicBoxVectors())
    info = {
        "n_water": n_water, "n_wall": len(sites), "box_nm": box.round(6).tolist(),
        "lattice": setup["wall"]["lattice"], "lattice_constant_xy_nm": a_xy,
        "lattice_constant_z_nm": a_z, "wall_thickness_nm": setup["pore"]["length"],
        "wall_oxygen_sigma_nm": setup["wall"]["sigma"],
        "wall_oxygen_epsilon_kj_mol": setup["wall"]["epsilon"],
        "wall_site_sigma_nm": sigma_wall, "wall_site_epsilon_kj_mol": epsilon_wall,
        "water_model": model, "nonbonded": setup["simulation"]["nonbonded"],
        "cutoff_nm": setup["simulation"]["cutoff"], "start_radius_nm": radius,
    }
    return Droplet(modeller.topology, np.array(modeller.getPositions().value_in_unit(unit.nanometer)),
                   system, oxygen_indices, box, float(sizes["wall_top"]), info)


class DensityAccumulator:
    """Time-averaged oxygen density in the x-z plane, per block.

    Parameters
    ----------
    box : ndarray, shape (3,)
        Box edges (nm).
    wall_top : float
        Height of the top layer of wall sites (nm); z of the map is measured from it.
    bin_width : float
        Cell edge (nm).
    blocks : int
        Number of blocks.
    """

    def __init__(self, box: np.ndarray, wall_top: float, bin_width: float, blocks: int):
        self.box = np.asarray(box, dtype=float)
        self.wall_top = float(wall_top)
        half = 0.5 * self.box[0]
        n_x = max(2, round(self.box[0] / bin_width))
        n_z = max(2, round((self.box[2] - wall_top) / bin_width))
        self.x_edges = np.linspace(-half, half, n_x + 1)
        self.z_edges = np.linspace(0.0, n_z * bin_width, n_z + 1)
        self.counts = np.zeros((blocks, n_x, n_z))
        self.frames = np.zeros(blocks, dtype=int)
        self.centers: list[float] = []

    @property
    def x(self) -> np.ndarray:
        """Cell centres along x, relative to the droplet's centre (nm)."""
        return 0.5 * (self.x_edges[1:] + self.x_edges[:-1])

    @property
    def z(self) -> np.ndarray:
        """Cell centres along z, above the top layer of wall sites (nm)."""
        return 0.5 * (self.z_edges[1:] + self.z_edges[:-1])

    def add(self, oxygens: np.ndarray, block: int) -> None:
        """Bin one frame's oxygen positions (nm) into a block."""
        length = self.box[0]
        phase = 2.0 * np.pi * oxygens[:, 0] / length
        center = math.atan2(np.sin(phase).mean(), np.cos(phase).mean()) * length / (2.0 * np.pi)
        dx = oxygens[:, 0] - center
        dx -= length * np.round(dx / length)
        height = np.mod(oxygens[:, 2], self.box[2]) - self.wall_top
        counts, _, _ = np.histogram2d(dx, height, bins=(self.x_edges, self.z_edges))
        self.counts[block] += counts
        self.frames[block] += 1
        self.centers.append(float(np.mod(center, length)))

    def density(self, block: int | None = None) -> np.ndarray:
        """Density map (molecules/nm^3) of one block, or of all together."""
        volume = np.diff(self.x_edges)[:, None] * np.diff(self.z_edges)[None, :] * self.box[1]
        if block is None:
            return self.counts.sum(axis=0) / (self.frames.sum() * volume)
        return self.counts[block] / (self.frames[block] * volume)


@dataclass
class ContactAngleResult:
    """A measured contact angle and what it came from.

    Attributes
    ----------
    theta, theta_error : float
        Contact angle and its block standard error (degrees).
    block_theta : ndarray
        Angle of each block (degrees).
    fit : CircleFit
        Fit to the whole production run.
    paths : dict of str to Path
        Files written.
    info : dict
        System, settings and run statistics.
    """

    theta: float
    theta_error: float
    block_theta: np.ndarray
    fit: CircleFit
    paths: dict[str, Path]
    info: dict[str, Any]

    def design_command(self, setup: Setup) -> str:
        """The ``nanopore design`` command for the setup's pore at this angle."""
        return design_command(setup, self.theta)


def design_command(setup: Setup, theta: float) -> str:
    """The ``nanopore design`` command line for the setup's pore at a contact angle.

    Parameters
    ----------
    setup : Setup
        Gives the pore radius and length (nm) and the temperature (K).
    theta : float
        Contact angle (degrees).

    Returns
    -------
    str
    """
    args = ["nanopore", "design", "--radius", f"{setup['pore']['radius']:g}",
            "--length", f"{setup['pore']['length']:g}", "--contact-angle", f"{theta:.1f}",
            "--temperature", f"{setup['simulation']['temperature']:g}"]
    return shlex.join(args)


def run_contact_angle(setup: Setup, out: str | os.PathLike, settings: DropletSettings,
                      figure: str | os.PathLike | None = None,
                      progress: bool = True) -> ContactAngleResult:
    """Build the droplet, run NVT MD and measure the contact angle.

    Parameters
    ----------
    setup : Setup
        Pore setup whose wall, water and nonbonded settings are used.
    out : path-like
        Output directory: ``droplet.pdb`` (the start), ``contact_angle.nc`` (density
        maps, written before the fit, so a failed fit keeps the run) and
        ``contact_angle.json`` (the result).
    settings : DropletSettings
    figure : path-like, optional
        Image of the density map with the fitted circle (.png, .pdf, .svg).
    progress : bool
        Show a progress bar.

    Returns
    -------
    ContactAngleResult
    """
    import openmm
    from openmm import app, unit

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setup = with_epsilon(setup, settings.epsilon)
    droplet = build_droplet(setup, settings)
    with open(out / "droplet.pdb", "w") as handle:
        app.PDBFile.writeFile(droplet.topology, droplet.positions * unit.nanometer, handle)

    sim = setup["simulation"]
    seed = settings.seed if settings.seed is not None else setup["run"]["seed"]
    seed = seed % (2**31 - 2) + 1  # OpenMM treats 0 as "pick one"
    platform, properties = choose_platform(sim["platform"], sim["precision"], sim["threads"])
    integrator = openmm.LangevinMiddleIntegrator(sim["temperature"] * unit.kelvin,
                                                 sim["friction"] / unit.picosecond,
                                                 sim["timestep"] * unit.picoseconds)
    integrator.setRandomNumberSeed(seed)
    context = openmm.Context(droplet.system, integrator, platform, properties)
    context.setPositions(droplet.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 1000)
    context.setVelocitiesToTemperature(sim["temperature"] * unit.kelvin, seed)

    dt = sim["timestep"]
    per_frame = max(1, round(settings.frame_interval / dt))
    n_frames = math.ceil(settings.duration / (per_frame * dt))
    n_equil = round(settings.equilibration / dt)
    accumulator = DensityAccumulator(droplet.box, droplet.wall_top, settings.bin_width,
                                     settings.blocks)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_equil + n_frames * per_frame, unit="step", leave=False,
                   desc="contact-angle droplet", dynamic_ncols=True)
    started = time.perf_counter()
    try:
        for start in range(0, n_equil, 1000):
            chunk = min(1000, n_equil - start)
            integrator.step(chunk)
            if bar is not None:
                bar.update(chunk)
        for frame in range(n_frames):
            integrator.step(per_frame)
            state = context.getState(getPositions=True)
            positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            accumulator.add(np.asarray(positions)[droplet.oxygen_indices],
                            frame * settings.blocks // n_frames)
            if bar is not None:
                bar.update(per_frame)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    steps = n_equil + n_frames * per_frame
    info = dict(droplet.info)
    info.update({
        "setup": setup.source, "duration_ps": n_frames * per_frame * dt,
        "equilibration_ps": n_equil * dt, "frame_interval_ps": per_frame * dt,
        "frames": n_frames, "blocks": settings.blocks, "bin_width_nm": settings.bin_width,
        "exclude_nm": settings.exclude, "seed": seed, "platform": platform.getName(),
        "temperature_k": sim["temperature"], "ns_per_day": steps * dt / max(elapsed, 1e-9) * 86.4,
        "wall_top_nm": droplet.wall_top,
    })
    paths = {"pdb": out / "droplet.pdb", "nc": out / "contact_angle.nc",
             "json": out / "contact_angle.json"}
    write_maps(accumulator, info, paths["nc"], settings)
    block_maps = [accumulator.density(b) for b in range(settings.blocks)]
    return _fit_and_write(accumulator.density(), block_maps, accumulator.x, accumulator.z, info,
                          paths, setup, settings, figure)


def refit_contact_angle(setup: Setup, out: str | os.PathLike, exclude: float,
                        figure: str | os.PathLike | None = None) -> ContactAngleResult:
    """Fit the density maps of a finished run again, without running MD.

    Parameters
    ----------
    setup : Setup
        Gives the pore of the printed ``nanopore design`` command.
    out : path-like
        Directory of the run (holds ``contact_angle.nc``).
    exclude : float
        Contour points lower than this above the wall sites are not fitted (nm).
    figure : path-like, optional
        Image of the density map with the fitted circle.

    Returns
    -------
    ContactAngleResult
    """
    import xarray as xr

    out = Path(out)
    paths = {"pdb": out / "droplet.pdb", "nc": out / "contact_angle.nc",
             "json": out / "contact_angle.json"}
    if not paths["nc"].exists():
        raise FileNotFoundError(f"{paths['nc']} does not exist; run `nanopore md contact-angle "
                                f"SETUP --out {out}` first")
    with xr.open_dataset(paths["nc"], engine="h5netcdf") as stored:
        ds = stored.load()
    info = json.loads(ds.attrs["system"])
    info["exclude_nm"] = exclude
    settings = DropletSettings(waters=info["n_water"], duration=info["duration_ps"],
                               equilibration=info["equilibration_ps"],
                               frame_interval=info["frame_interval_ps"],
                               bin_width=info["bin_width_nm"], blocks=info["blocks"],
                               exclude=exclude, epsilon=info["wall_oxygen_epsilon_kj_mol"],
                               seed=info["seed"])
    setup = with_epsilon(setup, settings.epsilon)
    return _fit_and_write(ds["density"].values, list(ds["block_density"].values), ds["x"].values,
                          ds["z"].values, info, paths, setup, settings, figure)


def _fit_and_write(density: np.ndarray, block_maps: list[np.ndarray], x: np.ndarray,
                   z: np.ndarray, info: dict[str, Any], paths: dict[str, Path], setup: Setup,
                   settings: DropletSettings,
                   figure: str | os.PathLike | None) -> ContactAngleResult:
    block_theta, fit = analyse_maps(density, block_maps, x, z, info["wall_oxygen_sigma_nm"],
                                    settings.exclude)
    result = finish(block_theta, fit, info, paths, setup, settings)
    if figure is not None:
        paths["figure"] = plot_density(density, x, z, fit, float(result["theta_deg"]),
                                       float(result["theta_error_deg"]), settings.exclude, figure)
    return ContactAngleResult(float(result["theta_deg"]), float(result["theta_error_deg"]),
                              block_theta, fit, paths, result)


def analyse_maps(density: np.ndarray, block_maps: list[np.ndarray], x: np.ndarray,
                 z: np.ndarray, z_base: float, exclude: float) -> tuple[np.ndarray, CircleFit]:
    """Fit the contact angle of the whole run and of each block.

    The level is half the liquid density of the whole run's map; each block is
    fitted at the same plane and level.

    Parameters
    ----------
    density : ndarray, shape (n_x, n_z)
        Map of the whole production run (molecules/nm^3).
    block_maps : list of ndarray
        One map per block.
    x, z : ndarray
        Cell centres (nm): x from the droplet's centre, z above the top wall layer.
    z_base : float
        Base plane where the angle is taken (nm above the top wall layer).
    exclude : float
        Contour points below this height are not fitted (nm).

    Returns
    -------
    block_theta : ndarray
        Angle of each block (degrees).
    fit : CircleFit
        Fit of the whole run.
    """
    fit = fit_contact_angle(density, x, z, z_base, exclude)
    thetas = []
    for k, block in enumerate(block_maps):
        try:
            thetas.append(fit_contact_angle(block, x, z, z_base, exclude, level=fit.level).theta)
        except ContactAngleError as err:
            raise ContactAngleError(f"block {k + 1} of {len(block_maps)}: {err}; use fewer "
                                    "blocks or a longer run") from None
    return np.array(thetas), fit


def finish(block_theta: np.ndarray, fit: CircleFit, info: dict[str, Any], paths: dict[str, Path],
           setup: Setup, settings: DropletSettings) -> dict[str, Any]:
    """Write the result (JSON, and the fit into the netCDF file) and return it as a dict."""
    import xarray as xr

    from nanopore.profile import write_dataset

    error = block_error(block_theta)
    drift, p_value = block_trend(block_theta) if len(block_theta) >= 3 else (0.0, 1.0)
    result = {
        "theta_deg": fit.theta, "theta_error_deg": error, "block_theta_deg": block_theta.tolist(),
        # a straight line through the blocks: its change over the run and the slope's p-value
        "drift_over_run_deg": drift, "drift_p_value": p_value,
        "drift_significant": bool(p_value < 0.05),
        "circle_center_x_nm": fit.center_x, "circle_center_z_nm": fit.center_z,
        "circle_radius_nm": fit.radius, "base_plane_z_nm": fit.z_base,
        "base_half_width_nm": fit.base_radius, "detached": fit.detached, "liquid_density_per_nm3": fit.liquid_density,
        "contour_level_per_nm3": fit.level, "contour_points": len(fit.points),
        "fit_rms_residual_nm": fit.rms_residual, **info,
    }
    result["design_command"] = design_command(setup, fit.theta)
    result["provenance"] = provenance_attrs("md_setups.contact_angle", inputs=setup.source,
                                            parameters={"settings": asdict(settings),
                                                        "setup": setup.to_dict()})
    with xr.open_dataset(paths["nc"], engine="h5netcdf") as stored:
        ds = stored.load()
    ds = ds.drop_vars(["block_theta", "contour_x", "contour_z"], errors="ignore")
    ds["block_theta"] = ("block", block_theta)
    ds["contour_x"] = ("point", fit.points[:, 0])
    ds["contour_z"] = ("point", fit.points[:, 1])
    annotate(ds, {"block_theta": ("degree", "contact angle of each block"),
                  "contour_x": ("nm", "iso-density contour point, x"),
                  "contour_z": ("nm", "iso-density contour point, z")})
    ds.attrs["system"] = json.dumps(info)
    for key in ("theta_deg", "theta_error_deg", "circle_center_x_nm", "circle_center_z_nm",
                "circle_radius_nm", "base_plane_z_nm", "liquid_density_per_nm3",
                "contour_level_per_nm3"):
        ds.attrs[key] = float(result[key])
    write_dataset(ds, paths["nc"])
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, paths["json"])
    return result


def write_maps(accumulator: DensityAccumulator, info: dict[str, Any], path: Path,
               settings: DropletSettings) -> Path:
    """Write the density maps (whole run and per block) as netCDF."""
    import xarray as xr

    from nanopore.profile import write_dataset

    maps = np.stack([accumulator.density(b) for b in range(settings.blocks)])
    ds = xr.Dataset(
        {"density": (("x", "z"), accumulator.density()),
         "block_density": (("block", "x", "z"), maps),
         "block_frames": ("block", accumulator.frames),
         "droplet_center": ("frame", np.array(accumulator.centers))},
        coords={"x": accumulator.x, "z": accumulator.z, "block": np.arange(settings.blocks)})
    annotate(ds, {
        "density": ("1/nm^3", "water oxygen number density, time average"),
        "block_density": ("1/nm^3", "water oxygen number density per block"),
        "block_frames": ("1", "frames per block"),
        "droplet_center": ("nm", "x of the droplet's centre per frame"),
        "x": ("nm", "distance from the droplet's centre along x"),
        "z": ("nm", "height above the top layer of wall sites"),
    })
    ds.attrs.update(provenance_attrs("md_setups.contact_angle", inputs=info["setup"],
                                     parameters={"settings": asdict(settings)}))
    ds.attrs["system"] = json.dumps(info)
    ds.attrs["temperature"] = info["temperature_k"]
    return write_dataset(ds, path)


def plot_density(density: np.ndarray, x: np.ndarray, z: np.ndarray, fit: CircleFit,
                 theta: float, error: float, exclude: float, path: str | os.PathLike) -> Path:
    """Image of the density map with the fitted circle, the base plane and the exclusion height."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
    image = ax.pcolormesh(x, z, density.T, shading="nearest", cmap="Blues")
    fig.colorbar(image, ax=ax, label="oxygen density (1/nm³)")
    angle = np.linspace(0.0, 2.0 * np.pi, 400)
    circle_x = fit.center_x + fit.radius * np.cos(angle)
    circle_z = fit.center_z + fit.radius * np.sin(angle)
    above = circle_z >= fit.z_base
    ax.plot(np.where(above, circle_x, np.nan), np.where(above, circle_z, np.nan), "r-",
            label="fitted circle")
    ax.plot(fit.points[:, 0], fit.points[:, 1], "k.", ms=2, label="contour (fitted)")
    ax.axhline(fit.z_base, color="orange", lw=1, label="base plane")
    ax.axhline(exclude, color="grey", lw=1, ls="--", label="exclusion height")
    ax.set_xlabel("x from droplet centre (nm)")
    ax.set_ylabel("z above wall sites (nm)")
    ax.set_aspect("equal")
    ax.set_title(f"contact angle {theta:.1f} ± {error:.1f}°")
    ax.legend(loc="upper right", fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def summary_lines(result: ContactAngleResult, setup: Setup) -> list[str]:
    """Lines that ``nanopore md contact-angle`` prints about a result."""
    info = result.info
    lines = [
        (f"contact angle {result.theta:.1f} ± {result.theta_error:.1f} degrees "
         f"(block standard error; blocks {', '.join(f'{t:.1f}' for t in result.block_theta)})"),
        (f"  wall: {info['lattice']} lattice {info['lattice_constant_xy_nm']:.3f} nm, "
         f"wall-oxygen sigma {info['wall_oxygen_sigma_nm']:g} nm, epsilon "
         f"{info['wall_oxygen_epsilon_kj_mol']:g} kJ/mol; {info['n_water']} "
         f"{info['water_model']} waters, box {' x '.join(f'{v:.2f}' for v in info['box_nm'])} nm"),
        (f"  circle R = {result.fit.radius:.2f} nm, base plane {result.fit.z_base:.2f} nm above "
         f"the wall sites, contact half-width {result.fit.base_radius:.2f} nm; "
         f"{info['duration_ps']:g} ps analysed after {info['equilibration_ps']:g} ps "
         f"({info['ns_per_day']:.1f} ns/day, {info['platform']})"),
    ]
    if result.fit.detached:
        lines.append("  the fitted circle lies above the base plane: the droplet does not wet "
                     "the wall (180 degrees)")
    if info.get("drift_significant"):
        lines.append(f"  note: the angle drifts by {info['drift_over_run_deg']:+.1f} degrees over "
                     f"the run (p = {info['drift_p_value']:.3f}): the droplet is still relaxing; "
                     "equilibrate longer (--equilibration)")
    lines.append("compare with the continuum model of the setup's pore at this angle:")
    lines.append(f"  {result.design_command(setup)}")
    return lines
