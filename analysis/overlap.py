"""Overlap between windows: the MBAR overlap matrix, on binned samples.

O_ij = sum_n W_ni W_nj N_j with W_ni = exp(f_i - u_i(N_n)) / sum_k N_k exp(f_k - u_k(N_n)),
the expected fraction of window i's samples that would be assigned to window j.
Rows sum to one; O_ii = 1 means window i is isolated. Samples are binned finely
(a twentieth of the narrowest window's spread) so that the matrix costs
windows^2 x bins instead of windows x samples. Neighbouring windows with
O_{k,k+1} below about 0.03 are poorly connected (pymbar's rule of thumb).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.special import logsumexp

from analysis.data import UmbrellaData
from analysis.estimator import bin_centers
from analysis.wham import solve_wham


def overlap_matrix(data: UmbrellaData, resolution: float = 0.05) -> np.ndarray:
    """Overlap matrix of the windows.

    Parameters
    ----------
    data : UmbrellaData
    resolution : float, optional
        Bin width as a fraction of the smallest window standard deviation.

    Returns
    -------
    ndarray, shape (n_windows, n_windows)
        O_ij (dimensionless), rows summing to one.
    """
    x, _ = data.concatenated()
    spread = min(float(np.std(s)) for s in data.samples)
    width = resolution * spread if spread > 0 else 1e-3
    n_bins = int(min(20000, max(10, np.ceil((x.max() - x.min()) / width))))
    edges = np.linspace(x.min(), x.max() + 1e-9, n_bins + 1)
    counts = data.histogram(edges)
    bias = data.reduced_bias(bin_centers(edges))
    f, _, _ = solve_wham(counts, bias)
    total = counts.sum(axis=0)
    keep = total > 0
    log_n = np.log(data.counts)
    log_w = f[:, None] - bias[:, keep]  # (K, B)
    log_w -= logsumexp(log_n[:, None] + log_w, axis=0)  # W_bi
    weights = np.exp(log_w)
    matrix = (weights * total[keep]) @ weights.T * data.counts[None, :]
    return matrix


def poor_neighbours(data: UmbrellaData, matrix: np.ndarray, threshold: float = 0.03) -> list[str]:
    """Neighbouring windows (by centre) whose overlap is below ``threshold``.

    Parameters
    ----------
    data : UmbrellaData
    matrix : ndarray
        Overlap matrix from :func:`overlap_matrix`.
    threshold : float, optional
        Smallest acceptable O_{k,k+1}.

    Returns
    -------
    list of str
        ``"A and B (overlap 0.001)"`` for each poorly connected pair.
    """
    order = np.argsort(data.centers, kind="stable")
    found = []
    for a, b in pairwise(order):
        value = 0.5 * (matrix[a, b] + matrix[b, a])
        if value < threshold:
            found.append(f"{data.names[a]} and {data.names[b]} (overlap {value:.2g})")
    return found
