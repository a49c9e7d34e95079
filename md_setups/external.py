"""Pores prepared elsewhere: run the toolkit's windows on an OpenMM, GROMACS or CHARMM system.

A setup with a ``[system]`` section describes a system built by another tool (a
protein pore from CHARMM-GUI, a GROMACS membrane system, an OpenMM script)
instead of the model pore of :mod:`md_setups.builder`::

    [system]
    format = "gromacs"                # openmm | gromacs | charmm
    topology = "pore.top"             # openmm: System .xml; gromacs: .top; charmm: .psf
    coordinates = "pore.gro"          # openmm: .pdb; gromacs: .gro; charmm: .crd or .pdb
    lining = "protein and resid 110-130 and name CA"   # MDAnalysis selection
    axis = "principal"                # or "z"
    radius = 0.0                      # nm; 0 measures it from the lining atoms
    restrain = "protein and backbone" # optional position restraints (heavy atoms only)

The other sections (``[simulation]``, ``[cv]``, ``[windows]``, ``[run]``,
``[pipeline]``) mean what they mean for a built pore; ``[pore]``, ``[wall]``,
``[solvent]``, ``[box]`` and ``[charges]`` describe the builder's pore and are
refused. Paths are relative to the setup file.

Pore region. The lining atoms define it: the axis passes through their centroid,
along z or along their principal axis (the eigenvector of their gyration tensor
whose eigenvalue stands apart from the other two, which is the axis of a
cylindrical shell whether it is long or short); the CV region spans their z
extent; the radius is the mean distance of their centres from the axis (the same
meaning as the builder's lining radius) unless given. The collective variable and
the field act along z, so a principal axis more than ``max_tilt`` degrees off z is
refused: rotate the system so that the pore runs along z (membrane builders do).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from md_setups.setup import REQUIRED, Key, Setup, SetupError, validate_setup
from nanopore.cv import PoreCV

#: residue names taken for water by the default oxygen selection
WATER_SELECTION = "resname HOH WAT SOL TIP3 TIP4 SPC SPCE T3P T4P and name O OW OH2"

SYSTEM_SCHEMA: dict[str, Key] = {
    "format": Key(str, REQUIRED, choices=("openmm", "gromacs", "charmm"),
                  help="engine whose files describe the system"),
    "topology": Key(str, REQUIRED, help="openmm: serialized System (.xml); gromacs: .top; "
                                       "charmm: .psf"),
    "coordinates": Key(str, REQUIRED, help="openmm: .pdb; gromacs: .gro; charmm: .crd or .pdb"),
    "parameters": Key(list, [], help="charmm: parameter/topology/stream files (.prm, .rtf, .str)"),
    "include_dir": Key(str, "", help="gromacs: directory of #include files (force fields)"),
    "box": Key(list, [], 0.5, 100.0, units="nm",
               help="box edges [x, y, z] (charmm .crd files carry no box; elsewhere from the files)"),
    "lining": Key(str, REQUIRED, help="MDAnalysis selection of the atoms lining the pore"),
    "water": Key(str, WATER_SELECTION, help="MDAnalysis selection of the water oxygens (the CV)"),
    "axis": Key(str, "principal", choices=("principal", "z"),
                help="pore axis: principal axis of the lining atoms, or z through their centroid"),
    "max_tilt": Key(float, 10.0, 0.0, 45.0, units="degrees",
                    help="largest angle between the principal axis and z that is accepted"),
    "radius": Key(float, 0.0, 0.0, 5.0, units="nm",
                  help="pore radius; 0 measures the mean distance of the lining atoms from the axis"),
    "fill": Key(str, "wet", choices=("wet", "dry"),
                help="state of the pore in the coordinates (sets the order the windows run in)"),
    "symmetric_pore": Key(bool, False,
                          help="the pore is mirror-symmetric and uncharged (no linear voltage term)"),
    "restrain": Key(str, "", help="MDAnalysis selection of atoms held by position restraints "
                                  "(hydrogens are left out); empty: none"),
    "restraint_constant": Key(float, 1000.0, 0.0, 1.0e6, units="kJ/mol/nm^2",
                              help="spring constant of the position restraints"),
    "constraints": Key(str, "hbonds", choices=("none", "hbonds", "allbonds"),
                       help="gromacs/charmm: bonds made rigid (water is always rigid)"),
}

#: sections that describe the builder's pore and have no meaning for a prepared system
BUILDER_SECTIONS = ("pore", "wall", "solvent", "box", "charges")
#: force group of the position restraints (the CV restraint and field use 1 and 2)
POSRES_GROUP = 3
POSRES_CONSTANT = "posres_k"


class ExternalSystemError(SetupError):
    """A prepared system that cannot be used."""


@dataclass(frozen=True)
class PoreGeometry:
    """The pore region found from the lining atoms (nm).

    Attributes
    ----------
    center : ndarray, shape (3,)
        Centroid of the lining atoms.
    axis : ndarray, shape (3,)
        Unit vector of the pore axis (z or the principal axis).
    tilt_degrees : float
        Angle between the axis and z.
    z_lo, z_hi : float
        Extent of the lining atoms along z.
    radius : float
        Radius used by the CV (given, or the mean lining distance).
    lining_radii : tuple of float
        Minimum, mean and maximum distance of the lining atoms from the axis.
    box : ndarray, shape (3,)
        Box edges.
    n_lining : int
        Number of lining atoms.
    """

    center: np.ndarray
    axis: np.ndarray
    tilt_degrees: float
    z_lo: float
    z_hi: float
    radius: float
    lining_radii: tuple[float, float, float]
    box: np.ndarray
    n_lining: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (nm, degrees)."""
        return {"center_nm": [float(c) for c in self.center], "axis": [float(a) for a in self.axis],
                "tilt_degrees": float(self.tilt_degrees), "z_lo_nm": float(self.z_lo),
                "z_hi_nm": float(self.z_hi), "radius_nm": float(self.radius),
                "lining_radius_min_mean_max_nm": [float(r) for r in self.lining_radii],
                "box_nm": [float(b) for b in self.box], "n_lining": int(self.n_lining)}


@dataclass(frozen=True)
class ExternalSetup(Setup):
    """A setup whose system comes from files prepared elsewhere.

    ``values`` holds the validated ``[system]`` section and the run sections, plus
    ``pore``/``box`` sections derived from the measured geometry (so that code
    reading the pore radius and length sees the lining's); :meth:`to_dict` returns
    only what the user gave, so that a setup rebuilt from it is the same.
    """

    geometry: PoreGeometry | None = None
    directory: str = "."

    @property
    def system(self) -> dict[str, Any]:
        """The validated ``[system]`` section."""
        return self.values["system"]

    @property
    def box_edges(self) -> np.ndarray:
        """Box edge lengths (nm), from the prepared system."""
        return np.array(self.geometry.box, dtype=float)

    @property
    def box_height(self) -> float:
        """Box edge along z (nm)."""
        return float(self.geometry.box[2])

    @property
    def pore_center(self) -> np.ndarray:
        """Centre of the pore region (nm): the lining atoms' centroid in x and y, mid-extent in z."""
        g = self.geometry
        return np.array([g.center[0], g.center[1], 0.5 * (g.z_lo + g.z_hi)])

    @property
    def mirror_symmetric(self) -> bool:
        """As stated by ``[system] symmetric_pore`` (default false)."""
        return bool(self.system["symmetric_pore"])

    @property
    def cv(self) -> PoreCV:
        """The water count in the measured pore region (``[cv]`` keys override)."""
        g, cv = self.geometry, self.values["cv"]
        center = self.pore_center
        half = cv["z_half_length"] or 0.5 * (g.z_hi - g.z_lo)
        return PoreCV(radius=float(cv["radius"] or g.radius), z_lo=float(center[2] - half),
                      z_hi=float(center[2] + half), smoothing=cv["smoothing"],
                      center_x=float(center[0]), center_y=float(center[1]))

    def path(self, key: str) -> Path:
        """A file named in ``[system]``, relative to the setup file."""
        return resolve(self.directory, self.system[key])

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The sections the user gave (derived ``pore``/``box`` left out)."""
        return {section: json.loads(json.dumps(values)) for section, values in self.values.items()
                if section not in BUILDER_SECTIONS}


def resolve(directory: str | os.PathLike, name: str) -> Path:
    """``name`` relative to ``directory`` unless absolute."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else Path(directory) / path


def validate_system_section(given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check the ``[system]`` keys and fill in defaults.

    Parameters
    ----------
    given : mapping
        The section as parsed.
    source : str
        Name used in messages.

    Returns
    -------
    dict
    """
    from md_setups.setup import _check

    if not isinstance(given, Mapping):
        raise SetupError(f"{source}: [system] must be a table of keys")
    extra = set(given) - set(SYSTEM_SCHEMA)
    if extra:
        raise SetupError(f"{source}: unknown key(s) {sorted(extra)} in [system]; allowed: "
                         f"{', '.join(SYSTEM_SCHEMA)}")
    values: dict[str, Any] = {}
    for key, spec in SYSTEM_SCHEMA.items():
        where = f"{source}: [system] {key}"
        value = given.get(key)
        if value is None:
            if spec.default is REQUIRED:
                raise SetupError(f"{where} is required ({spec.help})")
            values[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
        elif key == "parameters":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise SetupError(f"{where} must be a list of file names, e.g. [\"par.prm\"]")
            values[key] = list(value)
        elif key == "box":
            values[key] = _check(where, value, spec)
            if len(values[key]) != 3:
                raise SetupError(f"{where} must list three edges [x, y, z] (nm)")
        else:
            values[key] = _check(where, value, spec)
    for key in ("lining", "water", "topology", "coordinates"):
        if not values[key].strip():
            raise SetupError(f"{source}: [system] {key} must not be empty")
    if values["format"] == "charmm" and not values["parameters"]:
        raise SetupError(f"{source}: [system] format = \"charmm\" needs parameters = "
                         "[\"par_all36m_prot.prm\", ...] (the CHARMM parameter files)")
    return values


def external_setup(raw: Mapping[str, Any], source: str = "<dict>") -> ExternalSetup:
    """A validated :class:`ExternalSetup` from a parsed setup with a ``[system]`` section.

    Reads the structure (not the force field) to measure the pore region.

    Parameters
    ----------
    raw : mapping
        Sections as parsed from TOML.
    source : str
        The setup file (paths in ``[system]`` are relative to its directory).

    Returns
    -------
    ExternalSetup
    """
    given_builder = [s for s in BUILDER_SECTIONS if s in raw]
    if given_builder:
        raise SetupError(f"{source}: [{given_builder[0]}] describes a built model pore; a setup with "
                         "[system] takes its pore from the lining selection (remove the section)")
    system = validate_system_section(raw["system"], source)
    directory = str(Path(source).parent) if source != "<dict>" else "."
    topology, positions, box = load_structure(system, directory)
    geometry = measure_pore(topology, positions, box, system)
    rest = {section: values for section, values in raw.items() if section != "system"}
    length = float(np.clip(geometry.z_hi - geometry.z_lo, 0.3, 10.0))
    rest["pore"] = {"radius": float(np.clip(geometry.radius, 0.2, 3.0)), "length": length}
    rest["box"] = {"lateral": float(np.clip(min(box[0], box[1]), 1.5, 20.0)),
                   "reservoir": float(np.clip(0.5 * (box[2] - length), 0.5, 20.0))}
    rest["solvent"] = {"fill": system["fill"]}
    try:
        base = validate_setup(rest, source=source)
    except SetupError as err:
        raise SetupError(f"{err} (for the prepared system in [system])") from None
    values = dict(base.values)
    values["system"] = system
    return ExternalSetup(values=values, source=source, geometry=geometry, directory=directory)


# ------------------------------------------------------------------ structure
def load_structure(system: Mapping[str, Any], directory: str | os.PathLike) -> tuple[Any, np.ndarray, np.ndarray]:
    """Topology, positions (nm) and box edges (nm) of a prepared system.

    Parameters
    ----------
    system : mapping
        Validated ``[system]`` section.
    directory : path-like
        Directory the file names are relative to.

    Returns
    -------
    tuple
        ``(openmm.app.Topology, ndarray (n_atoms, 3), ndarray (3,))``
    """
    from openmm import app, unit

    topology_path = _existing(directory, system["topology"], "topology")
    coordinates_path = _existing(directory, system["coordinates"], "coordinates")
    kind = system["format"]
    try:
        if kind == "openmm":
            structure = _read_coordinates(coordinates_path)
            topology = structure.topology
            box = _box_of(topology, system, structure)
            if box is None:
                import openmm

                serialized = openmm.XmlSerializer.deserialize(topology_path.read_text())
                vectors = serialized.getDefaultPeriodicBoxVectors()
                box = np.diag(np.array([[v.x, v.y, v.z] for v in vectors]))
        elif kind == "gromacs":
            structure = app.GromacsGroFile(str(coordinates_path))
            vectors = structure.getPeriodicBoxVectors()
            top = app.GromacsTopFile(str(topology_path), periodicBoxVectors=vectors,
                                     includeDir=str(resolve(directory, system["include_dir"]))
                                     if system["include_dir"] else None)
            topology = top.topology
            box = _box_of(topology, system, structure)
        else:
            psf = app.CharmmPsfFile(str(topology_path))
            structure = (app.CharmmCrdFile(str(coordinates_path))
                         if coordinates_path.suffix.lower() != ".pdb" else _read_coordinates(coordinates_path))
            topology = psf.topology
            box = _box_of(None, system, None)
            if box is None:
                raise ExternalSystemError("[system] box = [x, y, z] (nm) is required with CHARMM "
                                          ".crd coordinates, which carry no box (CHARMM-GUI lists "
                                          "it in step*_input sysinfo)")
    except (OSError, ValueError, KeyError, IndexError) as err:
        if isinstance(err, ExternalSystemError):
            raise
        raise ExternalSystemError(f"cannot read the {kind} files {topology_path.name} / "
                                  f"{coordinates_path.name}: {err}") from None
    positions = np.array(structure.positions.value_in_unit(unit.nanometer)
                         if hasattr(structure.positions, "value_in_unit")
                         else structure.getPositions().value_in_unit(unit.nanometer), dtype=float)
    if len(positions) != topology.getNumAtoms():
        raise ExternalSystemError(f"{coordinates_path.name} has {len(positions)} atoms but "
                                  f"{topology_path.name} describes {topology.getNumAtoms()}")
    return topology, positions, np.asarray(box, dtype=float)


def _existing(directory: str | os.PathLike, name: str, key: str) -> Path:
    path = resolve(directory, name)
    if not path.exists():
        raise ExternalSystemError(f"[system] {key} = {name!r}: {path} does not exist")
    return path


def _read_coordinates(path: Path) -> Any:
    from openmm import app

    if path.suffix.lower() in (".cif", ".pdbx"):
        return app.PDBxFile(str(path))
    return app.PDBFile(str(path))


def _box_of(topology: Any, system: Mapping[str, Any], structure: Any) -> np.ndarray | None:
    """Box edges (nm): the [system] box key, else the coordinate file's; refuses a triclinic box."""
    from openmm import unit

    if system["box"]:
        return np.array(system["box"], dtype=float)
    vectors = None
    if structure is not None and hasattr(structure, "getPeriodicBoxVectors"):
        vectors = structure.getPeriodicBoxVectors()
    if vectors is None and topology is not None:
        vectors = topology.getPeriodicBoxVectors()
    if vectors is None:
        return None
    matrix = np.array(vectors.value_in_unit(unit.nanometer))
    if np.any(np.abs(matrix - np.diag(np.diag(matrix))) > 1e-6):
        raise ExternalSystemError("the box is triclinic; the pore's collective variable needs a "
                                  "rectangular box (prepare the system in a rectangular box)")
    return np.diag(matrix)


def universe(topology: Any, positions: np.ndarray, box: np.ndarray) -> Any:
    """An MDAnalysis Universe of an OpenMM topology at given positions (nm), for selections."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    with warnings.catch_warnings():  # "no coordinate reader": the positions are loaded next
        warnings.simplefilter("ignore", UserWarning)
        u = mda.Universe(topology)
    dimensions = np.concatenate([np.asarray(box, dtype=float) * 10.0, [90.0, 90.0, 90.0]])
    u.load_new(np.asarray(positions, dtype=np.float32)[None] * 10.0, format=MemoryReader,
               dimensions=dimensions)
    return u


def select(u: Any, selection: str, key: str) -> np.ndarray:
    """Indices (0-based) of an MDAnalysis selection; a one-line error for bad or empty ones."""
    try:
        atoms = u.select_atoms(selection)
    except Exception as err:  # MDAnalysis raises several kinds for a malformed selection
        raise ExternalSystemError(f"[system] {key} = {selection!r} is not a valid MDAnalysis "
                                  f"selection: {err}") from None
    if len(atoms) == 0:
        raise ExternalSystemError(f"[system] {key} = {selection!r} selects no atoms")
    return np.asarray(atoms.indices, dtype=int)


def measure_pore(topology: Any, positions: np.ndarray, box: np.ndarray,
                 system: Mapping[str, Any]) -> PoreGeometry:
    """The pore region of a prepared system from its lining atoms.

    Parameters
    ----------
    topology : openmm.app.Topology
    positions : ndarray, shape (n_atoms, 3)
        Positions (nm).
    box : ndarray, shape (3,)
        Box edges (nm).
    system : mapping
        Validated ``[system]`` section (``lining``, ``axis``, ``max_tilt``, ``radius``).

    Returns
    -------
    PoreGeometry
    """
    u = universe(topology, positions, box)
    lining = select(u, system["lining"], "lining")
    if lining.size < 3:
        raise ExternalSystemError(f"[system] lining selects {lining.size} atoms; at least 3 "
                                  "are needed to place an axis")
    points = np.asarray(positions, dtype=float)[lining]
    # unwrap around the circular mean, so that a pore across a periodic face stays whole
    phase = 2.0 * np.pi * points / box
    middle = np.mod(np.arctan2(np.sin(phase).mean(axis=0), np.cos(phase).mean(axis=0)), 2.0 * np.pi)
    middle *= box / (2.0 * np.pi)
    points = middle + _minimum_image(points - middle, box)
    center = points.mean(axis=0)
    if system["axis"] == "z":
        axis = np.array([0.0, 0.0, 1.0])
    else:
        axis = principal_axis(points)
    tilt = math.degrees(math.acos(min(1.0, abs(float(axis[2])))))
    if tilt > system["max_tilt"]:
        raise ExternalSystemError(
            f"the lining atoms' principal axis is {tilt:.1f} degrees off z (more than [system] "
            f"max_tilt = {system['max_tilt']}): the CV and the field act along z; rotate the "
            "system so that the pore runs along z, or set axis = \"z\"")
    delta = points - center
    along = delta @ axis
    radial = np.linalg.norm(delta - along[:, None] * axis, axis=1)
    z = points[:, 2]
    radius = float(system["radius"] or radial.mean())
    if radius <= 0.05:
        raise ExternalSystemError(f"the lining atoms lie {radius:.3f} nm from their axis: they do "
                                  "not surround a pore; check [system] lining")
    center = np.mod(center, box)
    shift = center[2] - points[:, 2].mean()
    return PoreGeometry(center=center, axis=axis, tilt_degrees=tilt, z_lo=float(z.min() + shift),
                        z_hi=float(z.max() + shift), radius=radius,
                        lining_radii=(float(radial.min()), float(radial.mean()), float(radial.max())),
                        box=np.asarray(box, dtype=float), n_lining=int(lining.size))


def principal_axis(points: np.ndarray) -> np.ndarray:
    """Axis of a cylindrical shell of points: the gyration eigenvector whose eigenvalue stands apart.

    A shell of radius R and length L has eigenvalues (R^2/2, R^2/2, L^2/12): the
    axis is the odd one, whether L^2/12 is larger or smaller than R^2/2.

    Parameters
    ----------
    points : ndarray, shape (n, 3)
        Positions (nm).

    Returns
    -------
    ndarray, shape (3,)
        Unit vector with a non-negative z component.
    """
    delta = points - points.mean(axis=0)
    values, vectors = np.linalg.eigh(delta.T @ delta / len(points))
    gaps = [abs(values[1] - values[2]), 0.0, abs(values[0] - values[1])]
    # eigenvalue 0 stands apart when values[1] ~ values[2]; eigenvalue 2 when values[0] ~ values[1]
    odd = 0 if gaps[0] < gaps[2] else 2
    axis = vectors[:, odd]
    return axis if axis[2] >= 0 else -axis


def _minimum_image(delta: np.ndarray, box: np.ndarray) -> np.ndarray:
    return delta - box * np.round(delta / box)


# --------------------------------------------------------------------- system
def create_system(setup: ExternalSetup, topology: Any) -> Any:
    """The OpenMM System of a prepared pore (no restraint, no field yet).

    Parameters
    ----------
    setup : ExternalSetup
    topology : openmm.app.Topology
        From :func:`load_structure` (used for CHARMM, whose System comes from the PSF).

    Returns
    -------
    openmm.System
    """
    import openmm
    from openmm import app, unit

    spec = setup.system
    sim = setup["simulation"]
    method = app.PME if sim["nonbonded"] == "pme" else app.CutoffPeriodic
    constraints = {"none": None, "hbonds": app.HBonds, "allbonds": app.AllBonds}[spec["constraints"]]
    options = {"nonbondedMethod": method, "nonbondedCutoff": sim["cutoff"] * unit.nanometer,
               "constraints": constraints, "rigidWater": True, "ewaldErrorTolerance": 5e-4,
               "removeCMMotion": False}
    box = setup.box_edges
    try:
        if spec["format"] == "openmm":
            system = openmm.XmlSerializer.deserialize(setup.path("topology").read_text())
            _check_ewald(system, setup)
        elif spec["format"] == "gromacs":
            vectors = [openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0), openmm.Vec3(0, 0, box[2])]
            include = str(setup.path("include_dir")) if spec["include_dir"] else None
            top = app.GromacsTopFile(str(setup.path("topology")), periodicBoxVectors=vectors,
                                     includeDir=include)
            system = top.createSystem(**options)
        else:
            psf = app.CharmmPsfFile(str(setup.path("topology")))
            psf.setBox(*(box * unit.nanometer))
            names = [str(resolve(setup.directory, p)) for p in spec["parameters"]]
            missing = [n for n in names if not Path(n).exists()]
            if missing:
                raise ExternalSystemError(f"[system] parameters: {missing[0]} does not exist")
            params = app.CharmmParameterSet(*names)
            system = psf.createSystem(params, **options)
    except ExternalSystemError:
        raise
    except Exception as err:  # the readers raise many kinds for missing or bad parameters
        raise ExternalSystemError(f"cannot create the {spec['format']} system: {err}") from None
    if system.getNumParticles() != topology.getNumAtoms():
        raise ExternalSystemError(f"the system has {system.getNumParticles()} particles but the "
                                  f"coordinates have {topology.getNumAtoms()} atoms")
    if not any(isinstance(f, openmm.NonbondedForce) for f in system.getForces()):
        raise ExternalSystemError("the system has no NonbondedForce: the field needs the charges")
    system.setDefaultPeriodicBoxVectors(openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0),
                                        openmm.Vec3(0, 0, box[2]))
    return system


def _check_ewald(system: Any, setup: Setup) -> None:
    import openmm

    nonbonded = next((f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)), None)
    ewald = (openmm.NonbondedForce.PME, openmm.NonbondedForce.Ewald, openmm.NonbondedForce.LJPME)
    if (nonbonded is not None and nonbonded.getNonbondedMethod() not in ewald
            and any(v != 0.0 for v in setup.voltages)):
        raise ExternalSystemError("the OpenMM system does not use PME: with an applied voltage "
                                  "V = E L_z holds only with Ewald electrostatics; create it with "
                                  "nonbondedMethod=PME or run at 0 V only")


def add_position_restraints(system: Any, indices: np.ndarray, reference: np.ndarray,
                            spring_constant: float) -> int:
    """Harmonic restraints 0.5 k abs(r - r0)^2 (minimum image) on chosen atoms.

    Parameters
    ----------
    system : openmm.System
    indices : ndarray of int
        Restrained atoms.
    reference : ndarray, shape (n_atoms, 3)
        Reference positions of every atom (nm).
    spring_constant : float
        k (kJ/mol/nm^2), a context parameter :data:`POSRES_CONSTANT`.

    Returns
    -------
    int
        Index of the force.
    """
    import openmm

    force = openmm.CustomExternalForce(
        f"0.5 * {POSRES_CONSTANT} * periodicdistance(x, y, z, x0, y0, z0)^2")
    force.addGlobalParameter(POSRES_CONSTANT, float(spring_constant))
    for name in ("x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    for index in indices:
        force.addParticle(int(index), [float(c) for c in reference[index]])
    force.setForceGroup(POSRES_GROUP)
    return system.addForce(force)


def external_digest(setup: ExternalSetup) -> str:
    """Hash of what changes the prepared system: the [system] keys, file contents, nonbonded settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps(setup.system, sort_keys=True).encode())
    sim = setup["simulation"]
    digest.update(json.dumps([sim["nonbonded"], sim["cutoff"]]).encode())
    names = [setup.system["topology"], setup.system["coordinates"], *setup.system["parameters"]]
    for name in names:
        path = resolve(setup.directory, name)
        digest.update(path.read_bytes() if path.is_file() else name.encode())
    return digest.hexdigest()[:16]


def load_external(setup: ExternalSetup) -> Any:
    """Read, parameterise and restrain a prepared pore: a :class:`md_setups.builder.BuiltSystem`.

    Parameters
    ----------
    setup : ExternalSetup

    Returns
    -------
    md_setups.builder.BuiltSystem
        ``wall_indices`` is empty; ``info`` holds counts, the pore geometry and checks.
    """
    import openmm

    from md_setups.builder import BuiltSystem

    spec = setup.system
    topology, positions, box = load_structure(spec, setup.directory)
    system = create_system(setup, topology)
    u = universe(topology, positions, box)
    oxygens = select(u, spec["water"], "water")
    restrained: list[int] = []
    if spec["restrain"].strip():
        chosen = select(u, spec["restrain"], "restrain")
        heavy = [i for i in chosen if u.atoms[i].element.upper() != "H"] if hasattr(u.atoms, "elements") \
            else list(chosen)
        restrained = [int(i) for i in heavy if system.getParticleMass(int(i))._value > 0]
        if restrained and spec["restraint_constant"] > 0:
            add_position_restraints(system, np.array(restrained), positions, spec["restraint_constant"])
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    charge = sum(nonbonded.getParticleParameters(i)[0]._value for i in range(nonbonded.getNumParticles()))
    if abs(charge) > 1e-3:
        raise ExternalSystemError(f"the prepared system has a net charge of {charge:+.4f} e; a "
                                  "periodic system under a field must be neutral (add counter-ions)")
    resnames = [a.residue.name.upper() for a in topology.atoms()]
    geometry = setup.geometry
    n_pore = float(setup.cv.count(positions[oxygens], box))
    topology.setPeriodicBoxVectors([openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0),
                                    openmm.Vec3(0, 0, box[2])])
    built = BuiltSystem(topology, np.asarray(positions, dtype=float), system,
                        [int(i) for i in oxygens], [])
    built.info = {
        "source": "external",
        "format": spec["format"],
        "files": {key: spec[key] for key in ("topology", "coordinates", "parameters")},
        "n_water": int(oxygens.size),
        "n_potassium": sum(r in ("K", "POT", "K+") for r in resnames),
        "n_chloride": sum(r in ("CL", "CLA", "CL-") for r in resnames),
        "n_wall": 0,
        "n_restrained": len(restrained),
        "n_atoms": topology.getNumAtoms(),
        "oxygen_indices": [int(i) for i in oxygens],
        "wall_indices": [0, 0],
        "pore_geometry": geometry.to_dict(),
        "symmetric_pore": int(setup.mirror_symmetric),
        "cv": setup.cv.to_dict(),
        "setup_digest": external_digest(setup),
        "checks": {"net_charge_e": float(charge), "n_pore_at_build": n_pore},
    }
    return built


def ensure_external_build(setup: ExternalSetup, directory: str | os.PathLike) -> Any:
    """Load the build in ``directory`` if it matches, else prepare the system and write it there.

    The build directory has the same files as a built model pore (``system.pdb``,
    ``system.xml`` with the position restraints, ``build.json``), so every later
    step reads it the same way.
    """
    from md_setups.builder import load_or_write_build

    return load_or_write_build(directory, setup, external_digest(setup),
                               lambda: load_external(setup))


__all__ = ["ExternalSetup", "ExternalSystemError", "PoreGeometry", "SYSTEM_SCHEMA",
           "add_position_restraints", "create_system", "ensure_external_build", "external_setup",
           "load_external", "load_structure", "measure_pore", "principal_axis"]
