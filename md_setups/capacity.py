"""How many water molecules the counting region can hold, and targets beyond it.

A target N_k that the pore cannot hold is pulled towards for the whole window and
never reached: the window "finishes" with samples far from its centre. The most
the region can hold is bulk liquid water filling the whole counting cylinder,
rho pi R_cv^2 (z_hi - z_lo); the wall only lowers it, so a target above that bound
is refused before any MD runs.
"""

from __future__ import annotations

import math
from typing import Any

from nanopore.units import WATER_MOLECULAR_VOLUME_NM3


def region_capacity(setup: Any) -> float:
    """Upper bound of N in the setup's counting region (molecules).

    Parameters
    ----------
    setup : md_setups.setup.Setup

    Returns
    -------
    float
        Bulk liquid water (1/0.0299 molecules/nm^3) filling the CV cylinder.
    """
    cv = setup.cv
    volume = math.pi * cv.radius**2 * (cv.z_hi - cv.z_lo)
    return volume / WATER_MOLECULAR_VOLUME_NM3


def check_targets(setup: Any) -> None:
    """Refuse window targets beyond what the counting region can hold.

    Parameters
    ----------
    setup : md_setups.setup.Setup

    Raises
    ------
    ValueError
        Naming the targets, the bound and the fix.
    """
    capacity = region_capacity(setup)
    beyond = [float(t) for t in setup.targets if t > capacity]
    if beyond:
        cv = setup.cv
        raise ValueError(
            f"{setup.source}: [windows] targets {beyond} exceed what the counting region can hold "
            f"(at most {capacity:.1f} molecules: bulk water filling a cylinder of radius "
            f"{cv.radius:g} nm and length {cv.z_hi - cv.z_lo:g} nm); lower the targets (or stop) "
            "below it"
        )
