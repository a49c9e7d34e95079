"""Position-dependent diffusion of N from restrained windows (Hummer 2005).

In a harmonically restrained window the fluctuations of N relax with the local
diffusion coefficient, and

    D(<N>_k) = var(N)^2 / integral_0^inf C(t) dt = var(N) / tau_int,

with C(t) = <dN(0) dN(t)> the autocovariance of N in the window. The integral is
the trapezoidal sum of the FFT autocovariance up to its first non-positive
value; the uncertainty is the spread of the estimate over contiguous blocks of
the series (standard error of the block mean). D is assigned to the window's
mean position and interpolated linearly onto the profile grid (constant beyond
the outermost windows). Units: molecules^2/ps.

The CV must be sampled faster than it relaxes: when the correlation time is
below about two sampling intervals, D is only a lower bound and a warning says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError


def autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance C(j) = <dx(0) dx(j)> of a series, by FFT (lag in samples).

    Parameters
    ----------
    x : ndarray
        Evenly sampled series.

    Returns
    -------
    ndarray
        C at lags 0 .. len(x) - 1, each averaged over the len(x) - j available pairs.
    """
    x = np.asarray(x, dtype=float)
    dx = x - x.mean()
    n = dx.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(dx, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    return acov / np.arange(n, 0, -1)


def integrated_autocovariance(x: np.ndarray, interval: float) -> tuple[float, float]:
    """Variance and time integral of the autocovariance of a series.

    Parameters
    ----------
    x : ndarray
        Evenly sampled series (molecules).
    interval : float
        Time between samples (ps).

    Returns
    -------
    variance : float
        C(0) (molecules^2).
    integral : float
        Trapezoidal integral of C(t) from 0 to its first non-positive value
        (molecules^2 ps).
    """
    acov = autocovariance(x)
    if not acov[0] > 0:
        raise AnalysisError("N does not fluctuate in this window; D cannot be estimated")
    nonpositive = np.flatnonzero(acov[1:] <= 0)
    stop = int(nonpositive[0]) + 1 if nonpositive.size else acov.size
    integral = interval * (0.5 * acov[0] + acov[1:stop].sum())
    return float(acov[0]), float(integral)


@dataclass(frozen=True)
class WindowDiffusion:
    """Hummer's estimate in one window.

    Attributes
    ----------
    position : float
        Mean N of the window (molecules), where D is assigned.
    diffusion : float
        D (molecules^2/ps).
    error : float
        Standard error of D from blocks (molecules^2/ps); NaN if the series is
        too short for blocks.
    variance : float
        var(N) (molecules^2).
    correlation_time : float
        tau_int = integral C / var (ps).
    name : str
        Window name.
    """

    position: float
    diffusion: float
    error: float
    variance: float
    correlation_time: float
    name: str = ""


def hummer_diffusion(x: np.ndarray, interval: float, blocks: int = 5, name: str = "") -> WindowDiffusion:
    """Diffusion coefficient of N from one restrained window.

    Parameters
    ----------
    x : ndarray
        Equilibrated, evenly sampled series of N (molecules).
    interval : float
        Time between samples (ps).
    blocks : int, optional
        Number of contiguous blocks for the uncertainty.
    name : str, optional
        Window name, for messages.

    Returns
    -------
    WindowDiffusion
    """
    x = np.asarray(x, dtype=float)
    if not interval > 0:
        raise AnalysisError(f"{name}: the time between samples must be positive, got {interval} ps")
    if x.size < 8:
        raise AnalysisError(f"{name}: {x.size} samples are too few to estimate D")
    variance, integral = integrated_autocovariance(x, interval)
    diffusion = variance**2 / integral
    tau = integral / variance
    if tau < 2.0 * interval:
        warnings.warn(
            f"{name}: N decorrelates within {tau:.3g} ps, about the sampling interval "
            f"{interval:g} ps; D = {diffusion:.3g} molecules^2/ps is only a lower bound, sample "
            "the CV more often",
            RuntimeWarning,
            stacklevel=2,
        )
    error = float("nan")
    size = x.size // blocks
    if blocks >= 2 and size >= max(8, int(20 * tau / interval)):
        values = []
        for b in range(blocks):
            v, i = integrated_autocovariance(x[b * size: (b + 1) * size], interval)
            values.append(v**2 / i)
        error = float(np.std(values, ddof=1) / np.sqrt(blocks))
    return WindowDiffusion(float(x.mean()), float(diffusion), error, variance, float(tau), name)


def interpolate_diffusion(estimates: Sequence[WindowDiffusion], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D and its error on a grid, linear between window positions.

    Parameters
    ----------
    estimates : sequence of WindowDiffusion
    grid : ndarray
        Grid (molecules).

    Returns
    -------
    diffusion : ndarray
        D (molecules^2/ps) on the grid, constant beyond the outermost windows.
    error : ndarray
        Its standard error (molecules^2/ps); windows without a block error
        contribute the median relative error of the others (NaN if none has one).
    """
    if not estimates:
        raise AnalysisError("no diffusion estimates to interpolate")
    order = sorted(estimates, key=lambda e: e.position)
    position = np.array([e.position for e in order])
    values = np.array([e.diffusion for e in order])
    errors = np.array([e.error for e in order])
    relative = errors / values
    if np.any(np.isfinite(relative)):
        errors = np.where(np.isfinite(errors), errors, np.nanmedian(relative) * values)
    position, unique = np.unique(position, return_index=True)
    return np.interp(grid, position, values[unique]), np.interp(grid, position, errors[unique])
