"""One landscape: every kinetic method integrates the same interpolant of a coarse, noisy table."""

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid, trapezoid

from langevin.fokker_planck import log_mfpt_fokker_planck, mfpt_fokker_planck
from langevin.landscape import evaluate, refine, subdivisions
from langevin.langevin import build_tables, first_passage_times
from langevin.mfpt import log_mfpt
from nanopore.synthetic import quartic_double_well


def noisy_profile(points: int, noise: float, seed: int, height: float = 8.0,
                  uniform: bool = True):
    """A coarse double well with noise, and a D that varies threefold (grid, kT, molecules^2/ps)."""
    rng = np.random.default_rng(seed)
    if uniform:
        n = np.linspace(0.0, 12.0, points)
    else:
        n = np.sort(np.concatenate([[0.0, 12.0], rng.uniform(0.0, 12.0, points - 2)]))
    f = quartic_double_well(n, 2.0, 10.0, height, tilt=1.0) + rng.normal(0.0, noise, n.size)
    d = 0.3 * np.exp(0.1 * n + 0.2 * rng.normal(size=n.size))
    return n, f, d


def fine_quadrature(n, f, d, start, target, per_cell):
    """The MFPT double integral of the interpolant by the trapezoidal rule on sub-cells."""
    x, omega, diffusion = refine(n, f, d, per_cell)
    inner = cumulative_trapezoid(np.exp(-omega), x, initial=0.0)
    lo, hi = start * per_cell, target * per_cell
    return trapezoid((np.exp(omega) / diffusion * inner)[lo:hi + 1], x[lo:hi + 1])


def test_interpolant_passes_through_the_table_and_refining_keeps_it():
    n, f, d = noisy_profile(30, 1.0, 0, uniform=False)
    omega, diffusion = evaluate(n, f, d, n)
    np.testing.assert_allclose(omega, f, atol=1e-12)
    np.testing.assert_allclose(diffusion, d, rtol=1e-12)
    x, fine_f, fine_d = refine(n, f, d, subdivisions(n, f, d, 0.1))
    assert x.size > 10 * n.size
    between = 0.5 * (x[1:] + x[:-1])
    np.testing.assert_allclose(evaluate(x, fine_f, fine_d, between)[0],
                               evaluate(n, f, d, between)[0], atol=1e-10)
    np.testing.assert_allclose(evaluate(x, fine_f, fine_d, between)[1],
                               evaluate(n, f, d, between)[1], rtol=1e-10)
    # linear Omega, geometric D inside a cell
    u = 0.3
    point = n[4] + u * (n[5] - n[4])
    assert evaluate(n, f, d, [point])[0][0] == pytest.approx(f[4] + u * (f[5] - f[4]))
    assert evaluate(n, f, d, [point])[1][0] == pytest.approx(d[4] ** (1 - u) * d[5] ** u)


@pytest.mark.parametrize("points, noise, seed", [(30, 1.0, 1), (60, 0.3, 2), (80, 0.5, 3)])
def test_exact_mfpt_equals_independent_quadrature_of_the_interpolant(points, noise, seed):
    n, f, d = noisy_profile(points, noise, seed, uniform=seed != 2)
    start, target = int(np.argmin(abs(n - 2))), int(np.argmin(abs(n - 10)))
    coarse, fine = (fine_quadrature(n, f, d, start, target, m) for m in (400, 800))
    reference = fine + (fine - coarse) / 3.0  # Richardson: the trapezoid error is O(h^2)
    exact = np.exp(log_mfpt(n, f, d, start, target))
    assert exact == pytest.approx(reference, rel=1e-6)
    # downward (reflecting at the upper end) through the mirrored table
    down = np.exp(log_mfpt(n, f, d, target, start))
    mirrored = [fine_quadrature(-n[::-1], f[::-1], d[::-1], n.size - 1 - target,
                                n.size - 1 - start, m) for m in (400, 800)]
    assert down == pytest.approx(mirrored[1] + (mirrored[1] - mirrored[0]) / 3.0, rel=1e-6)


@pytest.mark.parametrize("points, noise, seed", [(30, 1.0, 4), (45, 0.3, 5), (60, 0.3, 6),
                                                 (80, 0.7, 7)])
def test_fokker_planck_equals_exact_on_coarse_noisy_profiles(points, noise, seed):
    n, f, d = noisy_profile(points, noise, seed, uniform=seed % 2 == 0)
    start, target = int(np.argmin(abs(n - 2))), int(np.argmin(abs(n - 10)))
    for a, b in ((start, target), (target, start)):
        exact = log_mfpt(n, f, d, a, b)
        assert np.exp(log_mfpt_fokker_planck(n, f, d, a, b) - exact) == pytest.approx(1.0, rel=5e-3)
    # without refinement the same operator on the coarse nodes misses by percents: the
    # refinement is what carries the stated accuracy
    coarse = np.exp(log_mfpt_fokker_planck(n, f, d, start, target, refine=False)
                    - log_mfpt(n, f, d, start, target))
    assert abs(coarse - 1.0) > 5e-3


@pytest.mark.parametrize("height", [35.0, 100.0, 200.0, 300.0])
def test_fokker_planck_rates_within_one_percent_at_any_barrier(height):
    n = np.linspace(0.0, 40.0, 121)
    f = quartic_double_well(n, 4.0, 34.0, height, tilt=3.0)
    d = 0.5 + 0.02 * n
    dry, wet = int(np.argmin(abs(n - 4))), int(np.argmin(abs(n - 34)))
    for a, b in ((dry, wet), (wet, dry)):
        log_fp = log_mfpt_fokker_planck(n, f, d, a, b)
        assert np.isfinite(log_fp) and log_fp > height - 10
        assert np.exp(log_fp - log_mfpt(n, f, d, a, b)) == pytest.approx(1.0, rel=1e-2)


def test_fokker_planck_mfpt_on_a_flat_profile_is_the_closed_form():
    # reflecting at 0, tau(a -> b) = (b^2 - a^2) / (2 D), exactly for the discrete operator
    n = np.linspace(0.0, 10.0, 201)
    d = 0.7
    a, b = 40, 160
    tau = mfpt_fokker_planck(n, np.zeros_like(n), np.full_like(n, d), a, b)
    assert tau == pytest.approx((n[b] ** 2 - n[a] ** 2) / (2 * d), rel=1e-10)
    down = mfpt_fokker_planck(n, np.zeros_like(n), np.full_like(n, d), b, a)
    assert down == pytest.approx(((10 - n[a]) ** 2 - (10 - n[b]) ** 2) / (2 * d), rel=1e-10)


def test_langevin_mfpt_on_a_coarse_noisy_profile_matches_exact():
    n, f, d = noisy_profile(40, 0.5, 11, height=3.0)
    d = np.clip(d * 4.0, 0.5, None)
    start, target = 2.0, 10.0
    i, j = int(np.argmin(abs(n - start))), int(np.argmin(abs(n - target)))
    exact = float(np.exp(log_mfpt(n, f, d, i, j)))
    times = first_passage_times(n, f, d, n[i], n[j], 400, seed=21)
    assert np.all(np.isfinite(times))
    error = times.std(ddof=1) / np.sqrt(times.size)
    assert abs(times.mean() - exact) < 3.0 * error
    # the drift table is the interpolant's: constant force per cell times D(N)
    tables = build_tables(n, f, d, 1e-3)
    k = int(np.searchsorted(tables.grid, 5.0)) - 1
    cell = int(np.searchsorted(n, tables.grid[k], side="right")) - 1
    force = -(f[cell + 1] - f[cell]) / (n[cell + 1] - n[cell])
    log_d_slope = np.log(d[cell + 1] / d[cell]) / (n[cell + 1] - n[cell])
    d_left = evaluate(n, f, d, tables.grid[k:k + 1])[1][0]
    assert tables.drift_values[0, k] == pytest.approx((force + log_d_slope) * d_left * 1e-3,
                                                      rel=1e-9)
