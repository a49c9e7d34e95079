"""The umbrella data set shared by every estimator.

One voltage's windows reduced to what the estimators need: the samples of N in
each window, the restraint centres N_k and the reduced spring constants
beta kappa, so that the reduced bias of window k at N is

    u_k(N) = 0.5 beta kappa_k (N - N_k)^2        (kT).

The field term is the same in every window of one voltage and stays out of u_k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from analysis.decorrelation import DecorrelatedWindow
from analysis.errors import AnalysisError
from nanopore.units import beta_per_kj_mol
from nanopore.windows import Window


@dataclass(frozen=True)
class UmbrellaData:
    """Samples and restraints of the windows of one voltage.

    Attributes
    ----------
    samples : list of ndarray
        N (molecules) of each window.
    centers : ndarray, shape (n_windows,)
        Restraint centres N_k (molecules).
    kappa : ndarray, shape (n_windows,)
        Reduced spring constants beta kappa_k (1/molecule^2).
    temperature : float
        Temperature (K).
    names : list of str
        Window names (files or labels), for messages.
    voltage : float
        Voltage (V).
    """

    samples: list[np.ndarray]
    centers: np.ndarray
    kappa: np.ndarray
    temperature: float
    names: list[str] = field(default_factory=list)
    voltage: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", [np.asarray(s, dtype=float) for s in self.samples])
        object.__setattr__(self, "centers", np.asarray(self.centers, dtype=float))
        object.__setattr__(self, "kappa", np.asarray(self.kappa, dtype=float))
        if not self.names:
            object.__setattr__(self, "names", [f"window {k}" for k in range(len(self.samples))])
        if not (len(self.samples) == self.centers.size == self.kappa.size == len(self.names)):
            raise AnalysisError("samples, centres, spring constants and names differ in length")
        for name, values in zip(self.names, self.samples):
            if values.size == 0:
                raise AnalysisError(f"{name}: no samples left; run the window longer or drop it")

    @classmethod
    def from_windows(cls, windows: Sequence[Window | DecorrelatedWindow],
                     which: str = "equilibrated") -> UmbrellaData:
        """Build the data set from windows of one voltage and temperature.

        Parameters
        ----------
        windows : sequence of Window or DecorrelatedWindow
            The windows. Plain windows contribute all their samples.
        which : {"equilibrated", "independent"}
            For decorrelated windows: every equilibrated sample, or the
            independent subsample.

        Returns
        -------
        UmbrellaData
        """
        if which not in ("equilibrated", "independent"):
            raise ValueError(f"which must be 'equilibrated' or 'independent', not {which!r}")
        samples, plain = [], []
        for item in windows:
            if isinstance(item, DecorrelatedWindow):
                samples.append(getattr(item, which))
                plain.append(item.window)
            else:
                samples.append(item.n)
                plain.append(item)
        if not plain:
            raise AnalysisError("no windows")
        temperature = plain[0].temperature
        beta = beta_per_kj_mol(temperature)
        return cls(
            samples=samples,
            centers=np.array([w.center for w in plain]),
            kappa=np.array([w.spring_constant * beta for w in plain]),
            temperature=temperature,
            names=[w.source or f"window at N_k = {w.center:g}" for w in plain],
            voltage=plain[0].voltage,
        )

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return len(self.samples)

    @property
    def counts(self) -> np.ndarray:
        """Samples per window."""
        return np.array([s.size for s in self.samples])

    def concatenated(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples in one array and the window index of each."""
        x = np.concatenate(self.samples)
        owner = np.repeat(np.arange(self.n_windows), self.counts)
        return x, owner

    def reduced_bias(self, x: np.ndarray) -> np.ndarray:
        """Reduced bias u_k(N) = 0.5 beta kappa_k (N - N_k)^2 (kT).

        Parameters
        ----------
        x : ndarray, shape (m,)
            N (molecules).

        Returns
        -------
        ndarray, shape (n_windows, m)
        """
        x = np.asarray(x, dtype=float)
        return 0.5 * self.kappa[:, None] * (x[None, :] - self.centers[:, None]) ** 2

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """Counts of each window's samples in bins.

        Parameters
        ----------
        edges : ndarray, shape (n_bins + 1,)
            Increasing bin edges (molecules); samples outside are not counted.

        Returns
        -------
        ndarray, shape (n_windows, n_bins)
        """
        edges = np.asarray(edges, dtype=float)
        n_bins = edges.size - 1
        x, owner = self.concatenated()
        index = np.searchsorted(edges, x, side="right") - 1
        index[x == edges[-1]] = n_bins - 1
        inside = (index >= 0) & (index < n_bins)
        flat = owner[inside] * n_bins + index[inside]
        return np.bincount(flat, minlength=self.n_windows * n_bins).reshape(self.n_windows, n_bins)

    def resample(self, rng: np.random.Generator) -> UmbrellaData:
        """Bootstrap replicate: each window's samples drawn with replacement.

        Parameters
        ----------
        rng : numpy.random.Generator
            Random source.

        Returns
        -------
        UmbrellaData
        """
        drawn = [s[rng.integers(0, s.size, size=s.size)] for s in self.samples]
        return replace(self, samples=drawn)

    def halves(self) -> tuple[UmbrellaData, UmbrellaData]:
        """The first and second halves of every window's samples (in time order)."""
        first = [s[: s.size // 2] for s in self.samples]
        second = [s[s.size // 2:] for s in self.samples]
        if min(s.size for s in first) == 0:
            raise AnalysisError("a window has fewer than two samples; cannot split it in halves")
        return replace(self, samples=first), replace(self, samples=second)
