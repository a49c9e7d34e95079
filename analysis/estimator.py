"""What every free-energy estimator returns, and how they are chosen by name.

Estimators follow one shape: configuration in ``__init__`` (the bin edges of the
output grid first), ``fit(data)`` taking :class:`analysis.data.UmbrellaData` and
returning a :class:`FreeEnergyEstimate`. They are interchangeable by name through
:func:`make_estimator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from analysis.data import UmbrellaData


@dataclass
class FreeEnergyEstimate:
    """A free-energy profile on a grid, up to an additive constant.

    Attributes
    ----------
    n : ndarray
        Grid (molecules): the centres of the bins.
    free_energy : ndarray
        Omega(N) (kT); NaN where the data do not define it.
    method : str
        Estimator name.
    window_free_energies : ndarray or None
        Reduced free energies f_k of the biased windows (kT), f_0 = 0, where the
        estimator computes them.
    info : dict
        Estimator details (iterations, solver, ...).
    """

    n: np.ndarray
    free_energy: np.ndarray
    method: str
    window_free_energies: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Estimator(Protocol):
    """A free-energy estimator: configured once, fitted to umbrella data."""

    name: str
    edges: np.ndarray

    def fit(self, data: UmbrellaData) -> FreeEnergyEstimate:
        """Estimate the profile from ``data``."""
        ...


def bin_centers(edges: np.ndarray) -> np.ndarray:
    """Centres of bins given by their edges (molecules)."""
    edges = np.asarray(edges, dtype=float)
    return 0.5 * (edges[1:] + edges[:-1])


def check_edges(edges: np.ndarray) -> np.ndarray:
    """Validate bin edges: finite, strictly increasing, at least 3 bins."""
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 4:
        raise ValueError("bin edges must be a 1-D array of at least 4 values (3 bins)")
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise ValueError("bin edges must be finite and strictly increasing (molecules)")
    return edges


METHODS = ("wham", "mbar", "ui")


def make_estimator(method: str, edges: np.ndarray, **options: Any) -> Estimator:
    """An estimator chosen by name.

    Parameters
    ----------
    method : {"wham", "mbar", "ui"}
        WHAM on histograms, MBAR through ``pymbar.FES``, or umbrella integration.
    edges : ndarray
        Bin edges of the output grid (molecules).
    **options
        Passed to the estimator's constructor.

    Returns
    -------
    Estimator
    """
    if method == "wham":
        from analysis.wham import WHAM

        return WHAM(edges, **options)
    if method == "mbar":
        from analysis.mbar import MBARProfile

        return MBARProfile(edges, **options)
    if method == "ui":
        from analysis.umbrella_integration import UmbrellaIntegration

        return UmbrellaIntegration(edges, **options)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
