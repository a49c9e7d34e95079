"""``nanopore fes --keep-replicates`` and the kinetics' intervals from kept replicates."""

import numpy as np
import xarray as xr
from click.testing import CliRunner

import pytest

from analysis.bootstrap import gauged_replicates, profile_error
from analysis.errors import AnalysisError
from analysis.synthetic import synthetic_windows
from nanopore.cli import main
from nanopore.profile import load_profile
from nanopore.synthetic import quartic_double_well

CENTERS = np.arange(0.0, 10.01, 0.5)


def profile_at(volts):
    return lambda n: quartic_double_well(n, 2.0, 8.0, 4.0, tilt=1.0) - 2.0 * volts * n


def _metadata(tmp_path, voltages=(0.0, 0.3)):
    lines = []
    for k, volts in enumerate(voltages):
        for j, window in enumerate(synthetic_windows(profile_at(volts), CENTERS, 5.0, 300,
                                                     seed=20 + k)):
            name = f"v{k}_w{j:02d}.dat"
            np.savetxt(tmp_path / name, np.column_stack([window.time, window.n]))
            lines.append(f"{name} {window.center} {window.spring_constant:.6f} 300 {volts}")
    path = tmp_path / "metadata.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gauged_replicates_fill_empty_points_with_the_estimate():
    replicates = np.array([[1.0, 2.0, np.nan], [3.0, 5.0, 4.0]])
    kept, filled = gauged_replicates(replicates, 0, np.array([0.0, 1.5, 2.5]))
    np.testing.assert_allclose(kept, [[0.0, 1.0, 2.5], [0.0, 2.0, 1.0]])
    assert filled == 1


def test_profile_error_refuses_when_no_point_is_defined_in_enough_replicates():
    n = np.array([1.0, 2.0, 3.0])
    # every point defined in fewer than half of the replicates
    replicates = np.array([[np.nan, 2.0, np.nan], [np.nan, np.nan, 4.0], [np.nan, np.nan, np.nan],
                           [1.0, np.nan, np.nan]])
    with pytest.raises(AnalysisError, match="no grid point is defined in half"):
        profile_error(replicates, 0, n, 2.0)
    # defined at the gauge point but nowhere else twice
    replicates = np.array([[0.0, 2.0, np.nan], [1.0, np.nan, 4.0]])
    with pytest.raises(AnalysisError, match="no grid point besides N = 1"):
        profile_error(replicates, 0, n, 2.0)


def test_profile_error_falls_back_to_the_nearest_point_the_replicates_reach():
    """A dry minimum at the grid's edge that decorrelated samples never reach."""
    n = np.array([0.0, 0.5, 1.0, 1.5])
    rng = np.random.default_rng(1)
    replicates = np.column_stack([np.full(6, np.nan), rng.normal(0.0, 1.0, (6, 3))])
    replicates[:, 2:] += np.array([1.0, 3.0])
    error, notes = profile_error(replicates, 0, n, 2.0)
    assert error[1] == 0.0  # the reference point
    shifted = replicates[:, 2:] - replicates[:, 1:2]
    np.testing.assert_allclose(error[2:], np.std(shifted, axis=0, ddof=1))
    assert error[0] == pytest.approx(error[2:].max())  # the dry minimum: the largest
    assert any("errors are of Omega(N) - Omega(0.5)" in note for note in notes)
    kept, _ = gauged_replicates(replicates, 0, np.array([0.0, 0.4, 1.2, 3.1]))
    np.testing.assert_allclose(kept[:, 1], 0.4)  # agree with the estimate there
    np.testing.assert_allclose(kept[:, 0], 0.0)  # undefined: the estimate
    np.testing.assert_allclose(kept[:, 2:] - kept[:, 1:2], shifted)


def test_profile_error_is_the_spread_about_the_gauge_and_fills_from_the_others():
    n = np.array([1.0, 2.0, 3.0, 4.0])
    replicates = np.array([[1.0, 2.0, 3.0, np.nan], [3.0, 5.0, 4.0, np.nan],
                           [np.nan, 0.0, 0.0, 0.0], [2.0, 3.0, 6.0, np.nan]])
    error, notes = profile_error(replicates, 0, n, 1.0)
    shifted = replicates[[0, 1, 3]] - replicates[[0, 1, 3], :1]
    assert error[0] == 0.0
    np.testing.assert_allclose(error[1:3], np.std(shifted[:, 1:3], axis=0, ddof=1))
    assert error[3] == pytest.approx(error[1:3].max())  # defined in no replicate: the largest
    assert any("1 grid point(s) empty" in note for note in notes)
    assert not any("only" in note for note in notes)  # 3 of 4 define the gauge point
    thin = np.vstack([replicates, [[np.nan, 1.0, 1.0, 1.0]] * 3])
    _, notes = profile_error(thin, 0, n, 1.0)
    assert any("only 3 of 7 bootstrap replicates" in note for note in notes)


def test_fes_keeps_replicates_and_rates_use_them(tmp_path):
    meta = _metadata(tmp_path)
    out = tmp_path / "profile.nc"
    runner = CliRunner()
    result = runner.invoke(main, ["fes", str(meta), "-o", str(out), "--bootstrap", "20",
                                  "--keep-replicates"])
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    replicates = profile["free_energy_replicates"]
    assert replicates.dims == ("replicate", "voltage", "n") and replicates.sizes["replicate"] == 20
    # The stored error is the spread of the stored replicates.
    np.testing.assert_allclose(replicates.std("replicate", ddof=1), profile["free_energy_error"],
                               atol=1e-9)
    gauge = np.argmin(np.abs(profile["free_energy"].values), axis=1)
    for k, g in enumerate(gauge):
        np.testing.assert_allclose(replicates.values[:, k, g], 0.0, atol=1e-12)
    check = runner.invoke(main, ["profile", "check", str(out)])
    assert check.exit_code == 0 and "20 bootstrap replicate profiles" in check.output
    rates_out = tmp_path / "rates.nc"
    result = runner.invoke(main, ["rates", str(out), "-o", str(rates_out), "--dry", "2",
                                  "--wet", "8", "--confidence", "0.9"])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(rates_out, engine="h5netcdf") as ds:
        assert "20 resampled profiles" in ds.attrs["interval_method"]
        assert ds.attrs["error_correlation_length"] == "replicates"
        assert ds["k_wet_upper"].attrs["confidence"] == 0.9
        assert np.all(ds["k_wet_lower"] < ds["k_wet"]) and np.all(ds["k_wet"] < ds["k_wet_upper"])
    result = runner.invoke(main, ["fes", str(meta), "-o", str(tmp_path / "p0.nc"), "--bootstrap",
                                  "0", "--keep-replicates"])
    assert result.exit_code == 1 and "--bootstrap" in result.output
