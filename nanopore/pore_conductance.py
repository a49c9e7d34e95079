"""Ionic conductance of the open (wet) pore: bulk plus access resistance.

A cylinder of diameter d = 2R and length L filled with electrolyte of conductivity
sigma has the bulk resistance 4 L / (sigma pi d^2); the converging current lines
at its two mouths add the access resistance 1 / (sigma d) (Hall, 1975: 1 / (2 sigma d)
per mouth). The open-pore conductance is therefore

    G = sigma / (4 L / (pi d^2) + 1 / d),

the memristor's on-state. The dry pore carries no ionic current (G_dry about 0).
Continuum electrolyte conductivity overestimates the conductance of sub-nanometre
pores (ion dehydration and surface effects are left out); treat G as an upper
estimate.
"""

from __future__ import annotations

import numpy as np

from nanopore.capillary import require_positive
from nanopore.units import NANOMETER

#: Conductivity of 1 M KCl at 25 C (S/m).
KCL_1M_CONDUCTIVITY = 10.5


def bulk_resistance(radius_nm: float, length_nm: float, conductivity: float = KCL_1M_CONDUCTIVITY) -> float:
    """Resistance of the electrolyte column inside the pore, L / (sigma pi R^2).

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.
    conductivity : float, optional
        Electrolyte conductivity sigma (S/m).

    Returns
    -------
    float
        Resistance (ohm).
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    length = require_positive(length_nm, "length", "nm") * NANOMETER
    sigma = require_positive(conductivity, "conductivity", "S/m")
    return length / (sigma * np.pi * radius**2)


def access_resistance(radius_nm: float, conductivity: float = KCL_1M_CONDUCTIVITY) -> float:
    """Access resistance of the two mouths together, 1 / (sigma d) with d = 2R (Hall).

    Parameters
    ----------
    radius_nm : float
        Pore radius (nm), positive.
    conductivity : float, optional
        Electrolyte conductivity sigma (S/m).

    Returns
    -------
    float
        Resistance (ohm).
    """
    radius = require_positive(radius_nm, "radius", "nm") * NANOMETER
    sigma = require_positive(conductivity, "conductivity", "S/m")
    return 1.0 / (sigma * 2.0 * radius)


def open_pore_conductance(
    radius_nm: float, length_nm: float, conductivity: float = KCL_1M_CONDUCTIVITY
) -> float:
    """Conductance of the wet pore, sigma / (4 L / (pi d^2) + 1 / d).

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm), positive.
    conductivity : float, optional
        Electrolyte conductivity sigma (S/m); default 1 M KCl at 25 C.

    Returns
    -------
    float
        Conductance (S).
    """
    return 1.0 / (
        bulk_resistance(radius_nm, length_nm, conductivity) + access_resistance(radius_nm, conductivity)
    )


def conductance_model(
    radius_nm: float,
    length_nm: float,
    conductivity: float = KCL_1M_CONDUCTIVITY,
    form: str = "two-level",
):
    """The kinetics' conductance model with g_wet from the open-pore formula and g_dry = 0.

    Parameters
    ----------
    radius_nm, length_nm : float
        Pore radius and length (nm).
    conductivity : float, optional
        Electrolyte conductivity (S/m).
    form : {"two-level", "linear"}, optional
        See :class:`langevin.conductance.ConductanceModel`.

    Returns
    -------
    langevin.conductance.ConductanceModel
    """
    from langevin.conductance import ConductanceModel

    return ConductanceModel(0.0, open_pore_conductance(radius_nm, length_nm, conductivity), form)
