"""Conductance of the pore as a function of its filling, for memristor loops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConductanceModel:
    """Conductance of the pore given its water count.

    Attributes
    ----------
    g_dry, g_wet : float
        Conductance of the dry and of the wet pore (S).
    form : {"two-level", "linear"}
        ``two-level``: G = g_wet above the wet threshold, g_dry below (so the mean
        conductance is g_dry + (g_wet - g_dry) P_wet). ``linear``: G(N) rises
        linearly from g_dry at the dry minimum to g_wet at the wet minimum and is
        clipped outside.
    """

    g_dry: float = 0.0
    g_wet: float = 1.0e-9
    form: str = "two-level"

    def __post_init__(self) -> None:
        if self.form not in ("two-level", "linear"):
            raise ValueError(f"unknown conductance model '{self.form}' (two-level or linear)")
        if self.g_dry < 0 or self.g_wet < 0:
            raise ValueError("conductances must be non-negative (S)")

    def on_grid(self, grid: np.ndarray, n_dry: float, n_threshold: float, n_wet: float) -> np.ndarray:
        """G(N) on a grid (S).

        Parameters
        ----------
        grid : ndarray
            Grid (molecules).
        n_dry, n_threshold, n_wet : float
            Dry minimum, wet threshold (the barrier top) and wet minimum (molecules).

        Returns
        -------
        ndarray
            Conductance (S).
        """
        grid = np.asarray(grid, dtype=float)
        if self.form == "two-level":
            return np.where(grid > n_threshold, self.g_wet, self.g_dry)
        fraction = np.clip((grid - n_dry) / (n_wet - n_dry), 0.0, 1.0)
        return self.g_dry + (self.g_wet - self.g_dry) * fraction

    def from_wet_probability(self, p_wet: np.ndarray) -> np.ndarray:
        """Mean conductance of the two-state pore, g_dry + (g_wet - g_dry) P_wet (S)."""
        return self.g_dry + (self.g_wet - self.g_dry) * np.asarray(p_wet)
