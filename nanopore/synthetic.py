"""Analytic model profiles with known properties, for tests, benchmarks and the demo.

These are models, not simulation results: every dataset made here says so in its
``producer`` attribute.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.interpolate import CubicHermiteSpline

from nanopore.profile import make_profile


def quartic_double_well(
    n: np.ndarray, dry: float, wet: float, barrier_height: float, tilt: float = 0.0
) -> np.ndarray:
    """Quartic double well with minima at ``dry`` and ``wet``.

    Omega(N) = h * 16 x^2 (1 - x)^2 + tilt * x with x = (N - dry) / (wet - dry):
    barrier height h (kT) at the midpoint when ``tilt`` = 0, wet minimum raised by
    about ``tilt`` (kT).

    Parameters
    ----------
    n : ndarray
        Grid (molecules).
    dry, wet : float
        Positions of the minima (molecules).
    barrier_height : float
        Barrier height without tilt (kT).
    tilt : float, optional
        Linear tilt across the wells (kT).

    Returns
    -------
    ndarray
        Free energy (kT).
    """
    x = (np.asarray(n, dtype=float) - dry) / (wet - dry)
    return barrier_height * 16.0 * x**2 * (1.0 - x) ** 2 + tilt * x


def filling_shape(n: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Smooth (C1) profile through (N, Omega) knots with flat tangents at each knot.

    Parameters
    ----------
    n : ndarray
        Grid (molecules).
    knots : list of (float, float)
        (N in molecules, Omega in kT), N increasing; the extrema of the profile sit
        at the knots.

    Returns
    -------
    ndarray
        Free energy (kT).
    """
    x, y = np.array(knots, dtype=float).T
    return CubicHermiteSpline(x, y, np.zeros_like(x))(np.asarray(n, dtype=float))


def model_pore_profile(
    voltages: tuple[float, ...] = (0.0, 0.25, 0.5),
    n_grid: int = 241,
    temperature: float = 300.0,
    wet_count: float = 40.0,
    barrier_height: float = 12.0,
    wet_excess: float = 5.0,
    electrowetting: float = -40.0,
    diffusion_dry: float = 0.5,
    diffusion_wet: float = 2.0,
) -> xr.Dataset:
    """Model filling profile of a hydrophobic pore that wets under voltage.

    Omega(N; V) = Omega0(N) + b(N) V^2 with a dry minimum at N = 2, a barrier of
    ``barrier_height`` at N = 0.4 * ``wet_count``, a metastable wet minimum
    ``wet_excess`` above the dry one at N = ``wet_count``, and b(N) =
    ``electrowetting`` * N / ``wet_count`` (kT/V^2), the capacitive term that grows
    with filling. D(N) rises linearly from ``diffusion_dry`` to ``diffusion_wet``.
    The default is dry at 0 V and wet above about 0.35 V.

    Parameters
    ----------
    voltages : tuple of float, optional
        Voltages of the profile rows (V).
    n_grid : int, optional
        Grid points.
    temperature : float, optional
        Temperature (K).
    wet_count : float, optional
        Water molecules in the filled pore.
    barrier_height : float, optional
        Barrier above the dry minimum at 0 V (kT).
    wet_excess : float, optional
        Wet minimum above the dry minimum at 0 V (kT).
    electrowetting : float, optional
        b at the wet minimum (kT/V^2, negative: voltage favours the wet pore).
    diffusion_dry, diffusion_wet : float, optional
        D at the two ends (molecules^2/ps).

    Returns
    -------
    xarray.Dataset
        Profile dataset with a ``voltage`` dimension.
    """
    upper = 1.2 * wet_count
    n = np.linspace(0.0, upper, n_grid)
    knots = [
        (0.0, 3.0),
        (2.0, 0.0),
        (0.4 * wet_count, barrier_height),
        (wet_count, wet_excess),
        (upper, wet_excess + 6.0),
    ]
    omega0 = filling_shape(n, knots)
    b = electrowetting * n / wet_count
    volts = np.asarray(voltages, dtype=float)
    free_energy = omega0[None, :] + b[None, :] * volts[:, None] ** 2
    diffusion = diffusion_dry + (diffusion_wet - diffusion_dry) * n / upper
    return make_profile(
        n,
        free_energy,
        diffusion,
        temperature,
        voltage=volts,
        producer="nanopore.synthetic.model_pore_profile (analytic model, not simulation data)",
        parameters={
            "wet_count": wet_count,
            "barrier_height_kT": barrier_height,
            "wet_excess_kT": wet_excess,
            "electrowetting_kT_per_V2": electrowetting,
            "diffusion_dry": diffusion_dry,
            "diffusion_wet": diffusion_wet,
        },
        attrs={"symmetric_pore": 1},
    )
