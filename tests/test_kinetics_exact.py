"""Exact MFPT, Kramers and Fokker-Planck against closed forms and each other."""

import numpy as np
import pytest

from langevin.basins import BasinError, find_basins
from langevin.fokker_planck import (
    equilibrium_distribution,
    generator_matrix,
    mfpt_fokker_planck,
)
from langevin.kramers import KramersError, kramers_rate
from langevin.mfpt import log_mfpt, mean_first_passage_time
from nanopore.synthetic import quartic_double_well


def test_free_diffusion_mfpt_closed_form():
    # flat profile, reflecting at 0: tau(a -> b) = (b^2 - a^2) / (2 D)
    n = np.linspace(0.0, 10.0, 201)
    tau = mean_first_passage_time(n, np.zeros_like(n), np.full_like(n, 0.7), 2.0, 8.0)
    assert tau == pytest.approx((64.0 - 4.0) / (2 * 0.7), rel=1e-12)
    # downward: reflecting at 10, tau(8 -> 2) = ((10-2)^2 - (10-8)^2) / (2 D)
    tau_down = mean_first_passage_time(n, np.zeros_like(n), np.full_like(n, 0.7), 8.0, 2.0)
    assert tau_down == pytest.approx((64.0 - 4.0) / (2 * 0.7), rel=1e-12)


def test_linear_potential_mfpt_closed_form():
    # constant force: Omega = -g N, D const, reflecting at 0, start at 0:
    # tau(0 -> L) = (exp(-g L) - 1 + g L) / (g^2 D)
    g, d, length = 0.8, 1.3, 6.0
    n = np.linspace(0.0, length, 4001)
    tau = mean_first_passage_time(n, -g * n, np.full_like(n, d), 0.0, length)
    assert tau == pytest.approx((np.exp(-g * length) - 1 + g * length) / (g**2 * d), rel=1e-6)


def test_log_space_survives_huge_barriers():
    n = np.linspace(0, 10, 401)
    f = quartic_double_well(n, 2, 8, 400.0)
    log_tau = log_mfpt(n, f, np.ones_like(n), 80, 320)
    assert np.isfinite(log_tau) and log_tau > 390


def test_fokker_planck_equilibrium_is_exact_on_the_grid(double_well):
    n, f, d = double_well
    matrix = generator_matrix(n, f, d)
    p_eq = equilibrium_distribution(n, f)
    assert np.max(np.abs(matrix @ p_eq)) < 1e-12 * np.max(np.abs(matrix))
    np.testing.assert_allclose(matrix.sum(axis=0), 0.0, atol=1e-12)
    # non-uniform grid too
    m = np.sort(np.concatenate([n[::3], n[1::7]]))
    m = np.unique(m)
    fm = np.interp(m, n, f)
    assert np.max(np.abs(generator_matrix(m, fm, np.interp(m, n, d)) @ equilibrium_distribution(m, fm))) < 1e-10


def test_fokker_planck_mfpt_converges_to_exact(double_well):
    n, f, d = double_well
    i, j = np.argmin(abs(n - 2)), np.argmin(abs(n - 8))
    exact_up = mean_first_passage_time(n, f, d, 2.0, 8.0)
    exact_down = mean_first_passage_time(n, f, d, 8.0, 2.0)
    assert mfpt_fokker_planck(n, f, d, i, j) == pytest.approx(exact_up, rel=2e-3)
    assert mfpt_fokker_planck(n, f, d, j, i) == pytest.approx(exact_down, rel=2e-3)


@pytest.mark.parametrize("height", [6.0, 8.0, 12.0])
def test_kramers_agrees_with_exact_above_5kT(height):
    n = np.linspace(-3.0, 13.0, 1601)
    f = quartic_double_well(n, 2.0, 8.0, height)
    d = np.full_like(n, 0.5)
    basins = find_basins(n, f)
    k_exact = 1.0 / mean_first_passage_time(n, f, d, n[basins.dry], n[basins.wet])
    k_kramers = kramers_rate(n, f, d, basins.dry, basins.barrier, half_width=0.3)
    # the exact rate to the *other minimum* includes the return from the barrier top: about
    # 1 / (1/k + ...) -> compare within the Kramers accuracy that improves with height
    assert k_kramers == pytest.approx(k_exact, rel=1.5 / height)


@pytest.mark.parametrize("height", [8.0, 12.0])
def test_kramers_with_position_dependent_diffusion(height):
    # D rises sixfold from well to well: Kramers takes D at the top
    n = np.linspace(-3.0, 13.0, 1601)
    f = quartic_double_well(n, 2.0, 8.0, height)
    d = 0.1 * np.exp(0.3 * (n + 3.0))
    basins = find_basins(n, f)
    k_exact = 1.0 / mean_first_passage_time(n, f, d, n[basins.dry], n[basins.wet])
    k_kramers = kramers_rate(n, f, d, basins.dry, basins.barrier, half_width=0.3)
    assert k_kramers == pytest.approx(k_exact, rel=1.0 / height)
    # D at the dry minimum instead of the top would be off by a factor 2.5
    assert abs(k_kramers * d[basins.dry] / d[basins.barrier] / k_exact - 1) > 3.0 / height
    k_back = kramers_rate(n, f, d, basins.wet, basins.barrier, half_width=0.3)
    assert k_back == pytest.approx(1.0 / mean_first_passage_time(n, f, d, n[basins.wet],
                                                                 n[basins.dry]), rel=1.0 / height)


@pytest.mark.parametrize("cut", [2.0, 2.6])
def test_kramers_with_the_minimum_at_the_grid_end(cut):
    # cut at the dry minimum (half a harmonic well) or beyond it (the well rises with a
    # slope from the wall): a finite rate that agrees with the exact one, never NaN
    n = np.linspace(cut, 13.0, 1101)
    f = quartic_double_well(n, 2.0, 8.0, 12.0)
    d = 0.2 + 0.05 * n
    barrier = int(np.argmax(np.where(n < 8.0, f, -np.inf)))
    k_exact = 1.0 / mean_first_passage_time(n, f, d, n[0], 8.0)
    k_kramers = kramers_rate(n, f, d, 0, barrier, half_width=0.3)
    assert np.isfinite(k_kramers)
    assert k_kramers == pytest.approx(k_exact, rel=0.12)


def test_kramers_says_why_it_cannot_apply():
    n = np.linspace(-3.0, 13.0, 801)
    low = quartic_double_well(n, 2.0, 8.0, 3.0)
    basins = find_basins(n, low)
    with pytest.raises(KramersError, match="below the 5 kT"):
        kramers_rate(n, low, np.ones_like(n), basins.dry, basins.barrier)
    # a rough top: a 2 kT notch of 0.4 molecules where the barrier should be
    rough = quartic_double_well(n, 2.0, 8.0, 10.0)
    top = int(np.argmax(np.where((n > 3) & (n < 7), rough, -np.inf)))
    rough[top - 10:top + 11] -= 2.0 * np.cos(np.linspace(-np.pi / 2, np.pi / 2, 21)) ** 2
    with pytest.raises(KramersError, match="not a parabolic maximum"):
        kramers_rate(n, rough, np.ones_like(n), int(np.argmin(abs(n - 2))), top, half_width=0.2)
    # a grid-end "minimum" that falls away from the wall is no well
    m = n[n > 2.5]
    falling = -0.5 * m + 10.0 * np.exp(-((m - 6.0) ** 2))
    with pytest.raises(KramersError, match="does not rise away from the wall"):
        kramers_rate(m, falling, np.ones(m.size), 0, int(np.argmin(abs(m - 6.0))))
def test_basins_found_and_overridable(double_well):
    n, f, _ = double_well
    basins = find_basins(n, f)
    assert n[basins.dry] == pytest.approx(2.0, abs=0.1)
    assert n[basins.wet] == pytest.approx(8.0, abs=0.3)
    assert 4.0 < n[basins.barrier] < 6.0
    forced = find_basins(n, f, dry=1.0, wet=9.0)
    assert (n[forced.dry], n[forced.wet]) == (pytest.approx(1.0, abs=0.03), pytest.approx(9.0, abs=0.03))
    with pytest.raises(BasinError, match="--dry/--wet"):
        find_basins(n, (n - 3) ** 2)
