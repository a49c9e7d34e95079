"""Basins from the evidence and calibrated rate intervals on synthetic profiles with known truth."""

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from langevin.basins import BasinError, find_basins
from langevin.rates import rate_arrays
from langevin.uncertainty import (
    basic_interval,
    gaussian_field,
    profile_rows,
    rates_for_profile,
)
from nanopore.cli import main
from nanopore.profile import make_profile, save_profile
from nanopore.synthetic import quartic_double_well

N = np.linspace(0.0, 10.0, 61)
TRUTH = quartic_double_well(N, 2.0, 8.0, 8.0, tilt=2.0)
TRUTH = TRUTH - TRUTH[np.argmin(np.abs(N - 2.0))]


def test_noise_minimum_is_not_a_basin_when_within_its_error():
    f = 0.8 * N
    f[10] -= 1.2  # a 1.07 kT dip: a "wet basin" by the 0.5 kT floor alone
    assert find_basins(N, f).wet == 10
    error = np.full(N.size, 0.8)
    error[0] = 0.0
    with pytest.raises(BasinError, match="beyond its error"):
        find_basins(N, f, error=error)
    # Replicates in which the dip moves with its surroundings: its depth is sure.
    rng = np.random.default_rng(0)
    replicates = f + rng.normal(0.0, 0.8, (50, 1)) + rng.normal(0.0, 0.05, (50, N.size))
    assert find_basins(N, f, replicates=replicates).wet == 10
    # A real wet basin beside the dip: the dip is skipped, the barrier error reported.
    g = f.copy()
    g[40:] = g[40] - 0.9 * (N[40:] - N[40])
    basins = find_basins(N, g, error=error)
    assert basins.dry == 0 and basins.wet == N.size - 1 and basins.barrier == 40
    assert basins.barrier_wetting_error == pytest.approx(0.8)
    assert basins.barrier_drying_error == pytest.approx(np.hypot(0.8, 0.8))


def test_reference_profile_no_longer_wets_into_noise(tmp_path):
    out = tmp_path / "r.nc"
    result = CliRunner().invoke(main, ["rates", "data/reference_profile.nc", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        zero = ds.sel(voltage=0.0)
        assert float(zero["n_wet"]) > 5.0  # not a noise minimum near one molecule
        assert float(zero["k_wet"]) < 1e8
        # the pore is dry at 0 V: no wet basin of its own, and the output says so
        assert int(zero["basins_borrowed"]) == 1
        assert ds.attrs["confidence"] == 0.95
        both = ds.sel(voltage=[-2.0, 2.0])  # electrowetting: two basins of their own
        assert np.all(both["basins_borrowed"] == 0)
        for name in ("k_wet", "k_dry"):
            # basic (bias-corrected) intervals need not contain a skewed estimate, but
            # they are ordered everywhere and bracket the +-2 V rates here
            assert np.all(ds[f"{name}_lower"] < ds[f"{name}_upper"])
            assert np.all(both[f"{name}_lower"] < both[name])
            assert np.all(both[name] < both[f"{name}_upper"])
            assert ds[f"{name}_lower"].attrs["confidence"] == 0.95
        assert np.all(ds["barrier_wetting_error"] > 0)


def test_basic_interval_reflects_the_bias():
    samples = np.linspace(1.0, 3.0, 1001)[:, None]  # centred on 2, estimate 1: bias +1
    lower, upper = basic_interval(np.array([1.0]), samples, 0.9)
    assert lower[0] == pytest.approx(2.0 - 2.9, abs=1e-3) and upper[0] == pytest.approx(2.0 - 1.1,
                                                                                            abs=1e-3)
    with pytest.raises(ValueError, match="confidence"):
        basic_interval(np.array([1.0]), samples, 1.5)


def _coverage(trials, confidence, replicates, seed=0, sigma=0.6):
    true_basins = find_basins(N, TRUTH)
    truth = rate_arrays(N, TRUTH[None], np.ones((1, N.size)), [true_basins])
    error = np.full(N.size, sigma)
    rng = np.random.default_rng(seed)
    hits = {"k_wet": 0, "k_dry": 0}
    for t in range(trials):
        observed = TRUTH + error * gaussian_field(N, 1.0, 1, rng)[0]
        profile = make_profile(N, observed, 1.0, 300.0, free_energy_error=error)
        if replicates:
            draws = observed + error * gaussian_field(N, 1.0, 100, rng)
            profile["free_energy_replicates"] = (("replicate", "n"), draws)
            profile = profile.drop_vars("free_energy_error")
        rates = rates_for_profile(profile, profile_rows(profile), confidence=confidence,
                                  n_resamples=150, seed=t, dry=2.0, wet=8.0)
        for name in hits:
            hits[name] += float(rates[f"{name}_lower"]) <= truth[name][0] <= float(rates[f"{name}_upper"])
    return {name: count / trials for name, count in hits.items()}


@pytest.mark.parametrize("confidence, low, high", [(0.95, 0.88, 1.0), (0.8, 0.68, 0.92)])
def test_rate_intervals_cover_the_truth_at_their_stated_rate(confidence, low, high):
    coverage = _coverage(100, confidence, replicates=False)
    for name, value in coverage.items():
        assert low <= value <= high, (name, value)


def test_intervals_from_replicates_are_calibrated_too():
    coverage = _coverage(80, 0.9, replicates=True, seed=1)
    for name, value in coverage.items():
        assert 0.8 <= value <= 0.98, (name, value)


def test_rates_against_pressure_with_intervals(tmp_path):
    error = np.full(N.size, 0.3)
    path = tmp_path / "p.nc"
    save_profile(make_profile(N, TRUTH, 1.0, 300.0, free_energy_error=error), path)
    out = tmp_path / "rp.nc"
    result = CliRunner().invoke(main, ["rates", str(path), "--pressures", "0,20,40",
                                       "--dry", "2", "--wet", "8", "-o", str(out),
                                       "--plot", str(tmp_path / "rates.png")])
    assert result.exit_code == 0, result.output
    assert "P (MPa)" in result.output
    assert (tmp_path / "rates.png").stat().st_size > 10_000  # rates with their bands
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["pressure"].attrs["units"] == "MPa"
        k_wet, k_dry = ds["k_wet"].values, ds["k_dry"].values
        # Pressure favours the filled pore: wetting speeds up, drying slows down.
        assert np.all(np.diff(k_wet) > 0) and np.all(np.diff(k_dry) < 0)
        assert np.all(ds["k_wet_lower"].values < k_wet)


def test_hysteresis_gives_intervals_on_loop_areas_and_switching_voltages(tmp_path):
    from nanopore.synthetic import model_pore_profile

    profile = model_pore_profile()
    error = np.full(profile["free_energy"].shape, 0.3)
    error[:, 0] = 0.0
    profile["free_energy_error"] = (profile["free_energy"].dims, error)
    path, out = tmp_path / "p.nc", tmp_path / "loops.nc"
    save_profile(profile, path)
    result = CliRunner().invoke(main, ["hysteresis", str(path), "-a", "0.5", "-f", "1e4",
                                       "-f", "1e6", "--resamples", "15", "--confidence", "0.9",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "loop area 90%" in result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["confidence"] == 0.9 and "15 resampled" in ds.attrs["interval_method"]
        assert ds.attrs["voltage_model_terms"] == "1 + V^2"
        for name in ("loop_area", "wetting_voltage", "drying_voltage"):
            lower, value, upper = (ds[f"{name}_lower"].values, ds[name].values,
                                   ds[f"{name}_upper"].values)
            assert np.all(np.isfinite(lower)) and np.all(lower < upper), name
            assert np.all(lower <= value) and np.all(value <= upper), name
        assert np.all(ds["wetting_voltage_upper"] <= 0.5)  # within the drive's range
        assert np.all((ds["loop_area_lower"] >= 0.0) & (ds["loop_area_upper"] <= 2.0))


def test_loop_intervals_stay_in_the_physical_range():
    """A demo's profiles gave a loop area of 0.902 with a basic interval of 1.015-21.4."""
    from langevin.uncertainty import LOOP_AREA_MAX, physical_bounds

    lower, upper = physical_bounds("loop_area", np.array([1.015, -0.1, 0.2]),
                                   np.array([21.4, 0.5, 0.4]), amplitude=0.5)
    assert LOOP_AREA_MAX == 2.0
    assert lower.tolist() == [1.015, 0.0, 0.2] and upper.tolist() == [2.0, 0.5, 0.4]
    lower, upper = physical_bounds("wetting_voltage", np.array([-0.7, 0.1]),
                                   np.array([0.3, 0.9]), amplitude=0.5)
    assert lower.tolist() == [-0.5, 0.1] and upper.tolist() == [0.3, 0.5]


@pytest.mark.parametrize("seed", range(6))
def test_prominent_peaks_match_scipy_find_peaks(seed):
    from scipy.signal import find_peaks

    from langevin.basins import prominent_peaks

    rng = np.random.default_rng(seed)
    # rounded values make flat maxima and equal bases, the cases where conventions differ
    values = np.round(rng.normal(size=300).cumsum(), 0 if seed % 2 else 1)
    for prominence in (0.0, 0.5, 2.0):
        peaks, heights, left, right = prominent_peaks(values, prominence)
        expected, props = find_peaks(values, prominence=prominence)
        np.testing.assert_array_equal(peaks, expected)
        np.testing.assert_allclose(heights, props["prominences"], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(left, props["left_bases"])
        np.testing.assert_array_equal(right, props["right_bases"])
