"""Nonequilibrium MD checks: the piston, pressure ramps in replicas, and `nanopore compare`
of MD cycles with the kinetic model on the same profile."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from md_setups.piston import MPA_PER_KJ_MOL_NM3, PistonError, PressureRamp, slab_positions
from nanopore.compare import (
    compare_pressure,
    compare_voltage,
    first_crossing,
    md_switching_voltages,
    plot_comparison,
)
from nanopore.profile import select_voltage, write_dataset


def test_pressure_ramp_is_triangular():
    ramp = PressureRamp(low=-10.0, high=90.0, rate=20.0, hold=1.0)
    assert ramp.ramp_time == 5.0 and ramp.duration == 11.0
    t = np.array([0.0, 1.0, 3.5, 6.0, 8.5, 11.0, 12.0])
    assert np.allclose(ramp.pressure(t), [-10, -10, 40, 90, 40, -10, -10])
    with pytest.raises(PistonError, match="must exceed"):
        PressureRamp(5.0, 5.0, 1.0)
    with pytest.raises(PistonError, match="positive"):
        PressureRamp(0.0, 5.0, 0.0)


def test_piston_force_is_the_exact_push_of_the_plates():
    """The soft wall's energy and forces are analytic; their sum is k * sum of the overlaps."""
    openmm = pytest.importorskip("openmm")
    from md_setups.piston import PISTON_GROUP, add_piston, plate_force

    system = openmm.System()
    height, box_z, center, k = 1.0, 4.0, 0.5, 3000.0
    system.setDefaultPeriodicBoxVectors(openmm.Vec3(3, 0, 0), openmm.Vec3(0, 3, 0),
                                        openmm.Vec3(0, 0, box_z))
    z = np.array([0.5, 1.45, 1.62, -0.58, -0.3, 1.5 + 4.0])  # the last: an image beyond the top plate
    for _ in z:
        system.addParticle(16.0)
    add_piston(system, list(range(z.size)), center, height, k)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions([openmm.Vec3(0.1, 0.2, zi) for zi in z])
    state = context.getState(getEnergy=True, getForces=True, groups={PISTON_GROUP})
    signed = (z - center) - box_z * np.round((z - center) / box_z)
    overlap = np.clip(np.abs(signed) - height, 0.0, None)
    assert overlap[[2, 5]] == pytest.approx([0.12, 0.0]) and overlap[3] == pytest.approx(0.08)
    assert state.getPotentialEnergy()._value == pytest.approx(0.5 * k * (overlap ** 2).sum(), rel=1e-9)
    forces = np.array(state.getForces(asNumpy=True)._value)
    assert np.allclose(forces[:, 2], -k * overlap * np.sign(signed)) and np.allclose(forces[:, :2], 0)
    assert plate_force(context, list(range(z.size))) == pytest.approx(k * overlap.sum(), rel=1e-9)
    assert MPA_PER_KJ_MOL_NM3 == pytest.approx(1.66054, rel=1e-5)


def test_slab_positions_keep_molecules_whole():
    from openmm import app

    topology = app.Topology()
    chain = topology.addChain()
    for _ in range(2):
        residue = topology.addResidue("HOH", chain)
        for name, element in (("O", app.element.oxygen), ("H1", app.element.hydrogen)):
            topology.addAtom(name, element, residue)
    positions = np.array([[0, 0, 3.9], [0, 0, 4.05], [0, 0, 1.0], [0, 0, 1.1]])
    moved = slab_positions(topology, positions, center_z=0.0, box_height=4.0)
    assert np.allclose(moved[:, 2], [-0.1, 0.05, 1.0, 1.1])


def test_piston_run_on_a_tiny_pore_has_the_shapes_and_compresses(tmp_path):
    pytest.importorskip("openmm")
    from md_setups.piston import run_piston
    from md_setups.setup import validate_setup

    setup = validate_setup({
        "pore": {"radius": 0.5, "length": 0.9},
        "wall": {"epsilon": 0.3},
        "box": {"lateral": 1.9, "reservoir": 0.8},
        "solvent": {"full_pore_equilibration": 0.0},  # no unrestrained wet run at build time
        "simulation": {"nonbonded": "pme", "cutoff": 0.8, "platform": "CPU", "threads": 1},
        "windows": {"targets": [0.0, 8.0]},
        "run": {"voltages": [0.0], "cv_stride": 5, "seed": 3},
    }, source="tiny")
    ramp = PressureRamp(low=0.0, high=400.0, rate=800.0, hold=0.3)
    path = run_piston(setup, tmp_path, ramp, replicas=2, relaxation=0.1, progress=False)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["n"].dims == ("replica", "time") and ds.sizes["replica"] == 2
        assert ds.sizes["time"] == int(np.ceil(ramp.duration / 0.01))
        assert np.allclose(ds["pressure"].values[0], ramp.pressure(ds["time"].values))
        assert np.all(np.isfinite(ds["pressure_measured"].values))
        # at 400 MPa water is about 15 % denser: both replicas' plates moved in
        top = int(np.argmax(ds["pressure"].values[0]))
        hold_end = int(np.searchsorted(ds["time"].values, ramp.hold))
        assert np.all(ds["piston"].values[:, top] < ds["piston"].values[:, hold_end] - 0.02)


# ------------------------------------------------------------------ compare
def synthetic_piston_cycle(profile, replicas: int, seed: int, rate: float = 1.0e-3):
    """'MD' replicas that switch as the master equation says: wet while P_wet(t) >= u_r."""
    from langevin.intrusion import intrusion_cycles
    from nanopore.profile import profile_arrays

    low, high = -100.0, 150.0  # MPa; at 1e-3 MPa/ps the model pore intrudes near 58 and extrudes near -12
    n, f, d = profile_arrays(select_voltage(profile, 0.0))
    model = intrusion_cycles(n, f, d, float(profile.attrs["temperature"]), low, high, [rate * 1e12])
    p_model = model["pressure"].values.reshape(-1)
    w_model = model["p_wet"].values.reshape(-1)
    ramp = PressureRamp(low, high, rate, hold=1.0)
    time = np.linspace(0.0, ramp.duration, 4001)[1:]
    pressure = ramp.pressure(time)
    phase = np.clip((time - ramp.hold) / (2 * ramp.ramp_time), 0.0, 1.0)
    p_wet = np.interp(phase, np.linspace(0, 1, p_model.size), w_model)
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.02, 0.98, replicas)
    wet = p_wet[None, :] >= u[:, None]
    counts = np.where(wet, 40.0, 2.0) + rng.normal(0.0, 0.5, (replicas, time.size))
    ds = xr.Dataset({"n": (("replica", "time"), counts),
                     "pressure": (("replica", "time"), np.broadcast_to(pressure, counts.shape).copy())},
                    coords={"replica": np.arange(replicas), "time": time})
    ds.attrs.update(drive="pressure", pressure_low=low, pressure_high=high,
                    ramp_rate_MPa_per_ps=rate, hold_ps=ramp.hold, temperature=300.0)
    return ds, model


def test_compare_recovers_the_model_from_trajectories_that_follow_it(model_profile):
    md, model = synthetic_piston_cycle(model_profile, replicas=400, seed=1)
    result = compare_pressure(md, model_profile, smooth_ps=0.0, methods=("master",))
    for name in ("intrusion", "extrusion"):
        mean = float(result[f"md_{name}_pressure_mean"])
        error = float(result[f"md_{name}_pressure_error"])
        expected = float(model[f"{name}_pressure"].values.ravel()[0])
        assert int(result[f"md_{name}_pressure_count"]) == 400
        # the replicas switch at the quantile u of P_wet: their median is the model's P_wet = 1/2
        median = float(np.median(result[f"md_{name}_pressure"].values))
        assert abs(median - expected) < 4 * error + 1.0, name
        assert np.isfinite(mean) and error > 0
    assert result["model_intrusion_pressure"].values[0] > result["model_extrusion_pressure"].values[0]
    assert result["model_n"].dims == ("method", "phase")


def test_compare_cli_writes_table_dataset_and_figure(tmp_path, model_profile):
    from nanopore.cli import main

    md, _ = synthetic_piston_cycle(model_profile, replicas=6, seed=2)
    md_path, profile_path = tmp_path / "piston_cycle.nc", tmp_path / "profile.nc"
    write_dataset(md, md_path)
    write_dataset(model_profile, profile_path)
    out, figure = tmp_path / "compare.nc", tmp_path / "compare.png"
    result = CliRunner().invoke(main, ["compare", str(profile_path), str(md_path), "-o", str(out),
                                       "--plot", str(figure)])
    assert result.exit_code == 0, result.output
    assert "MD" in result.output and "master" in result.output and "fokker-planck" in result.output
    assert figure.stat().st_size > 10_000
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["method"].values.tolist() == ["master", "fokker-planck"]
        assert ds["md_intrusion_pressure"].attrs["units"] == "MPa"
    bad = CliRunner().invoke(main, ["compare", str(profile_path), str(tmp_path / "none.nc")])
    assert bad.exit_code == 1 and "does not exist" in bad.output and "Traceback" not in bad.output


def sine_drive(amplitude=0.5, frequency=0.05, switch=0.3, duration=60.0):
    """A drive_sine.nc whose 'pore' is wet exactly while V > switch."""
    time = np.arange(1, int(duration / 0.01) + 1) * 0.01
    volts = amplitude * np.sin(2 * np.pi * frequency * time)
    n = np.where(volts > switch, 38.0, 2.0)
    ds = xr.Dataset({"n": ("time", n), "voltage": ("time", volts)}, coords={"time": time})
    ds.attrs["parameters"] = json.dumps({"protocol": {"kind": "sine", "amplitude": amplitude,
                                                      "frequency": frequency, "offset": 0.0}})
    return ds


def test_md_switching_voltages_are_found_where_the_pore_switches():
    wetting, drying = md_switching_voltages([sine_drive(), sine_drive()], threshold=20.0, smooth_ps=0.0)
    assert wetting.size == 6  # three full periods per run
    resolution = 0.5 * 2 * np.pi * 0.05 * 0.01  # |dV/dt| * dt
    assert np.allclose(wetting, 0.3, atol=resolution) and np.allclose(drying, 0.3, atol=resolution)


def test_compare_voltage_runs_on_a_profile_with_voltages(tmp_path, model_profile):
    result = compare_voltage([sine_drive()], model_profile, methods=("master",), smooth_ps=0.0)
    assert float(result["md_wetting_voltage_mean"]) == pytest.approx(0.3, abs=0.01)
    assert result["model_wetting_voltage"].dims == ("method",)
    plot_comparison(result, tmp_path / "v.png")
    assert (tmp_path / "v.png").exists()
    assert np.isnan(first_crossing(np.array([0.0, 1.0]), np.array([0.0, 0.5]), 0.8, True))
    assert first_crossing(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.8, True) == pytest.approx(0.8)
