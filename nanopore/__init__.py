"""Core of the nanopore toolkit.

The core holds what every stage shares: physical constants and unit conversions
(:mod:`nanopore.units`), the profile dataset that carries free-energy profiles from
the free-energy stage to the kinetics (:mod:`nanopore.profile`), the voltage and
pressure dependence of a profile (:mod:`nanopore.voltage_model`,
:mod:`nanopore.thermodynamics`), analytic model profiles (:mod:`nanopore.synthetic`)
and the ``nanopore`` command line (:mod:`nanopore.cli`).

The profile functions below are imported on first use, so that importing the
package (and starting the command line) does not load xarray.
"""

from __future__ import annotations

import importlib
from typing import Any

from nanopore._version import __version__

__all__ = [
    "ProfileError",
    "__version__",
    "load_profile",
    "make_profile",
    "save_profile",
    "select_voltage",
    "validate_profile",
]
_PROFILE_NAMES = frozenset(name for name in __all__ if name != "__version__")


def __getattr__(name: str) -> Any:
    if name in _PROFILE_NAMES:
        return getattr(importlib.import_module("nanopore.profile"), name)
    raise AttributeError(f"module 'nanopore' has no attribute {name!r}")
