"""Pores prepared elsewhere: the toolkit's own pore exported to OpenMM, GROMACS and CHARMM
files and read back through ``[system]`` setups has the build's energy, pore region and CV."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

openmm = pytest.importorskip("openmm")
pytest.importorskip("MDAnalysis")

from md_setups.builder import build_system
from md_setups.export import ExportError, write_charmm, write_gromacs, write_openmm
from md_setups.external import (
    ExternalSetup,
    POSRES_GROUP,
    load_external,
    principal_axis,
)
from md_setups.setup import SetupError, validate_setup

TINY = {
    "pore": {"radius": 0.5, "length": 0.9},
    "wall": {"epsilon": 0.3},
    "solvent": {"salt_concentration": 1.0, "full_pore_equilibration": 0.0},
    "box": {"lateral": 1.9, "reservoir": 0.8},
    "simulation": {"nonbonded": "pme", "cutoff": 0.8, "platform": "CPU", "threads": 1},
    "windows": {"targets": [2.0, 8.0], "spring_constant": 4.0},
    "run": {"voltages": [0.0, 0.5], "equilibration": 0.01, "production": 0.04, "cv_stride": 5,
            "checkpoint_interval": 0.02, "seed": 11},
}
RUN_SECTIONS = {key: TINY[key] for key in ("simulation", "windows", "run")}


@pytest.fixture(scope="module")
def built():
    setup = validate_setup(copy.deepcopy(TINY), source="tiny")
    return setup, build_system(setup)


@pytest.fixture(scope="module")
def lining(built):
    """MDAnalysis selection of the wall sites within 0.65 nm of the pore axis (the lining)."""
    setup, b = built
    radial = lining_radii(setup, b, everything=True)
    chosen = np.asarray(b.wall_indices)[radial < 0.65]
    return "resname WAL and index " + " ".join(str(i) for i in chosen)


def box_of(built) -> np.ndarray:
    """Edges (nm) of the built box (a barostat may have set its height)."""
    vectors = built.topology.getPeriodicBoxVectors()
    return np.array([vectors[k][k].value_in_unit(openmm.unit.nanometer) for k in range(3)])


def electrostatics_only(system):
    """A copy of a system whose Lennard-Jones terms are switched off."""
    system = copy.deepcopy(system)
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce):
            for i in range(force.getNumParticles()):
                charge, sigma, _ = force.getParticleParameters(i)
                force.setParticleParameters(i, charge, sigma, 0.0)
            for k in range(force.getNumExceptions()):
                i, j, charge, sigma, _ = force.getExceptionParameters(k)
                force.setExceptionParameters(k, i, j, charge, sigma, 0.0)
    return system


def energy(system, positions, box, groups=None):
    system = copy.deepcopy(system)
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce):
            force.setUseDispersionCorrection(False)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPeriodicBoxVectors(*[openmm.Vec3(*row) for row in np.diag(box)])
    context.setPositions(np.asarray(positions))
    state = context.getState(getEnergy=True, **({"groups": groups} if groups is not None else {}))
    return state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)


def external(tmp_path: Path, system: dict, **sections) -> ExternalSetup:
    raw = copy.deepcopy(RUN_SECTIONS)
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    raw["system"] = system
    setup = validate_setup(raw, source=str(tmp_path / "external.toml"))
    assert isinstance(setup, ExternalSetup)
    return setup


def lining_radii(setup, built, everything=False):
    """Distances of the lining wall sites (or all) from the pore axis, computed here from the build."""
    wall = built.positions[built.wall_indices]
    center = setup.pore_center
    delta = wall[:, :2] - center[:2]
    delta -= setup.box_edges[:2] * np.round(delta / setup.box_edges[:2])
    radial = np.hypot(delta[:, 0], delta[:, 1])
    return radial if everything else radial[radial < 0.65]


def test_gromacs_export_reads_back_with_the_build_energy_and_pore(tmp_path, built, lining):
    setup, b = built
    files = write_gromacs(b.topology, b.system, b.positions, tmp_path)
    text = files["top"].read_text()
    assert "#include" not in text and "[ defaults ]" in text and "[ atomtypes ]" in text
    ext = external(tmp_path, {"lining": lining, "format": "gromacs", "topology": "pore.top", "coordinates": "pore.gro",
                              "axis": "z"})
    loaded = load_external(ext)
    box = box_of(b)
    assert loaded.system.getNumConstraints() == b.system.getNumConstraints()
    e_build = energy(b.system, loaded.positions, box)
    e_loaded = energy(loaded.system, loaded.positions, box)
    assert e_loaded == pytest.approx(e_build, rel=1e-8)
    # the pore region: axis through the wall's hole, z extent of the wall, radius measured
    geometry = ext.geometry
    assert np.allclose(ext.pore_center[:2], setup.pore_center[:2], atol=2e-3)
    assert geometry.z_hi - geometry.z_lo == pytest.approx(setup["pore"]["length"], abs=2e-3)
    radii = lining_radii(setup, b)
    assert geometry.n_lining == radii.size
    assert geometry.radius == pytest.approx(radii.mean(), abs=2e-3)
    assert loaded.oxygen_indices == b.oxygen_indices
    assert loaded.info["checks"]["net_charge_e"] == pytest.approx(0.0, abs=1e-6)


def test_given_radius_gives_the_builders_collective_variable(tmp_path, built, lining):
    setup, b = built
    write_gromacs(b.topology, b.system, b.positions, tmp_path)
    ext = external(tmp_path, {"lining": lining, "format": "gromacs", "topology": "pore.top", "coordinates": "pore.gro",
                              "radius": setup["pore"]["radius"]})
    ours, theirs = ext.cv, setup.cv
    assert ours.radius == theirs.radius
    for name in ("center_x", "center_y", "z_lo", "z_hi"):
        shift = getattr(ours, name) - getattr(theirs, name)
        edge = box_of(b)[{"center_x": 0, "center_y": 1}.get(name, 2)]
        assert abs(shift - edge * round(shift / edge)) < 2e-3, name
    oxygens = b.positions[b.oxygen_indices]
    assert ours.count(oxygens, box_of(b)) == pytest.approx(theirs.count(oxygens, box_of(b)), abs=0.05)


def test_charmm_export_reads_back_with_the_build_energy(tmp_path, built, lining):
    setup, b = built
    files = write_charmm(b.topology, b.system, b.positions, tmp_path)
    ext = external(tmp_path, {"lining": lining, "format": "charmm", "topology": "pore.psf", "coordinates": "pore.crd",
                              "parameters": ["pore.prm"], "box": [float(x) for x in files["box"]]})
    loaded = load_external(ext)
    box = box_of(b)
    assert loaded.system.getNumConstraints() == b.system.getNumConstraints()
    # CHARMM's Coulomb constant (332.0716 kcal A/mol/e^2) is 2.4e-5 above OpenMM's: the energies
    # differ by that fraction of the electrostatic energy, and by nothing else
    coulomb = energy(electrostatics_only(b.system), loaded.positions, box)
    difference = energy(loaded.system, loaded.positions, box) - energy(b.system, loaded.positions, box)
    assert abs(difference) < 4e-5 * abs(coulomb) + 1e-3
    assert ext.geometry.radius == pytest.approx(lining_radii(setup, b).mean(), abs=1e-3)


def test_openmm_files_and_position_restraints(tmp_path, built, lining):
    setup, b = built
    write_openmm(b.topology, b.system, b.positions, tmp_path)
    k = 500.0
    ext = external(tmp_path, {"lining": lining, "format": "openmm", "topology": "pore.xml", "coordinates": "pore.pdb",
                              "restrain": "resname K", "restraint_constant": k})
    loaded = load_external(ext)
    box = box_of(b)
    assert energy(loaded.system, loaded.positions, box, groups={0}) == pytest.approx(
        energy(b.system, loaded.positions, box, groups={0}), rel=1e-9)
    potassium = [a.index for a in loaded.topology.atoms() if a.residue.name == "K"]
    assert loaded.info["n_restrained"] == len(potassium) > 0
    assert energy(loaded.system, loaded.positions, box, groups={POSRES_GROUP}) == pytest.approx(0.0, abs=1e-9)
    moved = loaded.positions.copy()
    moved[potassium[0]] += [0.03, -0.04, 0.0]  # |d| = 0.05 nm
    assert energy(loaded.system, moved, box, groups={POSRES_GROUP}) == pytest.approx(0.5 * k * 0.05**2, rel=1e-6)
    # across the periodic face the restraint takes the minimum image
    moved[potassium[0]] += [box[0], 0.0, 0.0]
    assert energy(loaded.system, moved, box, groups={POSRES_GROUP}) == pytest.approx(0.5 * k * 0.05**2, rel=1e-6)


def test_windows_run_on_a_prepared_system(tmp_path, built, lining):
    from md_setups.runner import run_windows
    from nanopore.windows import read_window

    setup, b = built
    write_gromacs(b.topology, b.system, b.positions, tmp_path)
    ext = external(tmp_path, {"lining": lining, "format": "gromacs", "topology": "pore.top", "coordinates": "pore.gro"},
                   run={"voltages": [0.5]})
    paths = run_windows(ext, tmp_path / "run", windows=[1], progress=False)
    window = read_window(paths[0])
    assert window.n.size == 4 and np.all(np.isfinite(window.n))
    assert window.metadata["cv"] == ext.cv.to_dict()
    info = (tmp_path / "run" / "build" / "build.json").read_text()
    assert '"format": "gromacs"' in info and '"pore_geometry"' in info


@pytest.mark.parametrize("length, radius", [(4.0, 0.7), (0.9, 1.2)])
def test_principal_axis_of_long_and_short_shells(length, radius):
    angle, along = np.meshgrid(np.linspace(0, 2 * np.pi, 12, endpoint=False),
                               np.linspace(-length / 2, length / 2, 5))
    angle, along = angle.ravel(), along.ravel()
    shell = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), along])
    tilt = np.radians(7.0)
    rotation = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    axis = principal_axis(shell @ rotation.T + [3.0, 2.0, 1.0])
    assert np.degrees(np.arccos(abs(axis @ rotation[:, 2]))) < 1e-6


def test_bad_system_sections_name_the_problem(tmp_path, built, lining):
    setup, b = built
    write_gromacs(b.topology, b.system, b.positions, tmp_path)
    good = {"lining": lining, "format": "gromacs", "topology": "pore.top", "coordinates": "pore.gro"}
    with pytest.raises(SetupError, match=r"\[pore\] describes a built model pore"):
        external(tmp_path, good, pore={"radius": 0.5, "length": 1.0})
    with pytest.raises(SetupError, match="does not exist"):
        external(tmp_path, {**good, "coordinates": "missing.gro"})
    with pytest.raises(SetupError, match="selects no atoms"):
        external(tmp_path, {**good, "lining": "resname XYZ"})
    with pytest.raises(SetupError, match="not a valid MDAnalysis selection"):
        external(tmp_path, {**good, "lining": "resname WAL and and"})
    with pytest.raises(SetupError, match="needs parameters"):
        external(tmp_path, {"lining": lining, "format": "charmm", "topology": "pore.psf", "coordinates": "pore.crd"})
    with pytest.raises(SetupError, match="unknown key"):
        external(tmp_path, {**good, "lineing": "x"})
    # a tilted pore is refused with the fix
    with pytest.raises(SetupError, match="degrees off z"):
        first = lining.split()[4]  # "resname WAL and index FIRST ...": leave one site out
        external(tmp_path, {**good, "lining": lining.replace(f" {first} ", " ", 1), "max_tilt": 0.0})


def test_export_refuses_four_site_water(built):
    raw = copy.deepcopy(TINY)
    raw["solvent"]["water_model"] = "tip4pew"
    setup = validate_setup(raw, source="t")
    b4 = build_system(setup)
    with pytest.raises(ExportError, match="three-site"):
        write_gromacs(b4.topology, b4.system, b4.positions, "/nonexistent")


def test_md_check_reads_an_external_setup(tmp_path, built, lining):
    from nanopore.cli import main

    setup, b = built
    write_gromacs(b.topology, b.system, b.positions, tmp_path)
    (tmp_path / "ext.toml").write_text(textwrap.dedent(f"""
        [system]
        format = "gromacs"
        topology = "pore.top"
        coordinates = "pore.gro"
        lining = "{lining}"
        [windows]
        targets = [0.0, 2.0]
        [run]
        voltages = [0.0]
        """))
    result = CliRunner().invoke(main, ["md", "check", str(tmp_path / "ext.toml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    (tmp_path / "bad.toml").write_text((tmp_path / "ext.toml").read_text().replace("pore.gro", "nope.gro"))
    result = CliRunner().invoke(main, ["md", "check", str(tmp_path / "bad.toml")])
    assert result.exit_code == 1 and "nope.gro" in result.output and "Traceback" not in result.output
