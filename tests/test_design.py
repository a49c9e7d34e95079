"""Design rules and maps, cross-checked against the kinetics; the design and profile-model
commands."""

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from langevin.hysteresis import memristor_loops
from langevin.rates import rates_dataset
from nanopore.capillary import intrusion_pressure, water_surface_tension
from nanopore.cli import main
from nanopore.continuum import ContinuumPore, continuum_profile
from nanopore.design import (
    VERDICTS,
    assess,
    design_map,
    plot_design_map,
    switching_rates,
)
from nanopore.pore_conductance import conductance_model, open_pore_conductance
from nanopore.profile import load_profile
from nanopore.voltage_model import VoltageModel

#: A pore that the rules call a memristor at 1 kHz under a 0.5 V drive (checked below).
MEMRISTIVE = ContinuumPore(0.6, 1.5, 97.0)


@pytest.fixture
def runner():
    return CliRunner()


def test_switching_rates_are_the_kinetics_exact_rates_on_the_profile():
    pore = ContinuumPore(0.5, 1.5, 110.0)
    volts = np.array([0.0, 0.5, 0.9])
    ours = switching_rates(pore, volts)
    profile = continuum_profile(pore, volts)
    theirs = rates_dataset(profile["n"].values, profile["free_energy"].values,
                           profile["diffusion"].values, volts, dry=0.0, wet=pore.n_wet)
    np.testing.assert_allclose(ours["k_wet"], theirs["k_wet"].values, rtol=1e-12)
    np.testing.assert_allclose(ours["k_dry"], theirs["k_dry"].values, rtol=1e-12)
    assert np.all(np.diff(ours["k_wet"]) > 0) and np.all(np.diff(ours["k_dry"]) < 0)
    # every rate is proportional to D
    faster = switching_rates(pore, volts, diffusion_dry=3.0, diffusion_wet=3.0)
    np.testing.assert_allclose(faster["k_wet"], 3.0 * ours["k_wet"], rtol=1e-12)


def test_memristor_verdict_and_its_numbers():
    report = assess(MEMRISTIVE, breakdown_voltage=0.5, frequency=1e3)
    assert report.is_memristor and report.reasons == []
    assert report.critical_voltage == pytest.approx(MEMRISTIVE.critical_voltage(), rel=1e-12)
    assert report.critical_voltage < report.amplitude == report.breakdown_voltage
    assert report.wetting_free_energy_kT >= 3.0
    assert report.k_wet_amplitude >= 1e3 and report.k_dry_zero >= 1e3
    # the adiabatic number from its definition
    _, b = MEMRISTIVE.voltage_coefficients()
    width = MEMRISTIVE.kT / abs(2 * b * report.critical_voltage)
    sweep = width / (2 * np.pi * 1e3 * np.sqrt(0.5**2 - report.critical_voltage**2))
    assert report.adiabatic_number == pytest.approx(report.relaxation_rate_critical * sweep, rel=1e-12)
    assert report.intrusion_pressure == pytest.approx(
        intrusion_pressure(0.6, 97.0, water_surface_tension(300.0)), rel=1e-12)
    assert report.open_pore_conductance == pytest.approx(open_pore_conductance(0.6, 1.5), rel=1e-12)


def test_verdict_agrees_with_the_loop_area_of_the_kinetics():
    """Where the rules say the pore follows the drive, the I-V loop is much narrower."""
    adiabatic_f = 0.5e3 * assess(MEMRISTIVE, frequency=1e3).adiabatic_number / 20.0
    report = assess(MEMRISTIVE, frequency=adiabatic_f)
    assert report.verdict == 5 and "follows the drive" in report.reasons[0]
    model = VoltageModel.fit(continuum_profile(MEMRISTIVE, [0.0, 0.25, 0.5]))
    loops = memristor_loops(model, 0.5, [adiabatic_f, 1e3], n_periods=3, steps_per_period=300,
                            dry=0.0, wet=MEMRISTIVE.n_wet)
    area_adiabatic, area_memristor = loops["loop_area"].values
    assert area_memristor > 5 * area_adiabatic


@pytest.mark.parametrize(
    "pore, options, verdict, text",
    [
        (ContinuumPore(0.5, 1.5, 80.0), {}, 1, "hydrophilic"),
        (ContinuumPore(0.8, 1.0, 91.0), {}, 1, "not dry at 0 V"),
        (ContinuumPore(0.5, 1.5, 110.0), {"breakdown_voltage": 0.5}, 2, "above the breakdown voltage"),
        (MEMRISTIVE, {"amplitude": 0.4}, 2, "above the drive amplitude"),
        (MEMRISTIVE, {"amplitude": 0.6}, 2, "exceeds the breakdown voltage"),
        (MEMRISTIVE, {"frequency": 1e9}, 3, "wets too slowly"),
        (ContinuumPore(1.0, 1.5, 93.0), {"frequency": 1e-3, "adiabatic_limit": 1e300}, 4,
         "dries too slowly"),
    ],
)
def test_each_rule_fails_with_its_reason(pore, options, verdict, text):
    report = assess(pore, **options)
    assert report.verdict == verdict, report.reasons
    assert not report.is_memristor
    assert any(text in reason for reason in report.reasons), report.reasons


def test_rules_refuse_bad_settings():
    with pytest.raises(ValueError, match="breakdown voltage must be a positive number of V"):
        assess(MEMRISTIVE, breakdown_voltage=-0.1)
    with pytest.raises(ValueError, match="drive frequency must be a positive number of Hz"):
        assess(MEMRISTIVE, frequency=0.0)


def test_design_map_values_and_plot(tmp_path):
    radii, angles = np.linspace(0.4, 0.9, 4), np.linspace(95.0, 140.0, 5)
    maps = design_map(radii, angles, 1.5, breakdown_voltage=0.5, frequency=1e3)
    assert maps["critical_voltage"].dims == ("radius", "contact_angle")
    assert maps["critical_voltage"].attrs["units"] == "V"
    assert maps["k_wet_amplitude"].attrs["units"] == "1/s"
    for i, radius in enumerate(radii):
        for j, angle in enumerate(angles):
            pore = ContinuumPore(radius, 1.5, angle)
            assert maps["critical_voltage"].values[i, j] == pytest.approx(pore.critical_voltage(), rel=1e-12)
            assert maps["verdict"].values[i, j] == assess(pore).verdict
    # V_c grows with the contact angle and falls with the radius (V_c ~ sqrt(|cos theta| / R))
    assert np.all(np.diff(maps["critical_voltage"].values, axis=1) > 0)
    assert np.all(np.diff(maps["critical_voltage"].values, axis=0) < 0)
    assert set(np.unique(maps["verdict"].values)) <= set(VERDICTS)
    path = plot_design_map(maps, tmp_path / "maps.png")
    assert path.stat().st_size > 10_000


def test_conductance_model_for_the_loops():
    model = conductance_model(0.5, 1.5)
    assert model.g_dry == 0.0 and model.g_wet == pytest.approx(open_pore_conductance(0.5, 1.5))


# --- command line --------------------------------------------------------------------------

def test_design_command_prints_a_table_with_units(runner, tmp_path):
    png = tmp_path / "maps.png"
    result = runner.invoke(main, ["design", "--radius", "0.5", "--length", "1.5", "--contact-angle", "110",
                                  "--map", str(png), "--map-points", "4"])
    assert result.exit_code == 0, result.output
    lines = {}
    for line in result.output.splitlines():
        cells = [cell.strip() for cell in line.split("  ") if cell.strip()]
        if len(cells) >= 2:
            lines[cells[0]] = cells[1:]
    pressure = intrusion_pressure(0.5, 110.0, water_surface_tension(300.0)) / 1e6
    assert lines["intrusion pressure (Laplace)"] == [f"{pressure:.4g}", "MPa"]
    assert lines["critical voltage"][-1] == "V"
    assert float(lines["critical voltage"][0]) == pytest.approx(
        ContinuumPore(0.5, 1.5, 110.0).critical_voltage(), rel=1e-3)
    assert "not a memristor: wets only at V_c" in result.output
    assert png.stat().st_size > 10_000
    with xr.open_dataset(tmp_path / "maps.nc", engine="h5netcdf") as maps:
        assert maps["critical_voltage"].shape == (4, 4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--radius", "-0.5"], "radius must be a positive number of nm, got -0.5 nm"),
        (["--contact-angle", "185"], "contact angle must lie between 0 and 180 degrees, got 185"),
        (["--temperature", "700"], "temperature must lie between"),
        (["--alpha", "2"], "alpha must lie in (0, 1]"),
    ],
)
def test_design_command_refuses_bad_input(runner, args, message):
    base = {"--radius": "0.5", "--length": "1.5", "--contact-angle": "110"}
    base.update(dict(zip(args[::2], args[1::2])))
    result = runner.invoke(main, ["design", *[item for pair in base.items() for item in pair]])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_profile_model_runs_through_the_kinetics_commands(runner, tmp_path):
    path = tmp_path / "continuum.nc"
    result = runner.invoke(main, ["profile", "model", "--radius", "0.6", "--length", "1.5",
                                  "--contact-angle", "97", "--voltages", "0,0.25,0.5", "--pressure", "10",
                                  "-o", str(path)])
    assert result.exit_code == 0, result.output
    profile = load_profile(path)
    assert profile["free_energy"].dims == ("voltage", "n")
    assert profile.attrs["excess_pressure_MPa"] == 10.0
    rates = runner.invoke(main, ["rates", str(path), "-o", str(tmp_path / "rates.nc")])
    assert rates.exit_code == 0, rates.output
    with xr.open_dataset(tmp_path / "rates.nc", engine="h5netcdf") as ds:
        assert np.all(np.diff(ds["k_wet"].values) > 0)
    loops = runner.invoke(main, ["hysteresis", str(path), "--amplitude", "0.5", "-f", "1e3",
                                 "--periods", "2", "--steps", "200"])
    assert loops.exit_code == 0, loops.output
    assert "loop area" in loops.output
    single = runner.invoke(main, ["profile", "model", "--radius", "0.5", "--length", "1.5",
                                  "--contact-angle", "110", "--voltages", "0.3", "-o",
                                  str(tmp_path / "single.nc")])
    assert single.exit_code == 0 and load_profile(tmp_path / "single.nc")["free_energy"].dims == ("n",)
    bad = runner.invoke(main, ["profile", "model", "--radius", "0.5", "--length", "1.5",
                               "--contact-angle", "-3", "-o", str(tmp_path / "bad.nc")])
    assert bad.exit_code == 1 and "contact angle must lie between 0 and 180 degrees" in bad.output


def test_main_help_lists_design(runner):
    result = runner.invoke(main, ["--help"])
    assert "design" in result.output
    text = runner.invoke(main, ["design", "--help"]).output
    for unit in ("R_NM", "L_NM", "DEGREES", "(MPa)", "(Hz)"):
        assert unit in text
