"""The halves check of ``nanopore fes`` when a half leaves the gauge point empty."""

from types import SimpleNamespace

import numpy as np

from analysis.convergence import convergence_check


class _Halves:
    """Data whose two halves the fake estimator turns into given profiles."""

    def __init__(self, first, second):
        self.profiles = [np.asarray(first, float), np.asarray(second, float)]

    def halves(self):
        return 0, 1


class _Estimator:
    def __init__(self, data):
        self.data = data

    def fit(self, which):
        return SimpleNamespace(free_energy=self.data.profiles[which])


def _check(first, second, error, gauge=0):
    data = _Halves(first, second)
    return convergence_check(_Estimator(data), data, gauge, np.asarray(error, float))


def test_halves_compared_at_the_gauge_point():
    result = _check([5.0, 6.0, 9.0], [1.0, 2.5, 5.0], [0.0, 1.0, 1.0])
    np.testing.assert_allclose(result.difference, [0.0, 0.5, 0.0])
    assert result.max_difference == 0.5 and result.max_z == 0.25 and result.converged


def test_a_half_without_the_gauge_point_is_compared_at_the_nearest_shared_point():
    # the second half never reaches N of index 0 (the dry minimum at the grid's edge)
    result = _check([0.0, 1.0, 3.0, 7.0], [np.nan, 4.0, 6.5, 10.0], [0.0, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(result.difference[1:], [0.0, 0.5, 0.0])
    assert np.isnan(result.difference[0])
    assert result.max_difference == 0.5 and np.isfinite(result.max_z)  # was NaN


def test_halves_sharing_no_point_are_not_converged():
    result = _check([0.0, np.nan], [np.nan, 1.0], [0.0, 1.0])
    assert np.isnan(result.max_difference) and not result.converged
