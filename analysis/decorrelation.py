"""Equilibration detection and decorrelation of windows (:mod:`analysis.timeseries`).

For each window the start of the equilibrated region t0 is the one that maximises
the number of effectively independent samples (``detect_equilibration``); the
statistical inefficiency g of the rest gives N_eff = (T - t0) / g and an
approximately independent subsample at spacing g
(``subsample_correlated_data``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.timeseries import detect_equilibration, statistical_inefficiency
from nanopore.windows import Window


@dataclass(frozen=True)
class DecorrelatedWindow:
    """A window split into its equilibration and production parts.

    Attributes
    ----------
    window : Window
        The input window.
    start : int
        Index of the first equilibrated sample.
    inefficiency : float
        Statistical inefficiency g = 1 + 2 tau of the equilibrated samples (in samples).
    equilibrated : ndarray
        N (molecules) from ``start`` on, every sample.
    independent : ndarray
        Approximately independent subsample of ``equilibrated``.
    """

    window: Window
    start: int
    inefficiency: float
    equilibrated: np.ndarray
    independent: np.ndarray

    @property
    def name(self) -> str:
        """The window's source (file or label)."""
        return self.window.source or f"window at N_k = {self.window.center:g}"

    @property
    def n_effective(self) -> float:
        """Effective number of independent samples, (T - t0) / g."""
        return self.equilibrated.size / self.inefficiency

    @property
    def equilibration_time(self) -> float:
        """Time discarded as equilibration (ps)."""
        if self.start == 0:
            return 0.0
        return float(self.window.time[self.start] - self.window.time[0])


def decorrelate(window: Window, detect: bool = True, candidates: int = 100) -> DecorrelatedWindow:
    """Detect equilibration and subsample one window.

    Parameters
    ----------
    window : Window
        The window.
    detect : bool, optional
        Discard an equilibration region; if False all samples count as equilibrated.
    candidates : int, optional
        Number of trial starting points of the equilibration search (every
        len/candidates samples), which keeps it linear in the length.

    Returns
    -------
    DecorrelatedWindow
    """
    n = np.asarray(window.n, dtype=float)
    if n.size < 4 or np.ptp(n) == 0:
        return DecorrelatedWindow(window, 0, float(max(n.size, 1)), n, n[:1])
    start = 0
    if detect:
        nskip = max(1, n.size // candidates)
        start = detect_equilibration(n, nskip=nskip)[0]
        start = min(start, n.size - 4)
    equilibrated = n[start:]
    g = statistical_inefficiency(equilibrated, fast=False)
    g = max(g, 1.0)
    indices = subsample_indices(equilibrated.size, g)
    return DecorrelatedWindow(window, start, g, equilibrated, equilibrated[np.asarray(indices)])


def subsample_indices(size: int, inefficiency: float) -> np.ndarray:
    """Indices round(n g), n = 0, 1, ..., below ``size``: ``pymbar.timeseries.subsample_correlated_data``.

    The same indices as pymbar's (which builds them in a Python loop, one
    iteration per kept sample), computed in one vector operation.

    Parameters
    ----------
    size : int
        Number of samples.
    inefficiency : float
        Statistical inefficiency g >= 1 (samples).

    Returns
    -------
    ndarray of int
    """
    if inefficiency < 1.0:
        raise ValueError(f"statistical inefficiency must be at least 1, got {inefficiency}")
    steps = np.arange(int(np.ceil(size / inefficiency)) + 1, dtype=float)
    indices = np.rint(steps * inefficiency).astype(np.int64)  # rounds half to even, as round()
    return indices[indices < size]


def decorrelate_all(windows: Sequence[Window], detect: bool = True,
                    progress: bool = False) -> list[DecorrelatedWindow]:
    """:func:`decorrelate` for every window.

    Parameters
    ----------
    windows : sequence of Window
    detect : bool, optional
        Discard equilibration regions.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    list of DecorrelatedWindow
    """
    items = windows
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(windows, desc="decorrelating windows", unit="window", leave=False)
    return [decorrelate(window, detect=detect) for window in items]


def too_few_samples(windows: Sequence[DecorrelatedWindow], minimum: float) -> list[str]:
    """Names of windows with fewer than ``minimum`` effective samples.

    Parameters
    ----------
    windows : sequence of DecorrelatedWindow
    minimum : float
        Smallest acceptable N_eff.

    Returns
    -------
    list of str
        ``"name (N_eff = ...)"`` for each offending window.
    """
    return [f"{w.name} (N_eff = {w.n_effective:.1f})" for w in windows if w.n_effective < minimum]
