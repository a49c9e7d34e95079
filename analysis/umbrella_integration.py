"""Umbrella integration (Kästner and Thiel 2005).

Each window's biased distribution is approximated by a Gaussian of its sample
mean m_k and variance s_k^2. Window k then gives the mean force of the unbiased
profile (kT per molecule)

    dOmega_k/dN = (N - m_k) / s_k^2 - beta kappa_k (N - N_k),

which at N = m_k is the familiar beta kappa_k (N_k - m_k). The windows' forces are
averaged with weights N_k p_k(N) / sum_j N_j p_j(N) (p_k the Gaussian) and the
mean force is integrated along N with the trapezoidal rule on a grid finer than
the output grid. No histogram enters, so no bin is ever empty.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.integrate import cumulative_trapezoid
from scipy.special import softmax

from analysis.data import UmbrellaData
from analysis.errors import AnalysisError
from analysis.estimator import FreeEnergyEstimate, bin_centers, check_edges


class UmbrellaIntegration:
    """Umbrella-integration estimator.

    Parameters
    ----------
    edges : ndarray
        Bin edges of the output grid (molecules); the profile is given at the centres.
    oversample : int, optional
        Integration points per output bin.
    """

    name = "ui"

    def __init__(self, edges: np.ndarray, oversample: int = 8):
        self.edges = check_edges(edges)
        self.oversample = int(oversample)

    def mean_force(self, data: UmbrellaData, x: np.ndarray) -> np.ndarray:
        """Weighted mean force dOmega/dN (kT/molecule) at ``x`` (molecules)."""
        means = np.array([s.mean() for s in data.samples])
        variances = np.array([s.var(ddof=1) if s.size > 1 else 0.0 for s in data.samples])
        bad = [name for name, v in zip(data.names, variances) if not v > 0]
        if bad:
            raise AnalysisError(f"windows without spread in N cannot enter umbrella integration: "
                                f"{', '.join(bad)}; run them longer or drop them")
        x = np.asarray(x, dtype=float)
        dx = x[None, :] - means[:, None]
        log_weight = (np.log(data.counts)[:, None] - 0.5 * dx**2 / variances[:, None]
                      - 0.5 * np.log(variances)[:, None])
        weight = softmax(log_weight, axis=0)
        force = dx / variances[:, None] - data.kappa[:, None] * (x[None, :] - data.centers[:, None])
        return np.sum(weight * force, axis=0)

    def fit(self, data: UmbrellaData) -> FreeEnergyEstimate:
        """Estimate Omega(N) by integrating the mean force.

        Parameters
        ----------
        data : UmbrellaData

        Returns
        -------
        FreeEnergyEstimate
            Free energy (kT) at the bin centres, zero at the first.
        """
        centers = bin_centers(self.edges)
        fine = np.unique(np.concatenate([
            np.linspace(a, b, self.oversample + 1) for a, b in pairwise(centers)
        ]))
        force = self.mean_force(data, fine)
        integral = cumulative_trapezoid(force, fine, initial=0.0)
        values = np.interp(centers, fine, integral)
        return FreeEnergyEstimate(centers, values, self.name, None,
                                  {"mean_force": np.interp(centers, fine, force)})
