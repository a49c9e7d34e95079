"""Langevin dynamics against exact results: Boltzmann histogram, MFPT, Fokker-Planck relaxation."""

from dataclasses import replace

import numba
import numpy as np
import pytest
from scipy import stats

from langevin._random import normal_samples
from langevin.fokker_planck import propagate
from langevin.langevin import build_tables, first_passage_times, run_ensemble
from langevin.mfpt import mean_first_passage_time


def test_kernel_normals_are_standard_normal():
    x = normal_samples(7, 400_000)
    assert abs(x.mean()) < 5 / np.sqrt(x.size)
    assert x.var() == pytest.approx(1.0, abs=6 * np.sqrt(2 / x.size))
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # tails come from the ziggurat's tail branch
    assert np.mean(np.abs(x) > 3.7) == pytest.approx(2 * stats.norm.sf(3.7), rel=0.25)


def test_stationary_histogram_is_boltzmann_with_position_dependent_d():
    n = np.linspace(0.0, 10.0, 201)
    f = 0.15 * (n - 3.0) ** 2 * (1 + 0.05 * n) - 0.4 * n
    f -= f.min()
    d = 0.2 + 0.3 * n  # strongly varying: the dD/dN drift term matters
    tables = build_tables(n, f, d, 2e-3)
    run = run_ensemble(tables, 3.0, 400, 250, seed=11, n_trajectories=256)
    samples = run.positions[:, 40:].ravel()
    edges = np.linspace(0, 10, 26)
    counts, _ = np.histogram(samples, bins=edges)
    fine = np.linspace(0, 10, 5001)
    density = np.exp(-np.interp(fine, n, f))
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(fine))])
    expected = np.diff(np.interp(edges, fine, cumulative)) / cumulative[-1] * samples.size
    # samples are correlated within a trajectory; compare per-bin with a generous but
    # meaningful tolerance, and the means within a fraction of a molecule
    ok = expected > 200
    relative = np.abs(counts[ok] - expected[ok]) / expected[ok]
    assert np.max(relative) < 0.08
    mean_exact = np.sum(fine * density) / np.sum(density)
    assert samples.mean() == pytest.approx(mean_exact, abs=0.05)

    # the same run without the dD/dN term is visibly wrong: the check has teeth
    dt = tables.time_step
    d_nodes = np.append(tables.amplitude_values,
                        tables.amplitude_values[-1] + tables.amplitude_slopes[-1]) ** 2 / (2 * dt)
    log_slope = np.diff(np.log(d_nodes)) / np.diff(tables.grid)
    left, right = d_nodes[:-1] * log_slope * dt, d_nodes[1:] * log_slope * dt
    wrong = replace(tables, drift_values=np.ascontiguousarray(tables.drift_values - left),
                    drift_slopes=np.ascontiguousarray(tables.drift_slopes - (right - left)))
    bad = run_ensemble(wrong, 3.0, 400, 250, seed=11, n_trajectories=256).positions[:, 40:].ravel()
    assert abs(bad.mean() - mean_exact) > 4 * abs(samples.mean() - mean_exact)


def test_langevin_mfpt_matches_exact_integral(double_well):
    n, f, d = double_well
    exact = mean_first_passage_time(n, f, d, 2.0, 8.0)
    times = first_passage_times(n, f, d, 2.0, 8.0, 1000, seed=5, time_step=5e-4)
    assert np.all(np.isfinite(times))
    error = times.std(ddof=1) / np.sqrt(times.size)
    # Euler-Maruyama's discrete-time bias is well below the statistical error at this dt
    assert abs(times.mean() - exact) < 3.5 * error
    exact_down = mean_first_passage_time(n, f, d, 8.0, 2.0)
    down = first_passage_times(n, f, d, 8.0, 2.0, 1000, seed=6, time_step=5e-4)
    assert abs(down.mean() - exact_down) < 3.5 * down.std(ddof=1) / np.sqrt(down.size)


def test_results_do_not_depend_on_thread_count(double_well):
    n, f, d = double_well
    tables = build_tables(n, f, d, 1e-3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_ensemble(tables, 2.0, 5, 100, seed=3, n_trajectories=64).positions
        numba.set_num_threads(before)
        many = run_ensemble(tables, 2.0, 5, 100, seed=3, n_trajectories=64).positions
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)
    other_seed = run_ensemble(tables, 2.0, 5, 100, seed=4, n_trajectories=64).positions
    assert not np.array_equal(one, other_seed)


def test_reflecting_walls_keep_trajectories_on_the_grid():
    # pushed hard into the top wall: density exp(3 N) on [0, 2]. An absorbing wall ends the
    # trajectories (NaN records), a sticky one piles them up at N = 2; both fail here.
    n = np.linspace(0.0, 2.0, 41)
    slope = 3.0
    tables = build_tables(n, -slope * n, np.full_like(n, 1.0), 2e-4)
    run = run_ensemble(tables, 1.0, 200, 100, seed=1, n_trajectories=400)
    assert np.all(np.isfinite(run.positions))
    assert np.min(run.positions) >= 0.0 and np.max(run.positions) <= 2.0
    samples = run.positions[:, 20:].ravel()
    mean = 2.0 / -np.expm1(-2.0 * slope) - 1.0 / slope
    assert samples.mean() == pytest.approx(mean, abs=0.02)
    # the last 0.05 molecules hold their Boltzmann share (a clamping wall gives 21 % more)
    top = np.mean(samples > 1.95)
    assert top == pytest.approx(-np.expm1(-slope * 0.05) / -np.expm1(-2.0 * slope), rel=0.12)


def test_fokker_planck_relaxation_matches_langevin_ensemble(double_well):
    n, f, d = double_well
    dt_block = 2.0  # ps between records
    tables = build_tables(n, f, d, 1e-3)
    run = run_ensemble(tables, 2.0, 40, 2000, seed=1, n_trajectories=4000)
    start = np.zeros(n.size)
    start[np.argmin(np.abs(n - 2.0))] = 1.0
    threshold = 5.0
    fp_steps = 20  # per record
    averages, _ = propagate(n, f, d, start, np.ones((40 * fp_steps, 1)), dt_block / fp_steps,
                            np.vstack([n, (n > threshold).astype(float)]))
    fp_mean, fp_wet = averages[fp_steps - 1 :: fp_steps].T
    lv_mean = run.positions.mean(axis=0)
    lv_wet = (run.positions > threshold).mean(axis=0)
    error_mean = run.positions.std(axis=0) / np.sqrt(4000)
    # four well-separated times (records of one ensemble are correlated in time)
    times = [4, 14, 26, 39]
    assert np.max(np.abs(lv_mean - fp_mean)[times] / error_mean[times]) < 4.0
    assert np.max(np.abs(lv_wet - fp_wet)[times]) < 4.0 * np.sqrt(0.25 / 4000)
    assert fp_wet[-1] > 0.05  # the relaxation crosses the barrier within the window
