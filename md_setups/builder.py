"""Build the model pore system: a rigid Lennard-Jones wall pierced by a cylindrical
pore, water reservoirs on both sides, KCl, in a periodic box.

Geometry. The wall is a slab of lattice sites of thickness ``pore.length``
centred on z = 0 (the point a z-only barostat scales about, so that the wall,
bound into one rigid molecule, never moves); the reservoirs lie on both sides and
meet across the periodic boundary at z = +-L_z / 2. With ``lining = "cylinder"``
(the default) the pore is lined by rings of sites on the surface r = R(z), about
one lattice spacing apart along the circumference and along z, and lattice sites
inside or too close to that surface are removed: R is then the lining radius, and
``shape`` makes it a cone or a step. With ``lining = "lattice"`` the pore is cut
out of the lattice (its lining is faceted and lies 0.05-0.1 nm beyond R). Wall
sites are massless (OpenMM never moves them); they sit in the ``NonbondedForce``
with Lennard-Jones parameters chosen so that the Lorentz-Berthelot combination
with the water oxygen gives the setup's wall-oxygen sigma and epsilon (ions then
see the wall through the same rules; water hydrogens carry no Lennard-Jones
term). ``[charges]`` puts rings of charged lining sites at given heights; their
net charge is neutralised by counter-ions, and the build reports the fixed
charges' dipole along z.

Salt. ``salt_concentration`` (mol/L) is turned into ion pairs from the number of
reservoir waters actually in the box, counting the solution's volume as that of
its water at bulk density (the ions' own volume neglected); the build reports the
resulting molarity and molality.

Full pore. A wet build is run unrestrained for ``full_pore_equilibration`` ps
under the setup's pressure; the mean count while the pore stays wet is the
full-pore count ``n_full``, and the oxygens' largest distance from the axis in
the pore (MDAnalysis :class:`analysis.trajectory.PoreWater`) gives the
water-accessible radius. The equilibrated state (box height included) is the
build's state.

Water comes from OpenMM's own force-field files (``amber14/tip3p.xml``,
``spce.xml``, ``tip4pew.xml``, rigid, SETTLE); ions are the K+ and Cl- of the same
files, placed by replacing randomly chosen reservoir waters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from md_setups.setup import Setup
from nanopore.provenance import provenance_attrs

#: molecules per nm^3 per mol/L
_PER_NM3_PER_MOLAR = 0.602214076
#: clearance between the wall sites' region and water oxygens at build time, in wall sigma
_CLEARANCE = 0.8
#: the same inside the pore, where the lining is curved and sparser
_PORE_CLEARANCE = 0.6
#: water molecules per nm^3 in bulk water (300 K, 1 bar)
_WATER_PER_NM3 = 33.37
#: kg per mol of water
_WATER_KG_PER_MOL = 0.018015
#: 1 e nm in Debye
_DEBYE_PER_E_NM = 48.0321
#: layout of built systems (wall at z = 0, rigid wall, cylindrical lining, charges)
_LAYOUT = 2


class BuildError(RuntimeError):
    """A built system that failed one of its checks."""


@dataclass
class BuiltSystem:
    """A built pore system and what the runs need to know about it.

    Attributes
    ----------
    topology : openmm.app.Topology
    positions : ndarray, shape (n_atoms, 3)
        Positions (nm).
    system : openmm.System
        Water, ions and wall; no restraint, no field yet.
    oxygen_indices : list of int
        Water oxygens (the particles of the CV).
    wall_indices : list of int
        Wall sites.
    info : dict
        Counts and checks, written to ``build.json``.
    """

    topology: Any
    positions: np.ndarray
    system: Any
    oxygen_indices: list[int]
    wall_indices: list[int]
    info: dict[str, Any] = field(default_factory=dict)


def build_digest(setup: Setup) -> str:
    """Hash of the settings that change the built system (not run lengths or platform)."""
    import hashlib

    relevant = {section: setup[section] for section in ("pore", "wall", "solvent", "box", "charges")}
    relevant["layout"] = _LAYOUT
    relevant["pressure"] = [setup["simulation"]["pressure"], setup["simulation"]["barostat"],
                            setup["simulation"]["temperature"]]
    relevant["nonbonded"] = [setup["simulation"]["nonbonded"], setup["simulation"]["cutoff"]]
    relevant["seed"] = setup["run"]["seed"]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def wall_sites(setup: Setup) -> np.ndarray:
    """Sites of the wall (nm), pore lining included, charged sites excluded.

    Parameters
    ----------
    setup : Setup

    Returns
    -------
    ndarray, shape (n_sites, 3)
    """
    sites, _ = wall_and_charged_sites(setup)
    return sites


def wall_and_charged_sites(setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """Neutral wall sites and charged lining sites (nm).

    Parameters
    ----------
    setup : Setup

    Returns
    -------
    sites : ndarray, shape (n_sites, 3)
        Neutral wall sites: the lattice and, for a cylindrical lining, its rings.
    charged : ndarray, shape (n_charged, 3)
        Charged lining sites of ``[charges]`` (empty when the pore is uncharged).
    """
    lateral = setup["box"]["lateral"]
    spacing = setup["wall"]["spacing"]
    length = setup["pore"]["length"]
    center = setup.pore_center
    cells = max(1, int(round(lateral / spacing)))
    a_xy = lateral / cells  # periodic in x and y
    layers = max(1, int(round(length / spacing)))
    a_z = length / layers
    grid = np.arange(cells) * a_xy
    zs = center[2] - 0.5 * length + np.arange(layers + 1) * a_z
    points = [np.stack(np.meshgrid(grid, grid, zs, indexing="ij"), axis=-1).reshape(-1, 3)]
    if setup["wall"]["lattice"] == "fcc":
        half_xy, half_z = 0.5 * a_xy, 0.5 * a_z
        for shift in ((half_xy, half_xy, 0.0), (half_xy, 0.0, half_z), (0.0, half_xy, half_z)):
            zs_shift = zs[:-1] + shift[2] if shift[2] else zs
            mesh = np.meshgrid(grid + shift[0], grid + shift[1], zs_shift, indexing="ij")
            points.append(np.stack(mesh, axis=-1).reshape(-1, 3))
    sites = np.concatenate(points)
    # put a lattice column on the pore axis so that the cut-out pore is round
    offset = center[:2] - np.round(center[:2] / a_xy) * a_xy
    sites[:, :2] = np.mod(sites[:, :2] + offset, lateral)
    radial = _radial(sites, center, lateral)
    lining_radius = setup.pore_radius_at(sites[:, 2] - center[2])
    charged = _charged_sites(setup)
    if setup["pore"]["lining"] == "lattice":
        sites = sites[radial >= lining_radius - 1e-9]
    else:
        rings = _lining_rings(setup, a_z)
        # lattice sites inside the lining surface, or closer than 0.8 spacings to a
        # lining site, are removed: the rings are the pore's surface
        keep = radial >= lining_radius + 0.5 * spacing
        from scipy.spatial import cKDTree

        box = np.array([lateral, lateral, 1e6])
        shifted = np.mod(rings - [0, 0, -5e5], box)
        near = cKDTree(shifted, boxsize=box).query(np.mod(sites - [0, 0, -5e5], box))[0]
        keep &= near >= 0.8 * spacing
        sites = np.concatenate([sites[keep], rings])
    if len(charged):
        from scipy.spatial import cKDTree

        box = np.array([lateral, lateral, 1e6])
        near = cKDTree(np.mod(charged - [0, 0, -5e5], box), boxsize=box).query(
            np.mod(sites - [0, 0, -5e5], box))[0]
        sites = sites[near >= 0.6 * spacing]
    return sites, charged


def _lining_rings(setup: Setup, layer_spacing: float) -> np.ndarray:
    """Rings of lining sites on r = R(z), one lattice layer apart, staggered in angle."""
    length = setup["pore"]["length"]
    spacing = setup["wall"]["spacing"]
    center = setup.pore_center
    n_rings = max(2, int(round(length / layer_spacing)) + 1)
    heights = np.linspace(-0.5 * length, 0.5 * length, n_rings)
    rings = []
    for k, z in enumerate(heights):
        radius = float(setup.pore_radius_at(z))
        count = max(6, int(round(2 * np.pi * radius / spacing)))
        angles = 2 * np.pi * (np.arange(count) + 0.5 * (k % 2)) / count
        ring = np.column_stack([center[0] + radius * np.cos(angles),
                                center[1] + radius * np.sin(angles),
                                np.full(count, center[2] + z)])
        rings.append(ring)
    if setup["pore"]["shape"] == "step":
        # the annular face at z = 0 between the two radii
        low, high = sorted([setup["pore"]["radius"], setup["pore"]["radius_top"] or setup["pore"]["radius"]])
        for radius in np.arange(low + spacing, high - 0.5 * spacing, spacing):
            count = max(6, int(round(2 * np.pi * radius / spacing)))
            angles = 2 * np.pi * np.arange(count) / count
            rings.append(np.column_stack([center[0] + radius * np.cos(angles),
                                          center[1] + radius * np.sin(angles),
                                          np.full(count, center[2])]))
    return np.concatenate(rings)


def _charged_sites(setup: Setup) -> np.ndarray:
    """Charged lining sites: ``ring_sites`` per ring at each ``ring_z``, on r = R(z)."""
    charges = setup["charges"]
    if charges["ring_charge"] == 0.0 or charges["ring_sites"] == 0:
        return np.zeros((0, 3))
    center = setup.pore_center
    count = charges["ring_sites"]
    rings = []
    for z in charges["ring_z"]:
        radius = float(setup.pore_radius_at(z))
        angles = 2 * np.pi * np.arange(count) / count
        rings.append(np.column_stack([center[0] + radius * np.cos(angles),
                                      center[1] + radius * np.sin(angles),
                                      np.full(count, center[2] + z)]))
    return np.concatenate(rings)


def charge_summary(setup: Setup) -> dict[str, float]:
    """Net fixed charge of the pore (e) and its dipole along z about the pore centre.

    Parameters
    ----------
    setup : Setup

    Returns
    -------
    dict
        ``net_charge_e``, ``dipole_z_e_nm`` and ``dipole_z_debye``.
    """
    charged = _charged_sites(setup)
    q = setup["charges"]["ring_charge"]
    dipole = float(q * np.sum(charged[:, 2] - setup.pore_center[2])) if len(charged) else 0.0
    return {"net_charge_e": float(q * len(charged)), "dipole_z_e_nm": dipole,
            "dipole_z_debye": dipole * _DEBYE_PER_E_NM}


def _radial(points: np.ndarray, center: np.ndarray, lateral: float) -> np.ndarray:
    delta = points[:, :2] - center[:2]
    delta -= lateral * np.round(delta / lateral)
    return np.sqrt((delta ** 2).sum(axis=1))


def _wall_lj(setup: Setup, oxygen_sigma: float, oxygen_epsilon: float) -> tuple[float, float]:
    """Wall-site LJ parameters giving the setup's wall-oxygen pair by Lorentz-Berthelot."""
    sigma_wo = setup["wall"]["sigma"]
    epsilon_wo = setup["wall"]["epsilon"]
    sigma_wall = 2.0 * sigma_wo - oxygen_sigma
    if sigma_wall <= 0:
        raise BuildError(f"[wall] sigma = {sigma_wo} nm is below half the water oxygen's "
                         f"sigma ({oxygen_sigma:.3f} nm); no wall site can give it")
    epsilon_wall = epsilon_wo ** 2 / oxygen_epsilon if oxygen_epsilon > 0 else 0.0
    return sigma_wall, epsilon_wall


def build_system(setup: Setup, rng: np.random.Generator | int | None = None,
                 full_pore: bool = True) -> BuiltSystem:
    """Build the pore system of a setup and check it.

    Parameters
    ----------
    setup : Setup
    rng : numpy.random.Generator or int, optional
        Chooses which waters become ions; defaults to the setup's seed.
    full_pore : bool
        Run the wet build unrestrained to measure the full pore and start from
        its equilibrated state (:mod:`md_setups.full_pore`), when the setup asks
        for it.

    Returns
    -------
    BuiltSystem
    """
    import openmm
    from openmm import app, unit

    rng = np.random.default_rng(setup["run"]["seed"] if rng is None else rng)
    box = setup.box_edges
    center = setup.pore_center
    lateral = setup["box"]["lateral"]
    half_length = 0.5 * setup["pore"]["length"]
    radius = setup["pore"]["radius"]
    model = setup["solvent"]["water_model"]
    forcefield = app.ForceField(setup.water_forcefield)

    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(forcefield, model=model, boxSize=openmm.Vec3(*box) * unit.nanometer,
                        neutralize=False)
    positions = np.array(modeller.getPositions().value_in_unit(unit.nanometer))
    residues = list(modeller.topology.residues())
    oxygen_of = {res.index: next(a.index for a in res.atoms() if a.element is not None
                                 and a.element.symbol == "O") for res in residues}
    oxygen_atoms = np.array([oxygen_of[r.index] for r in residues])
    # wrap whole molecules so that every oxygen lies in [0, L) in x, y and [-L/2, L/2) in z
    residue_of_atom = np.array([a.residue.index for a in modeller.topology.atoms()])
    shift = -np.floor(positions[oxygen_atoms] / box + [0.0, 0.0, 0.5]) * box
    positions += shift[residue_of_atom]
    modeller.positions = positions * unit.nanometer
    oxygens = positions[oxygen_atoms]
    # the pre-equilibrated water box can leave close pairs across the periodic faces
    from scipy.spatial import cKDTree

    close = cKDTree(np.mod(oxygens, box), boxsize=box).query_pairs(0.23, output_type="ndarray")

    clearance = _CLEARANCE * setup["wall"]["sigma"]
    dz = np.abs(oxygens[:, 2] - center[2])
    radial = _radial(oxygens, center, lateral)
    in_slab = dz < half_length + clearance
    in_pore = radial < radius - _PORE_CLEARANCE * setup["wall"]["sigma"]
    remove = in_slab & ~in_pore
    if setup["solvent"]["fill"] == "dry":
        remove |= in_slab & in_pore
    if len(close):
        remove[close[:, 1]] = True
    keep_mask = ~remove

    # ions replace reservoir waters well away from the wall; the pairs follow from the
    # reservoir waters actually present (solution volume = their volume at bulk density)
    reservoir = np.flatnonzero(keep_mask & (dz > half_length + clearance + 0.3))
    n_reservoir_water = int(np.count_nonzero(keep_mask & (dz > half_length)))
    concentration = setup["solvent"]["salt_concentration"]
    per_water = concentration * _PER_NM3_PER_MOLAR / _WATER_PER_NM3
    pairs = int(round(per_water * n_reservoir_water / (1.0 + 2.0 * per_water)))
    summary = charge_summary(setup)
    wall_charge = summary["net_charge_e"]
    if abs(wall_charge - round(wall_charge)) > 1e-6:
        raise BuildError(f"the charged rings carry {wall_charge:+.4f} e in all, not a whole number; "
                         "choose [charges] ring_charge and ring_sites so that their product "
                         "times the number of rings is an integer")
    counter = int(round(abs(wall_charge)))
    n_potassium = pairs + (counter if wall_charge < 0 else 0)
    n_chloride = pairs + (counter if wall_charge > 0 else 0)
    n_ions = n_potassium + n_chloride
    if n_ions > reservoir.size:
        raise BuildError(f"{n_ions} ions do not fit in {reservoir.size} reservoir waters; "
                         "lower [solvent] salt_concentration or enlarge [box] reservoir")
    chosen = rng.choice(reservoir, size=n_ions, replace=False)
    ion_positions = oxygens[chosen]
    keep_mask[chosen] = False
    modeller.delete([res for res in residues if not keep_mask[res.index]])

    ions = app.Topology()
    chain = ions.addChain("I")
    for k in range(n_ions):
        name, element = ("K", app.element.potassium) if k < n_potassium else ("CL", app.element.chlorine)
        residue = ions.addResidue(name, chain)
        ions.addAtom(name, element, residue)
    if n_ions:
        modeller.add(ions, ion_positions * unit.nanometer)
    n_solution_water = n_reservoir_water - n_ions
    salt = {
        "n_reservoir_water": n_solution_water,
        "molarity_mol_l": pairs / (n_solution_water / _WATER_PER_NM3 * _PER_NM3_PER_MOLAR)
        if n_solution_water else 0.0,
        "molality_mol_kg": pairs / (n_solution_water * _WATER_KG_PER_MOL) if n_solution_water else 0.0,
    }

    nonbonded_method = app.PME if setup["simulation"]["nonbonded"] == "pme" else app.CutoffPeriodic
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=nonbonded_method,
        nonbondedCutoff=setup["simulation"]["cutoff"] * unit.nanometer,
        constraints=None, rigidWater=True, ewaldErrorTolerance=5e-4, removeCMMotion=False,
    )
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    oxygen_indices = [a.index for a in modeller.topology.atoms()
                      if a.residue.name == "HOH" and a.element is not None and a.element.symbol == "O"]
    _, sigma_o, epsilon_o = nonbonded.getParticleParameters(oxygen_indices[0])
    sigma_wall, epsilon_wall = _wall_lj(setup, sigma_o.value_in_unit(unit.nanometer),
                                        epsilon_o.value_in_unit(unit.kilojoule_per_mole))

    sites, charged = wall_and_charged_sites(setup)
    wall = app.Topology()
    chain = wall.addChain("W")
    for _ in range(len(sites)):
        residue = wall.addResidue("WAL", chain)
        wall.addAtom("C", app.element.carbon, residue)
    for _ in range(len(charged)):
        residue = wall.addResidue("WCH", chain)
        wall.addAtom("N", app.element.nitrogen, residue)
    first_wall = modeller.topology.getNumAtoms()
    modeller.add(wall, np.concatenate([sites, charged]) * unit.nanometer)
    ring_charge = setup["charges"]["ring_charge"]
    for k in range(len(sites) + len(charged)):
        system.addParticle(0.0)
        nonbonded.addParticle(ring_charge if k >= len(sites) else 0.0, sigma_wall, epsilon_wall)
    wall_indices = list(range(first_wall, first_wall + len(sites) + len(charged)))
    # one rigid molecule for the barostat, which then never moves it (centred on z = 0)
    from md_setups.forces import bind_rigid

    bind_rigid(system, wall_indices)

    topology = modeller.topology
    topology.setPeriodicBoxVectors([openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0),
                                    openmm.Vec3(0, 0, box[2])] * unit.nanometer)
    system.setDefaultPeriodicBoxVectors(*topology.getPeriodicBoxVectors())
    positions = np.array(modeller.getPositions().value_in_unit(unit.nanometer))
    built = BuiltSystem(topology, positions, system, oxygen_indices, wall_indices)
    built.info = {
        "n_water": len(oxygen_indices),
        "n_potassium": n_potassium,
        "n_chloride": n_chloride,
        "n_wall": len(sites) + len(charged),
        "n_charged_sites": len(charged),
        "salt": salt,
        "pore_charge": summary,
        "symmetric_pore": int(setup.mirror_symmetric),
        "lining": setup["pore"]["lining"],
        "lining_radius_nm": _lining_radius(setup, sites, charged),
        "n_atoms": topology.getNumAtoms(),
        "wall_sigma_nm": sigma_wall,
        "wall_epsilon_kj_mol": epsilon_wall,
        "oxygen_indices": oxygen_indices,
        "wall_indices": [wall_indices[0], wall_indices[-1] + 1] if wall_indices else [0, 0],
        "cv": setup.cv.to_dict(),
        "setup_digest": build_digest(setup),
    }
    built.info["checks"] = check_system(setup, built)
    built.info["full_pore"] = None
    if full_pore and setup["solvent"]["fill"] == "wet" and setup["solvent"]["full_pore_equilibration"] > 0:
        from md_setups.full_pore import measure_full_pore

        built.info["full_pore"] = measure_full_pore(setup, built)
        built.info["full_pore_estimate"] = setup.full_pore_estimate()
        check_targets_cover(setup, built.info["full_pore"])
    return built


def check_targets_cover(setup: Setup, full_pore: dict[str, Any]) -> None:
    """Refuse window targets whose last window does not sample beyond the full pore.

    Parameters
    ----------
    setup : Setup
    full_pore : dict
        What :func:`md_setups.full_pore.measure_full_pore` measured.
    """
    n_full = full_pore["n_full"]
    error = full_pore["n_full_error"] if np.isfinite(full_pore["n_full_error"]) else 0.0
    highest = float(setup.targets.max())
    # the last window samples about two restraint widths sqrt(kT / kappa) beyond its centre
    from nanopore.units import GAS_CONSTANT_KJ

    width = float(np.sqrt(GAS_CONSTANT_KJ * setup["simulation"]["temperature"]
                          / setup["windows"]["spring_constant"]))
    if highest + 2.0 * width < n_full + error:
        step = setup["windows"]["step"] or 1.0
        need = n_full + error + step
        raise BuildError(f"the window targets stop at N = {highest:g}, short of the full pore "
                         f"(N = {n_full:.2f} +- {error:.2f} molecules measured in the wet "
                         f"build): the wet minimum would be the grid's end; raise [windows] "
                         f"stop to at least {need:.1f} (or leave it out: the default runs to 1.3 "
                         "times the full pore's estimate)")


def _lining_radius(setup: Setup, sites: np.ndarray, charged: np.ndarray) -> dict[str, float]:
    """Distance from the axis to the innermost wall-site centres within the pore."""
    every = np.concatenate([sites, charged]) if len(charged) else sites
    center = setup.pore_center
    inside = np.abs(every[:, 2] - center[2]) <= 0.5 * setup["pore"]["length"] + 1e-9
    radial = _radial(every[inside], center, setup["box"]["lateral"])
    spacing = setup["wall"]["spacing"]
    lining = radial[radial < radial.min() + 0.5 * spacing]
    return {"min": float(radial.min()), "mean": float(lining.mean()), "max": float(lining.max()),
            "nominal": float(setup["pore"]["radius"])}


def check_system(setup: Setup, built: BuiltSystem) -> dict[str, Any]:
    """Check a built system; raise :class:`BuildError` naming the first failure.

    Checks: no two atoms of different molecules closer than 0.2 nm (and no solvent
    atom within half the wall sigma of a wall site), zero net charge, the pore
    filled or empty as requested, wall sites massless (fixed).

    Returns
    -------
    dict
        The measured quantities.
    """
    import openmm
    from scipy.spatial import cKDTree

    box = setup.box_edges
    positions = np.mod(built.positions, box)
    nonbonded = next(f for f in built.system.getForces() if isinstance(f, openmm.NonbondedForce))
    charges = np.array([nonbonded.getParticleParameters(i)[0]._value
                        for i in range(nonbonded.getNumParticles())])
    net_charge = float(charges.sum())
    if abs(net_charge) > 1e-6:
        raise BuildError(f"net charge {net_charge:+.6f} e is not zero")

    masses = np.array([built.system.getParticleMass(i)._value for i in range(built.system.getNumParticles())])
    if np.any(masses[built.wall_indices] != 0.0):
        raise BuildError("wall sites must be massless so that they stay fixed")

    molecule = np.empty(len(positions), dtype=int)
    for residue in built.topology.residues():
        for atom in residue.atoms():
            molecule[atom.index] = residue.index
    heavy = np.array([a.element is not None and a.element.symbol != "H"
                      and a.residue.name not in ("WAL", "WCH")
                      for a in built.topology.atoms()])
    solvent = np.flatnonzero(heavy)
    tree = cKDTree(positions[solvent], boxsize=box)
    pairs = tree.query_pairs(0.2, output_type="ndarray")
    clashes = pairs[molecule[solvent[pairs[:, 0]]] != molecule[solvent[pairs[:, 1]]]] if len(pairs) else pairs
    if len(clashes):
        raise BuildError(f"{len(clashes)} pairs of molecules closer than 0.2 nm")
    min_wall = np.inf
    if built.wall_indices:
        wall_tree = cKDTree(positions[built.wall_indices], boxsize=box)
        distances, _ = wall_tree.query(positions[solvent])
        min_wall = float(distances.min())
        if min_wall < 0.5 * setup["wall"]["sigma"]:
            raise BuildError(f"a solvent atom sits {min_wall:.3f} nm from a wall site")

    n_pore = float(setup.cv.count(built.positions[built.oxygen_indices], box))
    fill = setup["solvent"]["fill"]
    if fill == "dry" and n_pore > 0.5:
        raise BuildError(f"the pore should be dry but holds N = {n_pore:.2f} molecules")
    if fill == "wet" and n_pore < 1.0:
        raise BuildError(f"the pore should be wet but holds N = {n_pore:.2f} molecules; "
                         "is [pore] radius large enough for water?")
    return {"net_charge_e": net_charge, "min_solvent_wall_distance_nm": min_wall,
            "n_pore_at_build": n_pore}


def write_build(built: BuiltSystem, directory: str | os.PathLike, setup: Setup) -> dict[str, Path]:
    """Write ``system.pdb``, ``system.xml`` (serialized OpenMM System) and ``build.json``.

    Files are written to temporary names and renamed, so a killed build leaves no
    half-written file.

    Returns
    -------
    dict of str to Path
    """
    import openmm
    from openmm import app, unit

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"pdb": directory / "system.pdb", "xml": directory / "system.xml",
             "json": directory / "build.json"}
    tmp = {key: path.with_suffix(path.suffix + ".tmp") for key, path in paths.items()}
    with open(tmp["pdb"], "w") as handle:
        app.PDBFile.writeFile(built.topology, built.positions * unit.nanometer, handle)
    tmp["xml"].write_text(openmm.XmlSerializer.serialize(built.system))
    info = dict(built.info)
    info["provenance"] = provenance_attrs("md_setups.builder", inputs=setup.source,
                                          parameters={"setup": setup.to_dict()})
    tmp["json"].write_text(json.dumps(info, indent=1))
    for key in ("pdb", "xml", "json"):  # json last: its presence marks a finished build
        os.replace(tmp[key], paths[key])
    return paths


def load_build(directory: str | os.PathLike) -> BuiltSystem:
    """Read a build written by :func:`write_build`.

    Parameters
    ----------
    directory : path-like

    Returns
    -------
    BuiltSystem
    """
    import openmm
    from openmm import app, unit

    directory = Path(directory)
    info_path = directory / "build.json"
    if not info_path.exists():
        raise FileNotFoundError(f"no finished build in {directory} (build.json missing); "
                                "run `nanopore md build SETUP.toml` first")
    info = json.loads(info_path.read_text())
    pdb = app.PDBFile(str(directory / "system.pdb"))
    system = openmm.XmlSerializer.deserialize((directory / "system.xml").read_text())
    positions = np.array(pdb.getPositions().value_in_unit(unit.nanometer))
    first, stop = info["wall_indices"]
    return BuiltSystem(pdb.topology, positions, system, info["oxygen_indices"],
                       list(range(first, stop)), info)


def ensure_build(setup: Setup, directory: str | os.PathLike) -> BuiltSystem:
    """Load the build in ``directory`` if it matches the setup, else build and write it."""
    if getattr(setup, "geometry", None) is not None:  # a pore prepared elsewhere
        from md_setups.external import ensure_external_build

        return ensure_external_build(setup, directory)
    return load_or_write_build(directory, setup, build_digest(setup), lambda: build_system(setup))


def load_or_write_build(directory: str | os.PathLike, setup: Any, digest: str,
                        make: Callable[[], BuiltSystem]) -> BuiltSystem:
    """The build in ``directory`` if its digest matches, else ``make()`` written there.

    Parameters
    ----------
    directory : path-like
        Build directory (``system.pdb``, ``system.xml``, ``build.json``).
    setup : Setup
        What the build is for (recorded in ``build.json``).
    digest : str
        Digest of everything the build depends on (setup values, input files).
    make : callable
        Builds the system when there is no build yet.

    Returns
    -------
    BuiltSystem
        Read back from disk, so that this process starts from exactly what any
        later one reads (the PDB rounds positions to 1e-4 nm).

    Raises
    ------
    BuildError
        If ``directory`` holds the build of something else.
    """
    directory = Path(directory)
    if (directory / "build.json").exists():
        built = load_build(directory)
        if built.info.get("setup_digest") == digest:
            return built
        raise BuildError(f"{directory} holds a build of a different setup (or of changed input "
                         "files); use another --out directory or delete it")
    write_build(make(), directory, setup)
    return load_build(directory)
