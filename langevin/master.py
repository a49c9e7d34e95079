"""The two-state master equation dP_wet/dt = k_wet (1 - P_wet) - k_dry P_wet."""

from __future__ import annotations

import numpy as np


def _lag_factor(x: np.ndarray) -> np.ndarray:
    """(1 - exp(-x)) / x - exp(-x), without cancellation (about x/2 for small x)."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-3
    safe = np.where(small, 1.0, x)
    value = -np.expm1(-safe) / safe - np.exp(-safe)
    series = x / 2.0 - x**2 / 3.0 + x**3 / 8.0
    return np.where(small, series, value)


def _step_terms(k_wet: np.ndarray, k_dry: np.ndarray, time_step: float):
    """Per-step decay, relaxation fraction and lag weights of the exact step solution."""
    k_wet = np.asarray(k_wet, dtype=float)
    k_dry = np.asarray(k_dry, dtype=float)
    total = k_wet + k_dry
    equilibrium = np.divide(k_wet, total, out=np.full_like(total, 0.5), where=total > 0)
    exponent = np.sqrt(total[1:] * total[:-1]) * time_step
    decay = np.exp(-exponent)
    relaxed = -np.expm1(-exponent)
    lag = _lag_factor(exponent)
    return equilibrium, exponent, decay, relaxed, lag


def propagate_two_state(
    k_wet: np.ndarray, k_dry: np.ndarray, time_step: float, initial: float
) -> np.ndarray:
    """Integrate the two-state master equation between sampled rates.

    Rates are given at the sample times t_0 .. t_n. Within a step the relaxation
    rate k = k_wet + k_dry is held at the geometric mean of its end values and the
    equilibrium P_eq = k_wet / k is taken linear in time; each step is then solved
    exactly, P(t + dt) = P e^{-x} + P_eq,1 (1 - e^{-x}) - (P_eq,1 - P_eq,0)
    ((1 - e^{-x}) / x - e^{-x}), x = k dt, written without cancellation, so the
    scheme is stable for any stiffness, exact for slow relaxation (x -> 0) and
    follows a slow drive with the right lag (P = P_eq - dP_eq/dt / k).

    Parameters
    ----------
    k_wet, k_dry : ndarray, shape (n_steps + 1,)
        Wetting and drying rates at the sample times (1/s, or any unit consistent
        with ``time_step``).
    time_step : float
        Spacing of the samples (s, or the matching unit).
    initial : float
        P_wet at t_0.

    Returns
    -------
    ndarray, shape (n_steps + 1,)
        P_wet at the sample times (the first is ``initial``).
    """
    equilibrium, _, decay, relaxed, lag = _step_terms(k_wet, k_dry, time_step)
    source = equilibrium[1:] * relaxed - np.diff(equilibrium) * lag
    out = np.empty(equilibrium.size)
    p = float(initial)
    out[0] = p
    for i in range(decay.size):
        p = p * decay[i] + source[i]
        out[i + 1] = p
    return out


def periodic_two_state(k_wet: np.ndarray, k_dry: np.ndarray, time_step: float) -> float:
    """P_wet at the start of the periodic steady state of a periodic drive.

    The step map is linear, P_T = A P_0 + B over one period, so the periodic state
    is P* = B / (1 - A), with 1 - A = -expm1(-sum k dt) and B the response from
    P_0 = 0: exact for the scheme of :func:`propagate_two_state`, at any ratio of
    relaxation rate to drive frequency.

    Parameters
    ----------
    k_wet, k_dry : ndarray, shape (n_steps + 1,)
        Rates over one period, first and last sample at the same phase.
    time_step : float
        Spacing of the samples.

    Returns
    -------
    float
        P_wet at phase 0 of the periodic state.
    """
    equilibrium, exponent, _, _, _ = _step_terms(k_wet, k_dry, time_step)
    total = float(np.sum(exponent))
    if total <= 0:
        return float(equilibrium[0])
    response = propagate_two_state(k_wet, k_dry, time_step, 0.0)[-1]
    return float(min(1.0, max(0.0, response / -np.expm1(-total))))
