"""Restrained MD in OpenMM: the CV, the forces, resumable windows, setups, the CLI."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner

openmm = pytest.importorskip("openmm")

from md_setups.builder import build_system, ensure_build
from md_setups.forces import (
    FIELD_GROUP,
    KAPPA,
    RESTRAINT_GROUP,
    TARGET,
    add_cv_restraint,
    add_field,
    analysis_groups,
    field_strength,
)
from md_setups.platforms import pick_platform_name
from md_setups.runner import WindowTask, run_windows, window_path
from md_setups.setup import SetupError, load_setup, validate_setup
from nanopore.cli import main
from nanopore.units import EV_IN_KJ_PER_MOL
from nanopore.windows import read_window

#: a very small pore system: builds in a fraction of a second, runs fast on Reference
TINY = {
    "pore": {"radius": 0.5, "length": 0.9},
    "wall": {"epsilon": 0.3},
    "solvent": {"salt_concentration": 1.0},
    "box": {"lateral": 1.9, "reservoir": 0.8},
    "simulation": {"nonbonded": "cutoff", "cutoff": 0.8, "platform": "Reference"},
    "windows": {"targets": [2.0, 4.0], "spring_constant": 4.0},
    "run": {"voltages": [0.5], "equilibration": 0.01, "production": 0.1, "cv_stride": 5,
            "checkpoint_interval": 0.01, "seed": 11},
}


def tiny_setup(**changes: dict) -> object:
    raw = copy.deepcopy(TINY)
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    return validate_setup(raw, source="tiny")


def reference_context(system, positions):
    integrator = openmm.VerletIntegrator(0.001)
    platform = openmm.Platform.getPlatformByName("Reference")
    context = openmm.Context(system, integrator, platform)
    context.setPositions(positions)
    return context


@pytest.fixture(scope="module")
def tiny_built():
    setup = tiny_setup()
    return setup, build_system(setup)


# --------------------------------------------------------------------------- CV
def test_openmm_cv_equals_numpy_cv(tiny_built):
    setup, built = tiny_built
    system = copy.deepcopy(built.system)
    index = add_cv_restraint(system, setup.cv, built.oxygen_indices)
    context = reference_context(system, built.positions)
    force = system.getForce(index)
    rng = np.random.default_rng(3)
    box = setup.box_edges
    for frame in range(6):
        positions = built.positions.copy()
        moved = positions[built.oxygen_indices] + rng.normal(0.0, 0.15, (len(built.oxygen_indices), 3))
        # unwrapped coordinates: molecules displaced by whole box vectors count the same
        moved += box * rng.integers(-2, 3, moved.shape)
        positions[built.oxygen_indices] = moved
        context.setPositions(positions)
        openmm_value = force.getCollectiveVariableValues(context)[0]
        numpy_value = setup.cv.count(moved, box)
        assert numpy_value > 0.5  # the frames do put water in the pore
        assert openmm_value == pytest.approx(numpy_value, rel=1e-12, abs=1e-12)


def test_restraint_energy_and_forces_are_analytic(tiny_built):
    setup, built = tiny_built
    system = copy.deepcopy(built.system)
    kappa, target = 7.0, 1.3
    add_cv_restraint(system, setup.cv, built.oxygen_indices, kappa, target)
    context = reference_context(system, built.positions)
    box = setup.box_edges
    oxygens = built.positions[built.oxygen_indices]
    n_value = setup.cv.count(oxygens, box)
    state = context.getState(getEnergy=True, getForces=True, groups={RESTRAINT_GROUP})
    energy = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
    assert energy == pytest.approx(0.5 * kappa * (n_value - target) ** 2, rel=1e-12)

    forces = state.getForces(asNumpy=True).value_in_unit(
        openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    chi = setup.cv.indicator(oxygens, box)
    boundary = np.flatnonzero((chi > 0.05) & (chi < 0.95))  # molecules that feel the restraint
    assert boundary.size > 0
    step = 1e-6
    for atom in boundary[:4]:
        for axis in range(3):
            plus, minus = oxygens.copy(), oxygens.copy()
            plus[atom, axis] += step
            minus[atom, axis] -= step
            u_plus = 0.5 * kappa * (setup.cv.count(plus, box) - target) ** 2
            u_minus = 0.5 * kappa * (setup.cv.count(minus, box) - target) ** 2
            expected = -(u_plus - u_minus) / (2 * step)
            got = forces[built.oxygen_indices[atom], axis]
            assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # the parameters change without rebuilding anything
    context.setParameter(KAPPA, 2.0)
    context.setParameter(TARGET, n_value)
    energy = context.getState(getEnergy=True, groups={RESTRAINT_GROUP}).getPotentialEnergy()
    assert energy.value_in_unit(openmm.unit.kilojoule_per_mole) == pytest.approx(0.0, abs=1e-12)


def test_field_force_is_q_times_e(tiny_built):
    setup, built = tiny_built
    system = copy.deepcopy(built.system)
    voltage = 0.8
    add_field(system, voltage, setup.box_height)
    context = reference_context(system, built.positions)
    forces = context.getState(getForces=True, groups={FIELD_GROUP}).getForces(asNumpy=True)
    forces = forces.value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    charges = np.array([nonbonded.getParticleParameters(i)[0].value_in_unit(
        openmm.unit.elementary_charge) for i in range(system.getNumParticles())])
    e_field = voltage / setup.box_height * EV_IN_KJ_PER_MOL
    np.testing.assert_allclose(forces[:, 2], charges * e_field, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forces[:, :2], 0.0, atol=1e-12)
    assert np.count_nonzero(charges) > 0
    assert field_strength(1.0, 1.0) == pytest.approx(96.485, rel=1e-4)
    assert FIELD_GROUP not in analysis_groups() and RESTRAINT_GROUP in analysis_groups()


# ---------------------------------------------------------------------- builder
def test_quick_setup_builds_and_passes_its_checks(tmp_path):
    setup = load_setup("quick")
    built = ensure_build(setup, tmp_path / "build")
    checks = built.info["checks"]
    assert abs(checks["net_charge_e"]) < 1e-9
    assert checks["n_pore_at_build"] > 5  # built wet
    assert built.info["n_potassium"] == built.info["n_chloride"] > 0
    assert all(built.system.getParticleMass(i)._value == 0.0 for i in built.wall_indices)
    # reloading returns the same system rather than building again
    again = ensure_build(setup, tmp_path / "build")
    np.testing.assert_allclose(again.positions, built.positions, atol=1e-3)
    assert (tmp_path / "build" / "system.xml").exists()
    # and runs a few steps of one window
    values = setup.to_dict()
    values["run"].update(equilibration=0.02, production=0.04, voltages=[1.0])
    values["simulation"]["threads"] = 1
    short = validate_setup(values, source=setup.source)
    (path,) = run_windows(short, tmp_path, windows=[3], progress=False)
    window = read_window(path)
    assert window.n.size == 2 and window.center == short.targets[3]
    assert window.metadata["cv"] == setup.cv.to_dict()


def test_dry_build_has_an_empty_pore():
    setup = tiny_setup(solvent={"fill": "dry"})
    built = build_system(setup)
    assert built.info["checks"]["n_pore_at_build"] < 0.5


# ------------------------------------------------------------------------- runs
def test_window_file_has_the_metadata_analysis_needs(tmp_path):
    setup = tiny_setup(simulation={"platform": "CPU", "threads": 1})
    paths = run_windows(setup, tmp_path, progress=False)
    assert len(paths) == 2
    window = read_window(window_path(tmp_path, WindowTask(0.5, 1)))
    assert window.complete and window.center == 4.0 and window.spring_constant == 4.0
    assert window.voltage == 0.5 and window.temperature == 300.0
    assert window.metadata["stride"] == 5 and window.metadata["timestep"] == 0.002
    np.testing.assert_allclose(window.time, 0.01 * np.arange(1, 11))
    # a finished window is not run again: its file is left untouched
    stamp = paths[0].stat().st_mtime_ns
    run_windows(setup, tmp_path, progress=False)
    assert paths[0].stat().st_mtime_ns == stamp
    assert "from final state of window 01" in (tmp_path / "run.log").read_text()


_KILLABLE = textwrap.dedent("""
    import sys, tomllib
    from md_setups.setup import validate_setup
    from md_setups.runner import run_windows
    raw = {raw!r}
    run_windows(validate_setup(raw, "tiny"), sys.argv[1], windows=[0], progress=False)
""")


def test_killed_window_resumes_with_exactly_the_uninterrupted_samples(tmp_path):
    raw = copy.deepcopy(TINY)
    raw["run"].update(production=0.3, checkpoint_interval=0.02)
    setup = validate_setup(raw, source="tiny")
    run_windows(setup, tmp_path / "straight", windows=[0], progress=False)
    reference = read_window(window_path(tmp_path / "straight", WindowTask(0.5, 0)))

    script = tmp_path / "run.py"
    script.write_text(_KILLABLE.format(raw=raw))
    out = tmp_path / "killed"
    checkpoint = window_path(out, WindowTask(0.5, 0), ".chk")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    process = subprocess.Popen([sys.executable, str(script), str(out)], env=env)
    deadline = time.time() + 120
    killed_at = 0
    while time.time() < deadline and process.poll() is None:
        record = checkpoint.with_name(checkpoint.name + ".json")
        if record.exists():
            try:
                payload = json.loads(record.read_text())
            except (OSError, json.JSONDecodeError):
                payload = {}
            if payload.get("phase") == "production" and payload.get("n_samples", 0) >= 12:
                process.kill()
                killed_at = payload["n_samples"]
                break
        time.sleep(0.02)
    process.wait()
    assert killed_at > 0, "the run finished before it could be killed mid-production"
    partial = read_window(window_path(out, WindowTask(0.5, 0)))  # readable after the kill
    assert not partial.complete and partial.n.size >= killed_at

    lock = window_path(out, WindowTask(0.5, 0), ".lock")
    assert lock.exists()  # left by the killed process, whose pid is gone: taken over below
    run_windows(setup, out, windows=[0], progress=False)
    resumed = read_window(window_path(out, WindowTask(0.5, 0)))
    assert resumed.complete and not checkpoint.exists() and not lock.exists()
    np.testing.assert_array_equal(resumed.time, reference.time)
    np.testing.assert_array_equal(resumed.n, reference.n)


def test_drive_records_n_and_the_voltage_ramp(tmp_path):
    from md_setups.drive import VoltageProtocol, run_drive
    from nanopore.profile import xr

    setup = tiny_setup(simulation={"platform": "CPU", "threads": 1})
    path = run_drive(setup, tmp_path, VoltageProtocol("ramp", start=0.0, stop=1.0), 0.1,
                     field_stride=10, seed=5, progress=False)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["n"].attrs["units"] == "molecules" and ds["voltage"].attrs["units"] == "V"
        voltage = ds["voltage"].values
        # held between field updates (every 10 steps = 0.02 ps), sampled every 0.01 ps
        updated_at = np.floor((ds["time"].values - 0.01) / 0.02 + 1e-9) * 0.02
        np.testing.assert_allclose(voltage, updated_at / 0.1, atol=1e-12)
        assert np.all(np.isfinite(ds["n"].values))


# ------------------------------------------------------------------------ setup
@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("pore", "radius", -0.5, "[pore] radius = -0.5 is out of range"),
        ("wall", "lattice", "hexagonal", "is not one of cubic, fcc"),
        ("simulation", "timestep", "2 fs", "must be a number"),
        ("run", "cv_stride", 2.5, "must be a whole number"),
        ("pore", "colour", 3, "unknown key(s) ['colour'] in [pore]"),
        ("simulation", "cutoff", 1.2, "more than half the smallest box edge"),
        ("windows", "targets", [1.0, 1.0], "duplicates"),
        ("run", "voltages", [], "non-empty list"),
    ],
)
def test_bad_setups_name_the_key_and_the_allowed_values(section, key, value, message):
    raw = copy.deepcopy(TINY)
    raw.setdefault(section, {})[key] = value
    with pytest.raises(SetupError) as err:
        validate_setup(raw, source="bad.toml")
    assert message in str(err.value)


def test_missing_required_key_and_bad_toml(tmp_path):
    raw = copy.deepcopy(TINY)
    del raw["pore"]["radius"]
    with pytest.raises(SetupError, match=r"\[pore\] radius is required"):
        validate_setup(raw)
    broken = tmp_path / "broken.toml"
    broken.write_text("[pore\nradius = 1")
    with pytest.raises(SetupError, match="not valid TOML"):
        load_setup(broken)
    with pytest.raises(SetupError, match="does not exist"):
        load_setup(tmp_path / "missing.toml")


def test_bundled_setups_are_valid():
    quick, production = load_setup("quick"), load_setup("production")
    assert len(quick.targets) * len(quick.voltages) <= 16
    assert production["run"]["production"] >= 100 * quick["run"]["production"]
    with open(Path(quick.source), "rb") as handle:
        assert tomllib.load(handle)["windows"]["spring_constant"] == quick["windows"]["spring_constant"]


def test_platform_preference():
    assert pick_platform_name(["Reference", "CPU", "OpenCL", "CUDA"]) == "CUDA"
    assert pick_platform_name(["Reference", "CPU", "OpenCL"]) == "OpenCL"
    assert pick_platform_name(["Reference", "CPU"]) == "CPU"
    with pytest.raises(RuntimeError, match="not available"):
        pick_platform_name(["Reference", "CPU"], "CUDA")


# -------------------------------------------------------------------------- CLI
def test_md_cli_check_and_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["md", "check", "quick"])
    assert result.exit_code == 0 and "valid" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[pore]\nradius = -1\nlength = 1\n[box]\nlateral = 3\nreservoir = 1\n"
                   "[windows]\ntargets = [0]\n")
    result = runner.invoke(main, ["md", "check", str(bad)])
    assert result.exit_code == 1 and "[pore] radius = -1 is out of range" in result.output
    result = runner.invoke(main, ["md", "run", "quick"])
    assert result.exit_code == 2 and "--all" in result.output


def test_dcd_frames_give_the_recorded_cv_through_mdanalysis(tmp_path):
    """MD -> trajectory -> analysis: N of the written frames equals the samples of the run."""
    mda = pytest.importorskip("MDAnalysis")
    from analysis.trajectory import PoreWater

    setup = tiny_setup(simulation={"platform": "CPU", "threads": 1},
                       run={"trajectory": "dcd", "trajectory_stride": 5})
    (path,) = run_windows(setup, tmp_path, windows=[1], progress=False)
    window = read_window(path)
    universe = mda.Universe(str(tmp_path / "build" / "system.pdb"),
                            str(window_path(tmp_path, WindowTask(0.5, 1), ".dcd")))
    assert len(universe.trajectory) == window.n.size
    water = PoreWater(universe.select_atoms("resname HOH and name O"), setup.cv).run()
    # DCD stores single-precision coordinates: agreement to about 1e-5 molecules
    np.testing.assert_allclose(water.results.n, window.n, atol=5e-4)
