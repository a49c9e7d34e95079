"""Pressure and temperature dependence of a filling profile.

* Pressure: Omega(N; P) = Omega(N; P0) - (P - P0) v_l N, v_l the volume per liquid
  molecule (1 / rho_l).
* Temperature: the profile's free energy is held fixed in energy units and enters
  the kinetics through beta, so Omega/kT at T is (Omega/kT at T0) * T0 / T.
"""

from __future__ import annotations

import numpy as np

from nanopore.units import WATER_MOLECULAR_VOLUME_NM3, pressure_work_kT


def pressure_basis(
    n: np.ndarray,
    temperature: float,
    molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3,
) -> np.ndarray:
    """Change of Omega/kT per pascal of excess pressure: -v_l N / kT (kT/Pa).

    Parameters
    ----------
    n : ndarray
        Grid (molecules).
    temperature : float
        Temperature (K).
    molecular_volume_nm3 : float, optional
        Volume per liquid molecule (nm^3).

    Returns
    -------
    ndarray
        d(Omega/kT)/dP (1/Pa).
    """
    return -pressure_work_kT(1.0, molecular_volume_nm3, temperature) * np.asarray(n, dtype=float)


def free_energy_at_pressure(
    n: np.ndarray,
    free_energy: np.ndarray,
    excess_pressure: float | np.ndarray,
    temperature: float,
    molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3,
) -> np.ndarray:
    """Omega(N; P0 + dP) in kT.

    Parameters
    ----------
    n : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy : ndarray, shape (n_grid,)
        Omega(N; P0) (kT).
    excess_pressure : float or ndarray, shape (n_pressures,)
        P - P0 (Pa).
    temperature : float
        Temperature (K).
    molecular_volume_nm3 : float, optional
        Volume per liquid molecule (nm^3).

    Returns
    -------
    ndarray, shape (n_grid,) or (n_pressures, n_grid)
        Free energy (kT).
    """
    slope = pressure_basis(n, temperature, molecular_volume_nm3)
    dp = np.asarray(excess_pressure, dtype=float)
    if dp.ndim == 0:
        return np.asarray(free_energy) + float(dp) * slope
    return np.asarray(free_energy)[None, :] + dp[:, None] * slope[None, :]


def free_energy_at_temperature(
    free_energy: np.ndarray, reference_temperature: float, temperature: float
) -> np.ndarray:
    """Rescale a profile in kT from ``reference_temperature`` to ``temperature`` (K).

    The free energy in energy units is held fixed (no entropy change of the profile
    shape is modelled); only beta changes.
    """
    return np.asarray(free_energy, dtype=float) * (reference_temperature / temperature)
