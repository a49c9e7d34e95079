"""Ionic current from MD: three estimators on a bulk KCl box under a field, crossing counts,
block errors, the pore's G_wet and G_dry, and the kinetics reading them."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy import stats

openmm = pytest.importorskip("openmm")

from md_setups.current import (
    CurrentError,
    _charges_and_ions,
    block_mean,
    counting_error,
    plane_crossings,
    read_conductance,
    sample_current,
    slope_through_origin,
    summarise,
)

#: edge of the bulk electrolyte box (nm)
EDGE = 1.8
VOLTAGES = (0.0, 1.0, 2.0)
#: blocks of the error estimates: 1.2 ps each, longer than the current's correlation
N_BLOCKS = 10
#: a deviation this many block errors wide has probability 1e-3 (Student t, N_BLOCKS - 1
#: degrees of freedom: the block error is itself estimated from N_BLOCKS means);
#: over 8 ps runs with 5 blocks and a limit of 3.5, seeds 0-11 of this box gave a
#: zero-voltage current 3.7 errors wide, and a CI run one 4.8 wide
T_LIMIT = float(stats.t.ppf(1.0 - 0.0005, N_BLOCKS - 1))


def bulk_box(seed: int = 5):
    """A small 2 M KCl box (about 530 atoms) with the toolkit's field on every charge."""
    import random

    from openmm import app, unit

    from md_setups.forces import add_field

    random.seed(seed)
    forcefield = app.ForceField("amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(forcefield, boxSize=openmm.Vec3(EDGE, EDGE, EDGE) * unit.nanometer,
                        positiveIon="K+", negativeIon="Cl-", ionicStrength=2.0 * unit.molar)
    system = forcefield.createSystem(modeller.topology, nonbondedMethod=app.PME,
                                     nonbondedCutoff=0.8 * unit.nanometer, rigidWater=True,
                                     removeCMMotion=False)
    add_field(system, 0.0, EDGE)
    return system, np.array(modeller.getPositions().value_in_unit(unit.nanometer))


def run_bulk(system, positions, voltage: float, seed: int, picoseconds: float = 12.0):
    from md_setups.forces import VOLTAGE, voltage_parameter

    integrator = openmm.LangevinMiddleIntegrator(300.0, 1.0, 0.002)
    integrator.setRandomNumberSeed(seed)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"),
                             {"Threads": "1"})
    context.setPositions(positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 200)
    context.setVelocitiesToTemperature(300.0, seed)
    context.setParameter(VOLTAGE, voltage_parameter(voltage))
    integrator.step(500)  # 1 ps

    def advance(steps: int) -> float:
        integrator.step(steps)
        return EDGE

    charges, ions = _charges_and_ions(system)
    stride = 20
    return sample_current(context, advance, int(picoseconds / (stride * 0.002)), stride, charges,
                          ions, plane=0.5 * EDGE)


@pytest.fixture(scope="module")
def bulk_runs():
    system, positions = bulk_box()
    return {v: summarise(run_bulk(system, positions, v, seed=21 + k), n_blocks=N_BLOCKS)
            for k, v in enumerate(VOLTAGES)}


def test_zero_current_without_voltage(bulk_runs):
    rest = bulk_runs[0.0]
    for name in ("velocity", "displacement", "crossings"):
        assert abs(rest[f"current_{name}"]) < T_LIMIT * rest[f"current_{name}_error"], name


def test_current_follows_the_voltage_in_bulk(bulk_runs):
    """Positive currents that grow with the voltage, and a conductance beyond its error.

    Not a ratio I(2 V) = 2 I(1 V): 2 V across this 1.8 nm box is a field of 1.1 V/nm,
    strong enough to break ion pairs of 2 M KCl (the second Wien effect), and the current
    grows faster than the voltage: 16 ps runs of this box (seeds 1-3) gave
    I(2 V) / 2 I(1 V) = 1.16, 1.34 and 2.55 (+- 0.8), always above 1.
    """
    one, two = bulk_runs[1.0], bulk_runs[2.0]
    i1, e1 = one["current_displacement"], one["current_displacement_error"]
    i2, e2 = two["current_displacement"], two["current_displacement_error"]
    assert i1 > 2 * e1 and i2 > 3 * e2  # cations drift along +z, anions along -z: I > 0
    assert i2 > i1, (i1, i2)
    g, g_error = slope_through_origin(np.array(VOLTAGES), np.array([bulk_runs[v]["current_displacement"] for v in VOLTAGES]),
                                      np.array([bulk_runs[v]["current_displacement_error"] for v in VOLTAGES]))
    assert g > 3 * g_error


def test_the_estimators_agree_within_errors(bulk_runs):
    for v, run in bulk_runs.items():
        d, ed = run["current_displacement"], run["current_displacement_error"]
        for other in ("velocity", "crossings"):
            o, eo = run[f"current_{other}"], run[f"current_{other}_error"]
            assert abs(o - d) < T_LIMIT * np.hypot(ed, eo), (v, other)


def test_one_moving_ion_gives_exact_currents_and_crossings():
    """An ion drifting at 0.25 nm/ps through a 4 nm box: every estimator is exact."""
    unit = openmm.unit

    class FakeState:
        def __init__(self, z, t):
            self.z, self.t = z, t

        def getPositions(self, asNumpy=True):
            return unit.Quantity(np.array([[0.0, 0.0, self.z]]), unit.nanometer)

        def getVelocities(self, asNumpy=True):
            return unit.Quantity(np.array([[0.0, 0.0, 0.25]]), unit.nanometer / unit.picosecond)

        def getTime(self):
            return unit.Quantity(self.t, unit.picosecond)

    class FakeContext:
        z, t = 0.9, 0.0  # just below the plane at z = 1; positions unwrapped, as OpenMM keeps them

        def getState(self, **_):
            return FakeState(self.z, self.t)

    context = FakeContext()

    def advance(steps):
        context.z += 0.25
        context.t += 1.0
        return 4.0

    from md_setups.current import NANOAMPERE_PER_E_PER_PS

    series = sample_current(context, advance, 20, 1, np.array([1.0]), np.array([0]), plane=1.0)
    summary = summarise(series, 4)
    expected = 0.25 / 4.0 * NANOAMPERE_PER_E_PER_PS  # q v / L_z
    assert summary["current_velocity"] == pytest.approx(expected)
    assert summary["current_displacement"] == pytest.approx(expected)
    assert summary["current_displacement_error"] == pytest.approx(0.0, abs=1e-9)
    # 5 nm travelled: the plane at z = 1 and its image at z = 5 are crossed once each
    assert summary["crossings_cation"] == 2 and summary["crossings_anion"] == 0
    assert summary["current_crossings"] == pytest.approx(2 * NANOAMPERE_PER_E_PER_PS / 20.0)


def test_counting_error_of_the_crossing_current():
    from md_setups.current import NANOAMPERE_PER_E_PER_PS

    # four single-ion crossings (net charge 2) in 10 ps: var(Q) = 4 e^2
    charge = np.array([1.0, 0.0, -1.0, 1.0, 0.0, 1.0])
    assert counting_error(charge, 10.0) == pytest.approx(2.0 / 10.0 * NANOAMPERE_PER_E_PER_PS)
    # no crossing at all: one elementary charge over the run, never an exact zero
    assert counting_error(np.zeros(6), 8.0) == pytest.approx(NANOAMPERE_PER_E_PER_PS / 8.0)
    with pytest.raises(CurrentError, match="no current"):
        counting_error(charge, 0.0)


def test_run_without_crossings_has_a_nonzero_crossing_error():
    """A dry pore (or a short run) crosses nothing: the crossing current is 0 +- 1 e / T."""
    from md_setups.current import NANOAMPERE_PER_E_PER_PS, CurrentSeries

    time = np.arange(1, 21, dtype=float)  # 20 samples, 1 ps apart
    zeros = np.zeros(20)
    series = CurrentSeries(time=time, velocity=zeros, displacement=zeros,
                           crossings=np.zeros((20, 2), dtype=int), crossing_charge=zeros,
                           n=np.full(20, np.nan))
    summary = summarise(series, 4)
    assert summary["current_crossings"] == 0.0
    assert summary["current_crossings_error"] == pytest.approx(NANOAMPERE_PER_E_PER_PS / 20.0)


def test_plane_crossings_and_block_errors_are_exact():
    # two particles: one crosses z = 1 upwards, one crosses its image at 1 + 3 = 4 downwards
    counts = plane_crossings(np.array([0.9, 4.05]), np.array([0.2, -0.1]), plane=1.0, box_height=3.0)
    assert counts.tolist() == [1, -1]
    assert plane_crossings(np.array([2.4]), np.array([0.3]), 1.0, 3.0).tolist() == [0]  # box face
    mean, error = block_mean(np.array([1.0, 1.0, 3.0, 3.0]), 2)
    assert mean == 2.0 and error == pytest.approx(1.0)
    with pytest.raises(CurrentError, match="cannot fill"):
        block_mean(np.ones(3), 5)
    g, e = slope_through_origin(np.array([-1.0, 1.0, 2.0]), np.array([-2.0, 2.0, 4.0]), np.ones(3))
    assert g == pytest.approx(2.0) and e == pytest.approx(1.0 / np.sqrt(6.0))


def write_conductance(path, g_wet, g_dry, e_wet=0.1, e_dry=0.1):
    ds = xr.Dataset({"conductance": ("state", [g_wet, g_dry]),
                     "conductance_error": ("state", [e_wet, e_dry])},
                    coords={"state": ["wet", "dry"]})
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_read_conductance_clips_noise_and_refuses_nonsense(tmp_path):
    assert read_conductance(write_conductance(tmp_path / "a.nc", 1.5, -0.05)) == (1.5, 0.0)
    with pytest.raises(CurrentError, match="negative beyond"):
        read_conductance(write_conductance(tmp_path / "b.nc", 1.5, -0.5))
    with pytest.raises(CurrentError, match="not above"):
        read_conductance(write_conductance(tmp_path / "c.nc", 0.1, 0.2))
    with pytest.raises(FileNotFoundError, match="nanopore md conductance"):
        read_conductance(tmp_path / "missing.nc")


def test_hysteresis_takes_the_measured_conductance(tmp_path, model_profile):
    from nanopore.cli import main
    from nanopore.profile import write_dataset

    profile = tmp_path / "p.nc"
    write_dataset(model_profile, profile)
    path = write_conductance(tmp_path / "conductance.nc", 2.5, 0.0)
    out = tmp_path / "loops.nc"
    result = CliRunner().invoke(main, ["hysteresis", str(profile), "-a", "0.3", "-f", "1e6",
                                       "--conductance-from", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as loops:
        # two-level conductance: G = G_dry + (G_wet - G_dry) P_wet with the measured 2.5 and 0 nS
        assert np.allclose(loops["conductance"].values, 2.5e-9 * loops["p_wet"].values, rtol=1e-9)


def test_pore_conductance_run_writes_g_wet_and_g_dry(tmp_path):
    from md_setups.current import measure_conductance
    from md_setups.setup import validate_setup

    raw = {
        "pore": {"radius": 0.5, "length": 0.9},
        "wall": {"epsilon": 0.3},
        "box": {"lateral": 1.9, "reservoir": 0.8},
        "solvent": {"full_pore_equilibration": 0.0},  # no unrestrained wet run at build time
        "simulation": {"nonbonded": "pme", "cutoff": 0.8, "platform": "CPU", "threads": 1},
        # A stiff restraint and 0.1 ps of pulling: the built pore holds about 7 waters,
        # and a soft one over 0.02 ps left the wet and dry runs within 0.1 of each other.
        "windows": {"targets": [0.0, 8.0], "spring_constant": 40.0},
        "run": {"voltages": [0.5], "cv_stride": 5, "seed": 3},
    }
    setup = validate_setup(copy.deepcopy(raw), source="tiny")
    path = measure_conductance(setup, tmp_path, [0.5], duration_ps=0.2, equilibration_ps=0.1,
                               n_blocks=2, progress=False)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["current_displacement"].dims == ("state", "voltage")
        assert ds["state"].values.tolist() == ["wet", "dry"]
        assert ds["conductance"].attrs["units"] == "nS"
        assert np.all(np.isfinite(ds["conductance"].values))
        assert ds["target"].values.tolist() == [8.0, 0.0]
        # the two restraints pull apart by more than one water (measured 1.3-2.4)
        assert ds["n_mean"].sel(state="wet") > ds["n_mean"].sel(state="dry") + 0.5
