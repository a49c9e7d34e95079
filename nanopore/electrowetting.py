"""Electrowetting of a cylindrical pore: how an applied voltage favours the filled pore.

Only a fraction alpha <= 1 of the applied voltage V drops across the pore. The pore
is a parallel-plate capacitor C = eps0 eps pi R^2 / L, with eps = eps_w (relative
permittivity of water) when filled and eps = 1 when empty; at fixed voltage the
grand potential of a capacitor is -C U^2 / 2, so

    Omega_el(wet) - Omega_el(dry) = -0.5 (eps_w - 1) eps0 pi R^2 (alpha V)^2 / L  (<= 0).

A pore without mirror symmetry along its axis may hold an ordered water column
with a net axial dipole p; in the field E = alpha V / L it adds -p alpha V / L to
the filled pore, a term linear in V that shifts the two critical voltages apart.
The critical voltages are where the capillary cost (:mod:`nanopore.capillary`) is
balanced: C + a V + b V^2 = 0 with C = Omega_wet - Omega_dry at V = 0,
a = -p alpha / L, b = -0.5 (eps_w - 1) eps0 pi R^2 alpha^2 / L. For a symmetric pore
at dP = 0 this is V_c = 2 L sqrt(gamma |cos theta| / ((eps_w - 1) eps0 R)) / alpha.

Lengths are in nm at the interface, voltages in V, energies in J, dipoles in debye.
"""

from __future__ import annotations

import numpy as np

from nanopore.capillary import require_positive
from nanopore.units import NANOMETER, VACUUM_PERMITTIVITY

#: Relative permittivity of liquid water at 25 C.
WATER_PERMITTIVITY = 78.4
#: One debye in C m.
DEBYE = 3.33564e-30


def require_fraction(alpha: float) -> float:
    """Return the voltage fraction alpha if 0 < alpha <= 1, else raise ValueError.

    Parameters
    ----------
    alpha : float
        Fraction of the applied voltage that drops across the pore.

    Returns
    -------
    float
    """
    alpha = float(alpha)
    if not np.isfinite(alpha) or not 0.0 < alpha <= 1.0:
        raise ValueError(
            f"voltage fraction alpha must lie in (0, 1] (the share of the applied voltage "
            f"across the pore), got {alpha:g}"
        )
    return alpha


def _require_permittivity(permittivity: float) -> float:
    permittivity = float(permittivity)
    if not np.isfinite(permittivity) or permittivity <= 1.0:
        raise ValueError(
            f"relative permittivity of water must be a number above 1, got {permittivity:g}"
        )
    return permittivity


def pore_capacitance(
    radius_nm: float, length_nm: float, permittivity: float = WATER_PERMITTIVITY
) -> float:
    """Capacitance of the pore as a parallel-plate capacitor, eps0 eps pi R^2 / L.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.
    permittivity : float, optional
        Relative permittivity of the pore's content (1 for vapour).

    Returns
    -------
    float
        Capacitance (F).
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    length = require_positive(length_nm, "length", "nm") * NANOMETER
    permittivity = require_positive(permittivity, "relative permittivity", "")
    return VACUUM_PERMITTIVITY * permittivity * np.pi * radius**2 / length


def access_voltage_fraction(radius_nm: float, length_nm: float) -> float:
    """Share of the voltage across the open pore body when access resistance is counted.

    With the bulk resistance 4 L / (sigma pi d^2) of the pore and the access
    resistance 1 / (sigma d) of its two mouths (Hall, d = 2R) in series, the pore
    body takes the fraction L / (L + pi R / 2). A dry pore in an insulating
    membrane takes nearly the whole voltage (alpha about 1); this is the estimate
    for the other extreme, once ions conduct.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.

    Returns
    -------
    float
        alpha (dimensionless, between 0 and 1).
    """
    radius = require_positive(radius_nm, "radius", "nm")
    length = require_positive(length_nm, "length", "nm")
    return length / (length + 0.5 * np.pi * radius)


def electrowetting_coefficient(
    radius_nm: float,
    length_nm: float,
    alpha: float = 1.0,
    permittivity: float = WATER_PERMITTIVITY,
) -> float:
    """b in Omega_wet - Omega_dry = C + a V + b V^2: -0.5 (eps_w - 1) eps0 pi R^2 alpha^2 / L.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.
    alpha : float, optional
        Fraction of the applied voltage across the pore, in (0, 1].
    permittivity : float, optional
        Relative permittivity of water eps_w (> 1).

    Returns
    -------
    float
        b (J/V^2), negative.
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    length = require_positive(length_nm, "length", "nm") * NANOMETER
    alpha = require_fraction(alpha)
    permittivity = _require_permittivity(permittivity)
    return -0.5 * (permittivity - 1.0) * VACUUM_PERMITTIVITY * np.pi * radius**2 * alpha**2 / length


def dipole_coefficient(length_nm: float, dipole_debye: float = 0.0, alpha: float = 1.0) -> float:
    """a in Omega_wet - Omega_dry = C + a V + b V^2: -p alpha / L.

    Parameters
    ----------
    length_nm : float
        Pore length (nm), positive.
    dipole_debye : float, optional
        Net axial dipole of the filled pore's water relative to the empty pore
        (debye; positive along the direction of the field at positive voltage).
        Zero for a pore that is symmetric along its axis.
    alpha : float, optional
        Fraction of the applied voltage across the pore, in (0, 1].

    Returns
    -------
    float
        a (J/V).
    """
    length = require_positive(length_nm, "length", "nm") * NANOMETER
    alpha = require_fraction(alpha)
    return -float(dipole_debye) * DEBYE * alpha / length


def electrowetting_free_energy(
    radius_nm: float,
    length_nm: float,
    voltage,
    alpha: float = 1.0,
    permittivity: float = WATER_PERMITTIVITY,
    dipole_debye: float = 0.0,
):
    """Voltage-dependent part of Omega_wet - Omega_dry, a V + b V^2.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm).
    voltage : float or array_like
        Applied voltage (V).
    alpha : float, optional
        Fraction of the voltage across the pore, in (0, 1].
    permittivity : float, optional
        Relative permittivity of water.
    dipole_debye : float, optional
        Axial dipole of the filled pore (debye), see :func:`dipole_coefficient`.

    Returns
    -------
    float or ndarray
        Free-energy change (J); the capacitive part is never positive.
    """
    v = np.asarray(voltage, dtype=float)
    a = dipole_coefficient(length_nm, dipole_debye, alpha)
    b = electrowetting_coefficient(radius_nm, length_nm, alpha, permittivity)
    out = a * v + b * v**2
    return float(out) if out.ndim == 0 else out


def critical_voltages(
    capillary_difference: float,
    radius_nm: float,
    length_nm: float,
    alpha: float = 1.0,
    permittivity: float = WATER_PERMITTIVITY,
    dipole_debye: float = 0.0,
) -> tuple[float, float]:
    """Negative and positive voltages at which wet and dry pores have equal Omega.

    Roots of C + a V + b V^2 = 0 (see the module docstring).

    Parameters
    ----------
    capillary_difference : float
        C = Omega_wet - Omega_dry at V = 0 (J), e.g. from
        :func:`nanopore.capillary.wetting_free_energy`.
    radius_nm, length_nm : float
        Pore radius and length (nm).
    alpha : float, optional
        Fraction of the voltage across the pore, in (0, 1].
    permittivity : float, optional
        Relative permittivity of water.
    dipole_debye : float, optional
        Axial dipole of the filled pore (debye).

    Returns
    -------
    (float, float)
        (V_minus <= 0, V_plus >= 0) in V. Both are 0 when C <= 0 and there is no
        dipole (the pore is wet already at V = 0); with a dipole and C <= 0 the
        pore is wet at V = 0 and both are reported as 0 as well.
    """
    c = float(capillary_difference)
    a = dipole_coefficient(length_nm, dipole_debye, alpha)
    b = electrowetting_coefficient(radius_nm, length_nm, alpha, permittivity)
    if c <= 0.0:
        return 0.0, 0.0
    root = np.sqrt(a * a - 4.0 * b * c)
    # |b| V^2 - a V - C = 0, |b| = -b
    return float((a - root) / (-2.0 * b)), float((a + root) / (-2.0 * b))


def critical_voltage(
    capillary_difference: float,
    radius_nm: float,
    length_nm: float,
    alpha: float = 1.0,
    permittivity: float = WATER_PERMITTIVITY,
    dipole_debye: float = 0.0,
) -> float:
    """Smallest positive voltage at which the filled pore becomes favoured.

    For a symmetric pore at dP = 0 this is
    V_c = 2 L sqrt(gamma |cos theta| / ((eps_w - 1) eps0 R)) / alpha.

    Parameters
    ----------
    capillary_difference : float
        Omega_wet - Omega_dry at V = 0 (J).
    radius_nm, length_nm : float
        Pore radius and length (nm).
    alpha : float, optional
        Fraction of the voltage across the pore, in (0, 1].
    permittivity : float, optional
        Relative permittivity of water.
    dipole_debye : float, optional
        Axial dipole of the filled pore (debye).

    Returns
    -------
    float
        V_c (V); 0 when the pore is wet already at V = 0.
    """
    return critical_voltages(
        capillary_difference, radius_nm, length_nm, alpha, permittivity, dipole_debye
    )[1]
