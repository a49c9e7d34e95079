"""Statistical inefficiency and equilibration detection of a correlated time series.

The estimators of Chodera (J. Chem. Theory Comput. 12, 1799 (2016)), as
``pymbar.timeseries`` computes them: the integrated autocorrelation is summed
lag by lag until the normalised autocorrelation function first drops to zero
(after a minimum lag), and the equilibration time is the origin that maximises
the number of effective samples. They are computed here, with the same sums and
the same stopping rule, because importing ``pymbar`` (which imports
``scipy.stats``) takes about 0.65 s, a fifth of the start-up budget of
``nanopore fes``; the test suite checks that both give the same numbers.
"""

from __future__ import annotations

import numpy as np

#: smallest lag (samples) before a non-positive autocorrelation ends the sum
MIN_LAG = 3


def autocovariance_sums(fluctuation: np.ndarray) -> np.ndarray:
    """Sums sum_i dA_i dA_{i+t} for every lag t = 0 .. N-1, by FFT.

    Parameters
    ----------
    fluctuation : ndarray
        Deviations from the mean (any units).

    Returns
    -------
    ndarray
        The lagged products summed, same length as the input (units squared).
    """
    n = fluctuation.size
    size = 1 << int(2 * n - 1).bit_length()
    spectrum = np.fft.rfft(fluctuation, size)
    return np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]


def statistical_inefficiency(series: np.ndarray, fast: bool = False,
                             min_lag: int = MIN_LAG) -> float:
    """Statistical inefficiency g = 1 + 2 tau (samples) of a time series.

    Parameters
    ----------
    series : array_like
        The samples, equally spaced in time.
    fast : bool, optional
        Lags 1, 2, 4, 7, 11, ... (the step growing by one each time, each lag
        weighted by its step) instead of every lag.
    min_lag : int, optional
        The sum runs at least past this lag (samples).

    Returns
    -------
    float
        g >= 1 (samples).

    Raises
    ------
    ValueError
        If the series is constant (its variance is zero).
    """
    values = np.asarray(series, dtype=np.float64)
    n = values.size
    fluctuation = values - values.mean()
    variance = float((fluctuation * fluctuation).mean())
    if variance == 0.0:
        raise ValueError("the series is constant: its statistical inefficiency is undefined")
    g = 1.0
    if fast:
        lag, step = 1, 1
        while lag < n - 1:
            correlation = (np.sum(fluctuation[: n - lag] * fluctuation[lag:])
                           / ((n - lag) * variance))
            if correlation <= 0.0 and lag > min_lag:
                break
            g += 2.0 * correlation * (1.0 - lag / n) * step
            lag += step
            step += 1
        return max(g, 1.0)
    if n < 3:
        return 1.0
    lags = np.arange(1, n - 1)
    correlation = autocovariance_sums(fluctuation)[1 : n - 1] / ((n - lags) * variance)
    stops = np.flatnonzero((correlation <= 0.0) & (lags > min_lag))
    end = stops[0] if stops.size else lags.size
    g += float(np.sum(2.0 * correlation[:end] * (1.0 - lags[:end] / n)))
    return max(g, 1.0)


def detect_equilibration(series: np.ndarray, nskip: int = 1) -> tuple[int, float, float]:
    """The start of the equilibrated part: the origin with the most effective samples.

    Every ``nskip``-th origin t0 is tried; the effective number of samples of
    the series from t0 on is (T - t0 + 1) / g(t0), with g from
    :func:`statistical_inefficiency` (``fast=True``); a constant tail counts
    as fully correlated (g = T - t0 + 1).

    Parameters
    ----------
    series : array_like
        The samples, equally spaced in time.
    nskip : int, optional
        Spacing of the trial origins (samples).

    Returns
    -------
    start : int
        Index of the first equilibrated sample.
    inefficiency : float
        g of the series from ``start`` on (samples).
    n_effective : float
        Its effective number of samples.
    """
    values = np.asarray(series, dtype=np.float64)
    total = values.size
    if values.std() == 0.0:
        return 0, 1.0, 1.0
    # float32 as in pymbar, so that near-ties resolve to the same origin
    inefficiency = np.ones(total - 1, dtype=np.float32)
    n_effective = np.ones(total - 1, dtype=np.float32)
    for origin in range(0, total - 1, max(1, int(nskip))):
        try:
            inefficiency[origin] = statistical_inefficiency(values[origin:], fast=True)
        except ValueError:
            inefficiency[origin] = total - origin + 1
        n_effective[origin] = (total - origin + 1) / inefficiency[origin]
    start = int(np.argmax(n_effective))
    return start, float(inefficiency[start]), float(n_effective[start])
