"""Metrics of driven cycles: loop area, pinch, switching points."""

from __future__ import annotations

import numpy as np


def lobe_areas(drive: np.ndarray, response: np.ndarray) -> tuple[float, float]:
    """Signed areas of the two lobes of a pinched loop over one sine period.

    The period is split at its midpoint: for V = V0 sin(2 pi f t) sampled over one
    period, each half is a closed lobe (V goes out from 0 and back).

    Parameters
    ----------
    drive : ndarray, shape (n_samples,)
        Drive (e.g. voltage, V), samples over one period starting at V = 0,
        including both end points.
    response : ndarray, shape (n_samples,)
        Response (e.g. current, A).

    Returns
    -------
    tuple of float
        Closed-loop integrals of response d(drive) over each half (drive units times
        response units, e.g. W for V times A).
    """
    half = (drive.size - 1) // 2
    areas = []
    for lo, hi in ((0, half + 1), (half, drive.size)):
        v = drive[lo:hi]
        i = response[lo:hi]
        areas.append(float(np.sum(0.5 * (i[1:] + i[:-1]) * np.diff(v))))
    return areas[0], areas[1]


def normalised_loop_area(voltage: np.ndarray, current: np.ndarray, amplitude: float) -> float:
    """Normalised area of a pinched I-V loop: (|lobe 1| + |lobe 2|) / (I_max V0).

    Parameters
    ----------
    voltage : ndarray
        Voltage over one period (V), from V = 0, both end points included.
    current : ndarray
        Current (A).
    amplitude : float
        V0 (V).

    Returns
    -------
    float
        Dimensionless area; 0 for a single-valued I(V).
    """
    peak = float(np.max(np.abs(current)))
    if peak == 0:
        return 0.0
    first, second = lobe_areas(voltage, current)
    return (abs(first) + abs(second)) / (peak * amplitude)


def pinch(voltage: np.ndarray, current: np.ndarray) -> float:
    """|I| where the loop passes V = 0, relative to max |I| (0 for a pinched loop).

    Zero crossings of the voltage are located by linear interpolation.
    """
    peak = float(np.max(np.abs(current)))
    if peak == 0:
        return 0.0
    values = []
    for k in range(voltage.size - 1):
        v0, v1 = voltage[k], voltage[k + 1]
        if v0 == 0:
            values.append(abs(current[k]))
        elif v0 * v1 < 0:
            w = v0 / (v0 - v1)
            values.append(abs((1 - w) * current[k] + w * current[k + 1]))
    if voltage[-1] == 0:
        values.append(abs(current[-1]))
    return float(max(values) / peak) if values else float("nan")


def crossing(
    drive: np.ndarray, state: np.ndarray, level: float, rising: bool
) -> tuple[float, int]:
    """Drive value where ``state`` first crosses ``level`` (upwards or downwards).

    Parameters
    ----------
    drive, state : ndarray
        Samples along a sweep.
    level : float
        Threshold of the state (e.g. P_wet = 0.5).
    rising : bool
        Look for an upward (True) or a downward crossing.

    Returns
    -------
    value : float
        Interpolated drive value; NaN if the state never crosses.
    index : int
        Sample index just after the crossing (0 if none).
    """
    s = np.asarray(state) - level
    for k in range(s.size - 1):
        if (rising and s[k] < 0 <= s[k + 1]) or (not rising and s[k] > 0 >= s[k + 1]):
            w = s[k] / (s[k] - s[k + 1])
            return float((1 - w) * drive[k] + w * drive[k + 1]), k + 1
    return float("nan"), 0
