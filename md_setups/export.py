"""Write a built model pore in other engines' formats: GROMACS .top/.gro, CHARMM .psf/.crd/.prm.

The exported files describe the same system as the build (same charges,
Lennard-Jones parameters, masses, rigid water geometry), so that a pore built here
can be run or inspected with GROMACS or CHARMM tools, and so that the loaders of
:mod:`md_setups.external` are tested on systems whose energy is known: the
exported system, read back through OpenMM's ``GromacsTopFile`` or
``CharmmPsfFile``, has the energy of the build.

Supported content: what the builder makes, i.e. rigid three-site waters (residue
``HOH``, constrained O-H and H-H distances) and single-particle residues (ions,
wall sites, charged sites). The GROMACS topology is self-contained: ``[ defaults ]``
(Lorentz-Berthelot combination), ``[ atomtypes ]``, one ``[ moleculetype ]`` per kind
of residue, no ``#include``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: kJ/mol per kcal/mol
_KCAL = 4.184
#: CHARMM's Rmin/2 from sigma: 2^(1/6) sigma / 2
_RMIN_HALF_PER_SIGMA = 2.0 ** (1.0 / 6.0) / 2.0


class ExportError(ValueError):
    """A system the exporters cannot write."""


@dataclass(frozen=True)
class _AtomType:
    name: str
    element: str
    atomic_number: int
    mass: float
    sigma: float
    epsilon: float


@dataclass(frozen=True)
class _Residue:
    name: str
    atom_names: tuple[str, ...]
    types: tuple[str, ...]
    charges: tuple[float, ...]
    masses: tuple[float, ...]


def _describe(topology: Any, system: Any) -> tuple[dict[str, _AtomType], list[_Residue], list[tuple[str, int]],
                                                   dict[str, tuple[float, float]]]:
    """Atom types, residue kinds, the run-length list of residues and water geometry."""
    import openmm

    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    if system.getNumParticles() != topology.getNumAtoms():
        raise ExportError("the system has virtual sites or extra particles (four-site water?); "
                          "only three-site water models can be exported")
    types: dict[str, _AtomType] = {}
    type_of: dict[tuple[str, tuple[Any, ...]], str] = {}
    kinds: dict[str, _Residue] = {}
    runs: list[tuple[str, int]] = []
    constraints: dict[tuple[int, int], float] = {}
    for k in range(system.getNumConstraints()):
        i, j, distance = system.getConstraintParameters(k)
        constraints[(min(i, j), max(i, j))] = distance.value_in_unit(openmm.unit.nanometer)
    water: dict[str, tuple[float, float]] = {}
    for residue in topology.residues():
        atoms = list(residue.atoms())
        if len(atoms) not in (1, 3) or (len(atoms) == 3 and residue.name != "HOH"):
            raise ExportError(f"residue {residue.name} has {len(atoms)} atoms; only three-site "
                              "waters (HOH) and single-particle residues can be exported")
        names, type_names, charges, masses = [], [], [], []
        for atom in atoms:
            charge, sigma, epsilon = nonbonded.getParticleParameters(atom.index)
            mass = system.getParticleMass(atom.index).value_in_unit(openmm.unit.dalton)
            element = atom.element.symbol if atom.element is not None else "X"
            number = atom.element.atomic_number if atom.element is not None else 0
            parameters = (element, number, mass, sigma.value_in_unit(openmm.unit.nanometer),
                          epsilon.value_in_unit(openmm.unit.kilojoule_per_mole))
            type_name = type_of.get((residue.name, parameters))
            if type_name is None:  # one type per residue name and distinct parameters
                type_name = f"{residue.name[:4]}{element}{len(types)}"
                type_of[(residue.name, parameters)] = type_name
                types[type_name] = _AtomType(type_name, *parameters)
            names.append(atom.name)
            type_names.append(type_name)
            charges.append(charge.value_in_unit(openmm.unit.elementary_charge))
            masses.append(mass)
        kind = _Residue(residue.name, tuple(names), tuple(type_names), tuple(charges), tuple(masses))
        if kinds.setdefault(residue.name, kind) != kind:
            raise ExportError(f"residues named {residue.name} differ; they cannot share a "
                              "molecule type")
        if len(atoms) == 3:
            o, h1, h2 = (a.index for a in atoms)
            try:
                geometry = (constraints[(o, h1)], constraints[(min(h1, h2), max(h1, h2))])
            except KeyError:
                raise ExportError(f"water {residue.index} is not rigid (no O-H/H-H constraints)") from None
            water.setdefault(residue.name, geometry)
        if runs and runs[-1][0] == residue.name:
            runs[-1] = (residue.name, runs[-1][1] + 1)
        else:
            runs.append((residue.name, 1))
    return types, list(kinds.values()), runs, water


def _box(topology: Any) -> np.ndarray:
    from openmm import unit

    vectors = topology.getPeriodicBoxVectors()
    if vectors is None:
        raise ExportError("the topology has no periodic box")
    matrix = np.array(vectors.value_in_unit(unit.nanometer))
    if np.any(np.abs(matrix - np.diag(np.diag(matrix))) > 1e-9):
        raise ExportError("only rectangular boxes can be exported")
    return np.diag(matrix)


def write_gromacs(topology: Any, system: Any, positions: np.ndarray, directory: str | os.PathLike,
                  name: str = "pore") -> dict[str, Path]:
    """Write a self-contained GROMACS topology and coordinates.

    Parameters
    ----------
    topology : openmm.app.Topology
    system : openmm.System
        Must hold a ``NonbondedForce``; waters rigid by constraints.
    positions : ndarray, shape (n_atoms, 3)
        Positions (nm).
    directory : path-like
    name : str
        File stem.

    Returns
    -------
    dict
        ``top`` and ``gro`` paths.
    """
    types, kinds, runs, water = _describe(topology, system)
    box = _box(topology)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["; written by md_setups.export: a self-contained topology (no includes)",
             "[ defaults ]", "; nbfunc comb-rule gen-pairs fudgeLJ fudgeQQ", "1 2 no 1.0 1.0", "",
             "[ atomtypes ]", "; name at.num mass charge ptype sigma(nm) epsilon(kJ/mol)"]
    for t in types.values():
        lines.append(f"{t.name:<10s} {t.atomic_number:3d} {t.mass:12.6f} 0.0 A "
                     f"{t.sigma:.10g} {t.epsilon:.10g}")
    for kind in kinds:
        lines += ["", "[ moleculetype ]", "; name nrexcl", f"{kind.name} 1", "", "[ atoms ]",
                  "; nr type resnr residue atom cgnr charge mass"]
        for k, (atom, type_name, charge, mass) in enumerate(
                zip(kind.atom_names, kind.types, kind.charges, kind.masses), start=1):
            lines.append(f"{k:4d} {type_name:<10s} 1 {kind.name:<5s} {atom:<5s} {k:4d} "
                         f"{charge:.10g} {mass:.10g}")
        if len(kind.atom_names) == 3:
            oh, hh = water[kind.name]
            lines += ["", "[ settles ]", "; OW funct doh dhh", f"1 1 {oh:.10g} {hh:.10g}", "",
                      "[ exclusions ]", "1 2 3", "2 1 3", "3 1 2"]
    lines += ["", "[ system ]", name, "", "[ molecules ]"]
    lines += [f"{resname:<8s} {count}" for resname, count in runs]
    top = directory / f"{name}.top"
    top.write_text("\n".join(lines) + "\n")

    gro_lines = [f"{name} (md_setups.export)", f"{topology.getNumAtoms():5d}"]
    for atom in topology.atoms():
        x, y, z = positions[atom.index]
        gro_lines.append(f"{(atom.residue.index + 1) % 100000:5d}{atom.residue.name[:5]:<5s}"
                         f"{atom.name[:5]:>5s}{(atom.index + 1) % 100000:5d}{x:8.3f}{y:8.3f}{z:8.3f}")
    gro_lines.append(f"{box[0]:10.5f}{box[1]:10.5f}{box[2]:10.5f}")
    gro = directory / f"{name}.gro"
    gro.write_text("\n".join(gro_lines) + "\n")
    return {"top": top, "gro": gro}


def write_charmm(topology: Any, system: Any, positions: np.ndarray, directory: str | os.PathLike,
                 name: str = "pore") -> dict[str, Path]:
    """Write a CHARMM structure (XPLOR-style .psf), coordinates (.crd) and parameters (.prm).

    Parameters
    ----------
    topology : openmm.app.Topology
    system : openmm.System
    positions : ndarray, shape (n_atoms, 3)
        Positions (nm).
    directory : path-like
    name : str
        File stem.

    Returns
    -------
    dict
        ``psf``, ``crd`` and ``prm`` paths; the box edges (nm) are under ``box``
        (a .crd file has no box: give it to the loader).
    """
    types, kinds, _, water = _describe(topology, system)
    box = _box(topology)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    short = {t: f"T{k}" for k, t in enumerate(types)}  # CHARMM type names: short and unique
    kind_of = {kind.name: kind for kind in kinds}
    segid = {kind.name: ("W" if len(kind.atom_names) == 3 else f"S{k}") for k, kind in enumerate(kinds)}

    atoms, bonds, angles = [], [], []
    for residue in topology.residues():
        kind = kind_of[residue.name]
        members = list(residue.atoms())
        for atom, type_name, charge, mass in zip(members, kind.types, kind.charges, kind.masses):
            atoms.append(f"{atom.index + 1:8d} {segid[residue.name]:<4s} {residue.index + 1:<4d} "
                         f"{residue.name:<4s} {atom.name:<4s} {short[type_name]:<4s} "
                         f"{charge:14.6f}{mass:14.4f}           0")
        if len(members) == 3:
            o, h1, h2 = (a.index + 1 for a in members)
            bonds += [(o, h1), (o, h2)]
            angles.append((h1, o, h2))
    psf = ["PSF", "", "       1 !NTITLE", " REMARKS written by md_setups.export", "",
           f"{len(atoms):8d} !NATOM", *atoms, "", f"{len(bonds):8d} !NBOND: bonds"]
    flat = [i for pair in bonds for i in pair]
    psf += ["".join(f"{i:8d}" for i in flat[k:k + 8]) for k in range(0, len(flat), 8)]
    psf += ["", f"{len(angles):8d} !NTHETA: angles"]
    flat = [i for triple in angles for i in triple]
    psf += ["".join(f"{i:8d}" for i in flat[k:k + 9]) for k in range(0, len(flat), 9)]
    psf += ["", "       0 !NPHI: dihedrals", "", "       0 !NIMPHI: impropers", "",
            "       0 !NDON: donors", "", "       0 !NACC: acceptors", "", ""]
    psf_path = directory / f"{name}.psf"
    psf_path.write_text("\n".join(psf) + "\n")

    crd = [f"* {name} (md_setups.export)", "*", f"{topology.getNumAtoms():10d}  EXT"]
    for atom in topology.atoms():
        x, y, z = positions[atom.index] * 10.0
        crd.append(f"{atom.index + 1:10d}{atom.residue.index + 1:10d}  {atom.residue.name:<8s}  "
                   f"{atom.name:<8s}{x:20.10f}{y:20.10f}{z:20.10f}  {segid[atom.residue.name]:<8s}  "
                   f"{atom.residue.index + 1:<8d}{0.0:20.10f}")
    crd_path = directory / f"{name}.crd"
    crd_path.write_text("\n".join(crd) + "\n")

    prm = [f"* parameters of {name} (md_setups.export): kcal/mol, Angstrom", "*", "", "ATOMS"]
    for k, t in enumerate(types.values(), start=1):
        prm.append(f"MASS {k:5d} {short[t.name]:<6s} {t.mass:12.6f} {t.element}")
    prm += ["", "BONDS"]
    for kind in kinds:
        if len(kind.atom_names) == 3:
            oh, _ = water[kind.name]
            prm.append(f"{short[kind.types[0]]:<6s} {short[kind.types[1]]:<6s} 450.0 {oh * 10:.10g}")
    prm += ["", "ANGLES"]
    for kind in kinds:
        if len(kind.atom_names) == 3:
            oh, hh = water[kind.name]
            theta = np.degrees(2.0 * np.arcsin(0.5 * hh / oh))
            prm.append(f"{short[kind.types[1]]:<6s} {short[kind.types[0]]:<6s} "
                       f"{short[kind.types[2]]:<6s} 55.0 {theta:.10g}")
    prm += ["", "DIHEDRALS", "", "IMPROPER", "",
            "NONBONDED nbxmod 5 atom cdiel shift vatom vdistance vswitch -",
            "cutnb 14.0 ctofnb 12.0 ctonnb 10.0 eps 1.0 e14fac 1.0 wmin 1.5"]
    for t in types.values():
        prm.append(f"{short[t.name]:<6s} 0.0 {-t.epsilon / _KCAL:.12g} "
                   f"{t.sigma * 10 * _RMIN_HALF_PER_SIGMA:.12g}")
    prm += ["", "END", ""]
    prm_path = directory / f"{name}.prm"
    prm_path.write_text("\n".join(prm))
    return {"psf": psf_path, "crd": crd_path, "prm": prm_path, "box": box}


def write_openmm(topology: Any, system: Any, positions: np.ndarray, directory: str | os.PathLike,
                 name: str = "pore") -> dict[str, Path]:
    """Write an OpenMM serialized System (.xml) and a PDB with the box.

    Parameters
    ----------
    topology, system, positions, directory, name
        As for :func:`write_gromacs`.

    Returns
    -------
    dict
        ``xml`` and ``pdb`` paths.
    """
    import openmm
    from openmm import app, unit

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    xml = directory / f"{name}.xml"
    pdb = directory / f"{name}.pdb"
    xml.write_text(openmm.XmlSerializer.serialize(system))
    with open(pdb, "w") as handle:
        app.PDBFile.writeFile(topology, positions * unit.nanometer, handle)
    return {"xml": xml, "pdb": pdb}
