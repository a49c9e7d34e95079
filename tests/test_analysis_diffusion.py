"""Hummer's diffusion estimator on restrained Ornstein-Uhlenbeck data with known D."""

import warnings

import numpy as np
import pytest

from analysis.diffusion import autocovariance, hummer_diffusion, interpolate_diffusion
from analysis.fes import compute_profile
from analysis.synthetic import ou_series
from nanopore.units import kT_kj_per_mol
from nanopore.windows import Window


def test_autocovariance_matches_direct_sum():
    x = np.random.default_rng(0).normal(size=257)
    dx = x - x.mean()
    direct = np.array([np.mean(dx[: dx.size - j] * dx[j:]) for j in range(dx.size)])
    np.testing.assert_allclose(autocovariance(x), direct, atol=1e-12)


@pytest.mark.parametrize("diffusion, kappa", [(0.5, 2.0), (2.0, 4.0), (1.0, 1.0)])
def test_hummer_recovers_known_d_from_ou(diffusion, kappa):
    rng = np.random.default_rng(int(diffusion * 10 + kappa))
    interval = 0.02  # ps; relaxation time 1 / (D beta kappa) = 0.125 to 1 ps
    estimates = [hummer_diffusion(ou_series(0.0, kappa, diffusion, 20000, interval, rng), interval)
                 for _ in range(8)]
    values = np.array([e.diffusion for e in estimates])
    errors = np.array([e.error for e in estimates])
    assert np.all(np.isfinite(errors)) and np.all(errors < 0.3 * diffusion)
    z = (values - diffusion) / errors
    assert np.max(np.abs(z)) < 4.0
    # the mean of 8 estimates is within 3 standard errors of the truth
    assert abs(values.mean() - diffusion) < 3 * values.std(ddof=1) / np.sqrt(values.size) + 0.02 * diffusion
    # the block error matches the scatter between independent runs within a factor of 2
    assert 0.5 < np.median(errors) / values.std(ddof=1) < 2.0
    # variance and correlation time of the OU process
    assert abs(np.mean([e.variance for e in estimates]) * kappa - 1.0) < 0.1
    assert abs(np.mean([e.correlation_time for e in estimates]) * diffusion * kappa - 1.0) < 0.1


def test_undersampled_series_warns_that_d_is_a_lower_bound():
    rng = np.random.default_rng(1)
    x = ou_series(0.0, 4.0, 5.0, 4000, 0.5, rng)  # relaxes in 0.05 ps, sampled every 0.5 ps
    with pytest.warns(RuntimeWarning, match="lower bound"):
        hummer_diffusion(x, 0.5, name="fast window")


def test_interpolation_onto_a_grid():
    from analysis.diffusion import WindowDiffusion

    estimates = [WindowDiffusion(1.0, 1.0, 0.1, 1, 1), WindowDiffusion(3.0, 2.0, np.nan, 1, 1)]
    d, e = interpolate_diffusion(estimates, np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(d, [1.0, 1.0, 1.5, 2.0, 2.0])
    np.testing.assert_allclose(e, [0.1, 0.1, 0.15, 0.2, 0.2])  # missing error: median relative


def test_profile_diffusion_follows_position_dependent_d():
    """Windows on a flat profile, D rising linearly with N: D(N) on the grid follows it."""
    temperature = 300.0
    rng = np.random.default_rng(7)
    windows = []
    for k, center in enumerate(np.arange(0.0, 6.01, 0.5)):
        d_true = 0.5 + 0.25 * center
        n = ou_series(center, 4.0, d_true, 8000, 0.02, rng)
        windows.append(Window(time=0.02 * np.arange(n.size), n=n, center=center,
                              spring_constant=4.0 * kT_kj_per_mol(temperature),
                              temperature=temperature, source=f"ou window {k}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compute_profile(windows, n_bootstrap=10)
    profile = result.profile
    n = profile["n"].values
    inner = (n > 0.5) & (n < 5.5)
    expected = 0.5 + 0.25 * n[inner]
    d = profile["diffusion"].values[inner]
    err = profile["diffusion_error"].values[inner]
    assert np.all(np.abs(d - expected) < 4 * err + 0.03 * expected)
    assert profile["diffusion"].attrs["units"] == "molecules^2/ps"
    # a flat profile, since the restraint is all there is
    f = profile["free_energy"].values[inner]
    assert np.max(np.abs(f - f.mean())) < 0.5
