"""The nanopore command line: help, version, the kinetics commands and their errors."""

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from nanopore import __version__
from nanopore.cli import main
from nanopore.profile import make_profile, save_profile, write_dataset


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def profile_file(tmp_path, model_profile):
    return str(save_profile(model_profile, tmp_path / "profile.nc"))


def test_help_and_version(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("rates", "hysteresis", "cycle", "profile", "demo"):
        assert command in result.output
    assert __version__ in runner.invoke(main, ["--version"]).output
    for command in ("rates", "hysteresis", "cycle"):
        text = runner.invoke(main, [command, "--help"]).output
        assert "PROFILE.nc" in text


def test_rates_writes_si_dataset_and_plot(runner, profile_file, tmp_path):
    out, png = tmp_path / "rates.nc", tmp_path / "rates.png"
    result = runner.invoke(main, ["rates", profile_file, "-o", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "k_wet (1/s)" in result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.k_wet.attrs["units"] == "1/s" and ds.k_wet.dims == ("voltage",)
        assert np.all(np.diff(ds.k_wet.values) > 0)  # voltage favours wetting
        assert np.all(np.diff(ds.k_dry.values) < 0)
    assert png.stat().st_size > 1000


def test_rates_at_model_voltages_and_methods_agree(runner, profile_file, tmp_path):
    values = {}
    for method in ("exact", "fokker-planck"):
        out = tmp_path / f"{method}.nc"
        result = runner.invoke(main, ["rates", profile_file, "--voltages", "0.1,0.2,0.35",
                                      "--method", method, "-o", str(out)])
        assert result.exit_code == 0, result.output
        with xr.open_dataset(out, engine="h5netcdf") as ds:
            np.testing.assert_allclose(ds.voltage.values, [0.1, 0.2, 0.35])
            values[method] = ds.k_wet.values.copy()
    np.testing.assert_allclose(values["exact"], values["fokker-planck"], rtol=0.01)


def test_hysteresis_writes_loops(runner, profile_file, tmp_path):
    out, png = tmp_path / "loop.nc", tmp_path / "loop.png"
    result = runner.invoke(main, ["hysteresis", profile_file, "--amplitude", "0.45", "-f", "1e5",
                                  "-f", "1e6", "--model", "fokker-planck", "-o", str(out),
                                  "--plot", str(png)])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        for name in ("time", "voltage", "current", "conductance", "p_wet"):
            assert ds[name].dims == ("frequency", "phase")
        assert ds.loop_area.dims == ("frequency",)
        assert ds.current.attrs["units"] == "A"
    assert png.stat().st_size > 1000


def test_cycle_command(runner, profile_file, tmp_path):
    out = tmp_path / "cycle.nc"
    result = runner.invoke(main, ["cycle", profile_file, "--pressure-high", "60",
                                  "--pressure-rate", "1", "--pressure-rate", "1e5",
                                  "--temperature", "300", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "P_int (MPa)" in result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.intrusion_pressure.attrs["units"] == "MPa"


def test_bad_inputs_exit_with_one_line_message(runner, tmp_path):
    missing = runner.invoke(main, ["rates", str(tmp_path / "nope.nc")])
    assert missing.exit_code == 1 and "not found" in missing.output
    n = np.linspace(0, 10, 11)
    bad = make_profile(n, (n - 5) ** 2, 1.0, 300.0)
    bad["diffusion"] = bad.diffusion * 0 - 1
    write_dataset(bad, tmp_path / "bad.nc")
    result = runner.invoke(main, ["rates", str(tmp_path / "bad.nc")])
    assert result.exit_code == 1 and "'diffusion' must be positive" in result.output
    assert "Traceback" not in result.output
    good = tmp_path / "good.nc"
    save_profile(make_profile(n, (n - 5) ** 2, 1.0, 300.0), good)
    one_well = runner.invoke(main, ["rates", str(good)])
    assert one_well.exit_code == 1 and "--dry, --wet" in one_well.output
    no_voltage = runner.invoke(main, ["hysteresis", str(good), "-a", "0.3", "-f", "1e3"])
    assert no_voltage.exit_code == 1 and "voltage" in no_voltage.output
    bad_list = runner.invoke(main, ["rates", str(good), "--voltages", "a,b"])
    assert bad_list.exit_code == 2


def test_profile_check_and_example(runner, tmp_path):
    path = tmp_path / "example.nc"
    assert runner.invoke(main, ["profile", "example", "-o", str(path)]).exit_code == 0
    result = runner.invoke(main, ["profile", "check", str(path)])
    assert result.exit_code == 0 and "valid profile" in result.output

