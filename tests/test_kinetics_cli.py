"""Kinetics commands: messages that name the problem, Langevin limits and output, loop options."""

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from nanopore.cli import main
from nanopore.profile import make_profile, save_profile
from nanopore.synthetic import model_pore_profile, quartic_double_well


@pytest.fixture
def runner():
    return CliRunner()


def _write(tmp_path, height, name):
    n = np.linspace(0.0, 12.0, 61)
    f = quartic_double_well(n, 2.0, 10.0, height, tilt=0.5)
    return str(save_profile(make_profile(n, f, 2.0, 300.0), tmp_path / name))


@pytest.fixture
def low_barrier(tmp_path):
    return _write(tmp_path, 2.5, "low.nc")


@pytest.fixture
def huge_barrier(tmp_path):
    return _write(tmp_path, 200.0, "huge.nc")


@pytest.mark.parametrize("options, message", [
    (["--dry", "9", "--wet", "2"], "--dry 9 must lie below --wet 2"),
    (["--dry", "40"], "--dry 40 lies outside the profile grid [0, 12]"),
    (["--wet", "-3"], "--wet -3 lies outside the profile grid"),
    (["--dry", "2", "--wet", "10", "--barrier", "11"], "--barrier 11 must lie below --wet 10"),
    (["--dry", "2", "--wet", "10", "--barrier", "1"], "--barrier 1 must lie above --dry 2"),
])
def test_rates_name_the_basin_option_at_fault(runner, huge_barrier, options, message):
    result = runner.invoke(main, ["rates", huge_barrier, *options])
    assert result.exit_code == 1
    assert message in result.output
    assert "no profile row has separate" not in result.output
    assert "Traceback" not in result.output


def test_langevin_refuses_a_200_kT_barrier_and_points_to_exact(runner, huge_barrier):
    result = runner.invoke(main, ["rates", huge_barrier, "--method", "langevin",
                                  "--trajectories", "10", "--max-steps", "1e8"])
    assert result.exit_code == 1
    assert "--max-steps" in result.output and "--method exact" in result.output
    # exact and Fokker-Planck answer at once, and agree
    exact = runner.invoke(main, ["rates", huge_barrier])
    fp = runner.invoke(main, ["rates", huge_barrier, "--method", "fokker-planck"])
    assert exact.exit_code == 0 and fp.exit_code == 0
    k_exact = float(exact.output.splitlines()[2].split()[1])
    k_fp = float(fp.output.splitlines()[2].split()[1])
    assert 0 < k_exact < 1e-60 and k_fp == pytest.approx(k_exact, rel=0.01)


def test_langevin_table_shows_errors_and_output_records_the_time_step(runner, low_barrier,
                                                                      tmp_path):
    out = str(tmp_path / "lv.nc")
    result = runner.invoke(main, ["rates", low_barrier, "--method", "langevin", "--trajectories",
                                  "60", "--threads", "1", "--max-time", "600", "-o", out])
    assert result.exit_code == 0, result.output
    assert "+-k_wet" in result.output and "+-k_dry" in result.output
    assert "time step" in result.output
    with xr.open_dataset(out) as ds:
        assert float(ds["time_step"]) > 0 and ds["time_step"].attrs["units"] == "ps"
        assert 0 < float(ds["k_wet_error"]) < float(ds["k_wet"])
        assert ds.attrs["interpolant"] == "linear-omega/log-linear-D"


def test_langevin_wall_time_limit(runner, low_barrier):
    result = runner.invoke(main, ["rates", low_barrier, "--method", "langevin",
                                  "--trajectories", "50", "--max-time", "0"])
    assert result.exit_code == 1
    assert "wall-time limit" in result.output and "--method exact" in result.output


def test_kramers_says_why_instead_of_nan(runner, low_barrier):
    result = runner.invoke(main, ["rates", low_barrier, "--method", "kramers"])
    assert result.exit_code == 1
    assert "below the 5 kT" in result.output and "nan" not in result.output.lower()


def test_profile_check_names_the_interpolant(runner, low_barrier):
    result = runner.invoke(main, ["profile", "check", low_barrier])
    assert result.exit_code == 0
    assert "kinetics interpolant: linear-omega/log-linear-D" in result.output


def test_hysteresis_waveform_periodic_state_and_static_limit(runner, tmp_path):
    path = str(save_profile(model_pore_profile(), tmp_path / "model.nc"))
    out = str(tmp_path / "loops.nc")
    result = runner.invoke(main, ["hysteresis", path, "-a", "0.45", "-f", "1e5", "-f", "1e11",
                                  "--waveform", "triangle", "-o", out])
    assert result.exit_code == 0, result.output
    assert "1e+11!" in result.output and "static profile does not" in result.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["waveform"] == "triangle"
        assert ds["beyond_static_limit"].values.tolist() == [0, 1]
        assert np.all(ds["converged"].values == 1)
        assert np.all(ds["periodic_error"].values <= ds.attrs["periodic_tolerance"])
