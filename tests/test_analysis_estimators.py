"""Free-energy estimators recover a known profile from synthetic umbrella windows.

The truth is a tilted quartic double well (dry minimum at N = 2, barrier 4 kT,
wet minimum at N = 8 about 1 kT higher). Windows every 0.5 molecule with
beta kappa = 5 / molecule^2 (sqrt(kT/kappa) = 0.45 molecule). Histogram
estimators (WHAM, MBAR histogram) are compared with the bin-averaged truth,
-ln <exp(-Omega)>_bin, umbrella integration with the truth at the bin centres.
"""

import sys
import warnings
from functools import partial

import numpy as np
import pytest

from analysis.data import UmbrellaData
from analysis.errors import AnalysisError
from analysis.fes import compute_profile
from analysis.mbar import MBARProfile
from analysis.overlap import overlap_matrix, poor_neighbours
from analysis.synthetic import bin_averaged, synthetic_windows
from analysis.wham import WHAM
from nanopore.synthetic import quartic_double_well

PROFILE = partial(quartic_double_well, dry=2.0, wet=8.0, barrier_height=4.0, tilt=1.0)
CENTERS = np.arange(-0.5, 10.51, 0.5)
KAPPA = 5.0


@pytest.fixture(scope="module")
def independent():
    return synthetic_windows(PROFILE, CENTERS, KAPPA, 400, seed=11)


@pytest.fixture(scope="module")
def correlated():
    # MALA Langevin with D = 1 molecule^2/ps, sampled every 0.05 ps: g of about 3-6
    return synthetic_windows(PROFILE, CENTERS, KAPPA, 2000, seed=12, correlated=True,
                             interval=0.05)


def truth(result, method):
    """True profile on the result's grid in the result's gauge."""
    if method == "ui":
        values = PROFILE(result.profile["n"].values)
    else:
        values = bin_averaged(PROFILE, result.edges)
    return values - values[result.voltages[0].gauge_index]


def z_scores(result, method):
    estimate = result.profile["free_energy"].values
    error = result.profile["free_energy_error"].values
    gauge = result.voltages[0].gauge_index
    keep = np.arange(estimate.size) != gauge
    deviation = estimate - truth(result, method)
    return deviation[keep], error[keep], deviation[keep] / error[keep]


def fit(windows, method, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute_profile(windows, method=method, seed=3, **options)


def assert_recovered(result, method, max_error_bar=0.35):
    _, error, z = z_scores(result, method)
    # error bars are meaningful (not huge), and cover the truth
    assert 0.01 < np.median(error) < max_error_bar
    assert np.sqrt(np.mean(z**2)) < 1.7, f"rms z = {np.sqrt(np.mean(z**2)):.2f}"
    assert np.max(np.abs(z)) < 4.5, f"max |z| = {np.max(np.abs(z)):.2f}"
    # the dry and wet minima and the barrier land where they should
    n = result.profile["n"].values
    f = result.profile["free_energy"].values
    assert abs(n[result.voltages[0].gauge_index] - 2.0) < 0.3
    middle = (n > 3.5) & (n < 6.5)
    assert abs(f[middle].max() - truth(result, method)[middle].max()) < 4 * np.median(error) + 0.1


@pytest.mark.parametrize("method", ["wham", "ui", "mbar"])
def test_independent_samples_recovered_within_error_bars(independent, method):
    result = fit(independent, method, n_bootstrap=40 if method != "mbar" else 12,
                 check_convergence=False)
    assert_recovered(result, method)


@pytest.mark.parametrize("method", ["wham", "ui", "mbar"])
def test_correlated_langevin_samples_recovered_within_error_bars(correlated, method):
    result = fit(correlated, method, n_bootstrap=40 if method != "mbar" else 12,
                 check_convergence=method != "mbar")
    assert_recovered(result, method)
    windows = result.voltages[0].windows
    assert all(w.inefficiency > 1.5 for w in windows)  # the correlation is seen
    if result.voltages[0].convergence is not None:
        assert result.voltages[0].convergence.converged


def test_three_estimators_agree(correlated):
    # the same (decorrelated) samples for all three, hence the same grid
    results = {m: fit(correlated, m, n_bootstrap=10, check_convergence=False,
                      samples="independent") for m in ("wham", "ui", "mbar")}
    ref = results["wham"].profile
    for method in ("ui", "mbar"):
        other = results[method].profile
        assert np.allclose(other["n"], ref["n"])
        bound = 3.0 * np.hypot(ref["free_energy_error"], other["free_energy_error"]) + 0.05
        difference = np.abs(other["free_energy"] - ref["free_energy"])
        assert np.all(difference <= bound), f"{method} vs wham: {float(difference.max()):.3f} kT"


def test_wham_equals_mbar_on_the_same_samples(independent):
    data = UmbrellaData.from_windows(independent)
    edges = np.linspace(0.0, 10.0, 41)
    wham = WHAM(edges, oversample=16).fit(data)
    mbar = MBARProfile(edges).fit(data)
    gauge = 8
    difference = (wham.free_energy - wham.free_energy[gauge]) - (mbar.free_energy - mbar.free_energy[gauge])
    assert np.nanmax(np.abs(difference)) < 0.01
    np.testing.assert_allclose(wham.window_free_energies, mbar.window_free_energies, atol=0.01)


@pytest.mark.parametrize("fes_type", ["kde", "spline"])
def test_mbar_kde_and_spline_profiles(fes_type):
    windows = synthetic_windows(PROFILE, CENTERS[2:-2], KAPPA, 300, seed=5)
    data = UmbrellaData.from_windows(windows)
    edges = np.linspace(1.0, 9.0, 33)
    estimate = MBARProfile(edges, fes_type=fes_type).fit(data)
    reference = WHAM(edges).fit(data).free_energy
    inner = slice(3, -3)
    shift = np.mean(estimate.free_energy[inner] - reference[inner])
    assert np.max(np.abs(estimate.free_energy[inner] - shift - reference[inner])) < 0.35
    true = PROFILE(estimate.n[inner])
    shift = np.mean(estimate.free_energy[inner] - true)
    assert np.max(np.abs(estimate.free_energy[inner] - shift - true)) < 0.5


def test_kde_without_scikit_learn_says_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(AnalysisError, match="scikit-learn"):
        MBARProfile(np.linspace(0, 1, 5), fes_type="kde")


def test_overlap_matrix_and_poor_neighbours(independent):
    data = UmbrellaData.from_windows(independent)
    matrix = overlap_matrix(data)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(np.diag(matrix) > np.diag(matrix, 1).max() * 0.5)
    assert poor_neighbours(data, matrix) == []
    gap = [w for w in independent if not 4.0 < w.center < 6.0]
    gapped = UmbrellaData.from_windows(gap)
    names = poor_neighbours(gapped, overlap_matrix(gapped))
    assert len(names) == 1 and "N_k = 4)" in names[0] and "N_k = 6)" in names[0]


def test_gap_between_windows_is_an_error_naming_the_range(independent):
    gap = [w for w in independent if not 3.0 < w.center < 7.0]
    with pytest.raises(AnalysisError, match="gap"):
        fit(gap, "wham", n_bootstrap=0)


def test_bootstrap_is_reproducible_with_a_seed(independent):
    first = fit(independent[:8], "wham", n_bootstrap=10, check_convergence=False)
    second = fit(independent[:8], "wham", n_bootstrap=10, check_convergence=False)
    np.testing.assert_array_equal(first.profile["free_energy_error"], second.profile["free_energy_error"])


@pytest.mark.parametrize("seed", range(5))
def test_timeseries_estimators_equal_pymbar(seed):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymbar import timeseries as reference

    from analysis.timeseries import detect_equilibration, statistical_inefficiency

    rng = np.random.default_rng(seed)
    # AR(1) with a relaxation from a displaced start: a correlation time and an
    # equilibration region to find
    phi = [0.5, 0.9, 0.97, 0.99, 0.995][seed]
    x = np.empty(6000)
    x[0] = 8.0
    for i in range(1, x.size):
        x[i] = phi * x[i - 1] + rng.normal()
    for fast in (False, True):
        ours = statistical_inefficiency(x, fast=fast)
        assert ours == pytest.approx(reference.statistical_inefficiency(x, fast=fast), rel=1e-9)
    expected = reference.detect_equilibration(x, fast=True, nskip=60)
    found = detect_equilibration(x, nskip=60)
    assert found[0] == expected[0]
    assert found[1] == pytest.approx(float(expected[1]), rel=1e-6)
    assert found[2] == pytest.approx(float(expected[2]), rel=1e-6)
    # the estimate means what it says: g of an AR(1) series is (1 + phi) / (1 - phi)
    tail = x[found[0]:]
    if phi <= 0.97:
        truth = (1 + phi) / (1 - phi)
        assert statistical_inefficiency(tail) == pytest.approx(truth, rel=0.35)
    with pytest.raises(ValueError, match="constant"):
        statistical_inefficiency(np.ones(10))
    assert detect_equilibration(np.ones(10)) == (0, 1.0, 1.0)
