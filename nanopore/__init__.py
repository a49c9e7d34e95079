"""Core of the nanopore toolkit.

The core holds what every stage shares: physical constants and unit conversions
(:mod:`nanopore.units`), the profile dataset that carries free-energy profiles from
the free-energy stage to the kinetics (:mod:`nanopore.profile`), the voltage and
pressure dependence of a profile (:mod:`nanopore.voltage_model`,
:mod:`nanopore.thermodynamics`), analytic model profiles (:mod:`nanopore.synthetic`)
and the ``nanopore`` command line (:mod:`nanopore.cli`).
"""

from nanopore._version import __version__
from nanopore.profile import (
    ProfileError,
    load_profile,
    make_profile,
    save_profile,
    select_voltage,
    validate_profile,
)

__all__ = [
    "__version__",
    "ProfileError",
    "load_profile",
    "make_profile",
    "save_profile",
    "select_voltage",
    "validate_profile",
]
