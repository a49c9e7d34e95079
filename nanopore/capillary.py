"""Capillarity of a cylindrical pore: the macroscopic cost of filling it with water.

For a cylinder of radius R and length L whose wall has the contact angle theta with
water (Young: gamma_SV - gamma_SL = gamma cos theta), replacing vapour by liquid in
the whole pore changes the grand potential by

    Omega_wet - Omega_dry = -2 pi R L gamma cos(theta) - dP pi R^2 L,

dP the excess pressure of the liquid over the vapour. The long-pore form above
leaves out the two liquid-vapour discs (pi R^2 gamma each) that close a dry pore
at its mouths; ``mouth_menisci=True`` counts them, which adds -2 pi R^2 gamma.
Wet and dry coexist at the Laplace intrusion pressure dP_int = -2 gamma cos(theta) / R
(positive for a hydrophobic pore). The surface tension of water follows the IAPWS
correlation (:func:`water_surface_tension`).

Lengths are in nm at the interface of these functions, energies in J, pressures in
Pa, surface tensions in N/m.
"""

from __future__ import annotations

import numpy as np

from nanopore.units import NANOMETER, WATER_MOLECULAR_VOLUME_NM3

#: Critical temperature of water (K), IAPWS.
WATER_CRITICAL_TEMPERATURE = 647.096
#: Lowest temperature (K) to which the IAPWS surface tension correlation is trusted
#: (it was checked on supercooled water down to -25 C).
SURFACE_TENSION_MIN_TEMPERATURE = 248.15


def require_positive(value: float, name: str, unit: str) -> float:
    """Return ``value`` as a float if it is finite and positive, else raise ValueError.

    Parameters
    ----------
    value : float
        The input to check.
    name : str
        Its name, as the error message should show it (e.g. ``"radius"``).
    unit : str
        Its unit, for the message (e.g. ``"nm"``); empty for a pure number.

    Returns
    -------
    float
    """
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        if unit:
            raise ValueError(f"{name} must be a positive number of {unit}, got {value:g} {unit}")
        raise ValueError(f"{name} must be a positive number, got {value:g}")
    return value


def require_contact_angle(contact_angle_deg: float) -> float:
    """Return the contact angle (degrees) if it lies in [0, 180], else raise ValueError.

    Parameters
    ----------
    contact_angle_deg : float
        Contact angle of water on the pore wall (degrees).

    Returns
    -------
    float
    """
    value = float(contact_angle_deg)
    if not np.isfinite(value) or not 0.0 <= value <= 180.0:
        raise ValueError(
            f"contact angle must lie between 0 and 180 degrees, got {value:g} degrees"
        )
    return value


def water_surface_tension(temperature: float) -> float:
    """Surface tension of water against its vapour, IAPWS R1-76(2014).

    gamma = 235.8 mN/m * tau^1.256 * (1 - 0.625 tau), tau = 1 - T / 647.096 K.

    Parameters
    ----------
    temperature : float
        Temperature (K), from 248.15 K (supercooled water, -25 C) up to (not
        including) the critical point 647.096 K.

    Returns
    -------
    float
        Surface tension (N/m).

    Raises
    ------
    ValueError
        For a temperature outside the range of the correlation.
    """
    temperature = float(temperature)
    if not (
        np.isfinite(temperature)
        and SURFACE_TENSION_MIN_TEMPERATURE <= temperature < WATER_CRITICAL_TEMPERATURE
    ):
        raise ValueError(
            f"temperature must lie between {SURFACE_TENSION_MIN_TEMPERATURE:g} K and the "
            f"critical point {WATER_CRITICAL_TEMPERATURE:g} K for the IAPWS surface tension, "
            f"got {temperature:g} K"
        )
    tau = 1.0 - temperature / WATER_CRITICAL_TEMPERATURE
    return 235.8e-3 * tau**1.256 * (1.0 - 0.625 * tau)


def filled_water_count(
    radius_nm: float, length_nm: float, molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3
) -> float:
    """Water molecules in the filled cylinder, pi R^2 L / v_l.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm).
    molecular_volume_nm3 : float, optional
        Volume per liquid molecule v_l (nm^3).

    Returns
    -------
    float
        N_wet (molecules).
    """
    radius_nm = require_positive(radius_nm, "radius", "nm")
    length_nm = require_positive(length_nm, "length", "nm")
    molecular_volume_nm3 = require_positive(molecular_volume_nm3, "molecular volume", "nm^3")
    return np.pi * radius_nm**2 * length_nm / molecular_volume_nm3


def wetting_free_energy(
    radius_nm: float,
    length_nm: float,
    contact_angle_deg: float,
    surface_tension: float,
    excess_pressure: float = 0.0,
    mouth_menisci: bool = False,
) -> float:
    """Capillary grand-potential difference Omega_wet - Omega_dry of a cylinder.

    -2 pi R L gamma cos(theta) - dP pi R^2 L, and -2 pi R^2 gamma more with
    ``mouth_menisci`` (the dry pore's two liquid-vapour discs at the mouths).

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.
    contact_angle_deg : float
        Contact angle of water on the wall (degrees, 0 to 180).
    surface_tension : float
        Liquid-vapour surface tension gamma (N/m), positive.
    excess_pressure : float, optional
        Liquid pressure above the vapour's, dP (Pa).
    mouth_menisci : bool, optional
        Count the mouth discs of the dry pore.

    Returns
    -------
    float
        Omega_wet - Omega_dry (J); positive when the dry pore is favoured.
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    length = require_positive(length_nm, "length", "nm") * NANOMETER
    theta = np.deg2rad(require_contact_angle(contact_angle_deg))
    gamma = require_positive(surface_tension, "surface tension", "N/m")
    difference = (
        -2.0 * np.pi * radius * length * gamma * np.cos(theta)
        - float(excess_pressure) * np.pi * radius**2 * length
    )
    if mouth_menisci:
        difference -= 2.0 * np.pi * radius**2 * gamma
    return float(difference)


def intrusion_pressure(radius_nm: float, contact_angle_deg: float, surface_tension: float) -> float:
    """Laplace intrusion pressure dP_int = -2 gamma cos(theta) / R.

    The excess liquid pressure at which the filled and the empty long pore have
    equal grand potential; negative for a hydrophilic wall (the pore fills
    spontaneously).

    Parameters
    ----------
    radius_nm : float
        Pore radius (nm), positive.
    contact_angle_deg : float
        Contact angle (degrees, 0 to 180).
    surface_tension : float
        Surface tension (N/m), positive.

    Returns
    -------
    float
        Intrusion pressure (Pa).
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    theta = np.deg2rad(require_contact_angle(contact_angle_deg))
    gamma = require_positive(surface_tension, "surface tension", "N/m")
    return float(-2.0 * gamma * np.cos(theta) / radius)
