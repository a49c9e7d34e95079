"""The two-state master equation dP_wet/dt = k_wet (1 - P_wet) - k_dry P_wet."""

from __future__ import annotations

import numpy as np


def propagate_two_state(
    k_wet: np.ndarray, k_dry: np.ndarray, time_step: float, initial: float
) -> np.ndarray:
    """Integrate the two-state master equation between sampled rates.

    Rates are given at the sample times t_0 .. t_n. Within a step the relaxation
    rate k = k_wet + k_dry is held at the geometric mean of its end values and the
    equilibrium P_eq = k_wet / k is taken linear in time; each step is then solved
    exactly, so the scheme is stable for any stiffness and follows a slow drive
    with the right lag (P = P_eq - dP_eq/dt / k).

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
    k_wet = np.asarray(k_wet, dtype=float)
    k_dry = np.asarray(k_dry, dtype=float)
    total = k_wet + k_dry
    equilibrium = np.divide(k_wet, total, out=np.full_like(total, 0.5), where=total > 0)
    rate = np.sqrt(total[1:] * total[:-1])
    slope = np.diff(equilibrium) / time_step
    decay = np.exp(-rate * time_step)
    with np.errstate(divide="ignore", invalid="ignore"):
        lag = np.where(rate > 0, slope / rate, 0.0)
    out = np.empty_like(total)
    p = float(initial)
    out[0] = p
    for i in range(rate.size):
        if rate[i] * time_step > 1e-12:  # otherwise nothing relaxes within the step
            p = equilibrium[i + 1] - lag[i] + (p - equilibrium[i] + lag[i]) * decay[i]
        out[i + 1] = p
    return out
