"""Matching latents across coders, and recovery of known features.

Two coders trained with different seeds are aligned by the Hungarian
algorithm on the cosine similarities of their decoder rows, and separately on
those of their encoder rows (Paulo & Belrose, arXiv:2501.16615). A latent is
*shared* when its matched cosine is above a threshold (0.7 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from interp.coders.sparse_coder import SparseCoder

DEFAULT_THRESHOLD = 0.7


@dataclass(frozen=True)
class Matching:
    """A one-to-one assignment between the rows of two direction matrices.

    Attributes
    ----------
    rows_a, rows_b : numpy.ndarray of int
        Matched pairs ``(rows_a[i], rows_b[i])``, sorted by ``rows_a``; as
        many pairs as the smaller matrix has rows.
    cosines : numpy.ndarray of float
        Cosine similarity of each matched pair.
    """

    rows_a: np.ndarray
    rows_b: np.ndarray
    cosines: np.ndarray

    def partner_of_a(self, n_a: int) -> np.ndarray:
        """Matched row of B for every row of A (-1 where unmatched)."""
        partner = np.full(n_a, -1, dtype=np.int64)
        partner[self.rows_a] = self.rows_b
        return partner


def unit_rows(matrix: Tensor) -> Tensor:
    """Rows scaled to unit norm (zero rows stay zero), as float64 on the CPU."""
    m = matrix.detach().to(device="cpu", dtype=torch.float64)
    norms = m.norm(dim=1, keepdim=True)
    return m / torch.where(norms > 0, norms, torch.ones_like(norms))


def cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarities ``S = A_hat B_hat^T`` between rows of ``a`` and ``b``.

    Parameters
    ----------
    a : Tensor, shape (m, d)
    b : Tensor, shape (n, d)

    Returns
    -------
    Tensor, shape (m, n), float64
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"need two matrices with the same row width, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return unit_rows(a) @ unit_rows(b).T


def match_directions(a: Tensor, b: Tensor) -> Matching:
    """Hungarian assignment maximising the total cosine similarity.

    Parameters
    ----------
    a : Tensor, shape (m, d)
        Directions of the first coder (one per row).
    b : Tensor, shape (n, d)
        Directions of the second coder.

    Returns
    -------
    Matching
    """
    similarity = cosine_matrix(a, b).numpy()
    rows_a, rows_b = linear_sum_assignment(similarity, maximize=True)
    return Matching(rows_a=rows_a, rows_b=rows_b, cosines=similarity[rows_a, rows_b])


@dataclass(frozen=True)
class SharedFractions:
    """How many latents two coders share.

    Attributes
    ----------
    decoder : float
        Fraction of matched pairs whose decoder cosine exceeds the threshold.
    encoder : float
        The same for encoder rows (their own Hungarian matching).
    both : float
        Fraction of latents of A matched to the same latent of B by both
        matchings, with both cosines above the threshold.
    threshold : float
        The cosine threshold.
    n_pairs : int
        Number of matched pairs (the smaller number of latents), the
        denominator of the fractions.
    decoder_matching, encoder_matching : Matching
        The underlying assignments.
    """

    decoder: float
    encoder: float
    both: float
    threshold: float
    n_pairs: int
    decoder_matching: Matching
    encoder_matching: Matching


def shared_fractions(
    coder_a: SparseCoder, coder_b: SparseCoder, threshold: float = DEFAULT_THRESHOLD
) -> SharedFractions:
    """Shared fractions of latents between two coders.

    Parameters
    ----------
    coder_a, coder_b : SparseCoder
        Coders on the same hook point (same ``d_in``); their numbers of
        latents may differ.
    threshold : float
        Cosine above which a matched latent counts as shared.

    Returns
    -------
    SharedFractions
    """
    if coder_a.d_in != coder_b.d_in:
        raise ValueError(f"coders have different input widths ({coder_a.d_in} and {coder_b.d_in})")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    dec = match_directions(coder_a.W_dec, coder_b.W_dec)
    enc = match_directions(coder_a.encoder.weight, coder_b.encoder.weight)
    n_pairs = len(dec.rows_a)
    n_a = coder_a.num_latents

    dec_ok = np.zeros(n_a, dtype=bool)
    dec_ok[dec.rows_a] = dec.cosines > threshold
    enc_ok = np.zeros(n_a, dtype=bool)
    enc_ok[enc.rows_a] = enc.cosines > threshold
    same = dec.partner_of_a(n_a) == enc.partner_of_a(n_a)
    return SharedFractions(
        decoder=float(dec_ok.sum() / n_pairs),
        encoder=float(enc_ok.sum() / n_pairs),
        both=float((dec_ok & enc_ok & same).sum() / n_pairs),
        threshold=threshold,
        n_pairs=n_pairs,
        decoder_matching=dec,
        encoder_matching=enc,
    )


def best_cosines(true_features: Tensor, directions: Tensor) -> Tensor:
    """For each true feature, its highest cosine with any learned direction.

    Parameters
    ----------
    true_features : Tensor, shape (F, d)
    directions : Tensor, shape (M, d)

    Returns
    -------
    Tensor, shape (F,), float64
    """
    return cosine_matrix(true_features, directions).max(dim=1).values


def recovered_fraction(
    true_features: Tensor, coder: SparseCoder, threshold: float = DEFAULT_THRESHOLD
) -> float:
    """Fraction of true features some decoder row points along (cosine > threshold).

    Parameters
    ----------
    true_features : Tensor, shape (F, d)
        Ground-truth feature directions.
    coder : SparseCoder
        An autoencoder trained on data generated from them.
    threshold : float
        Cosine threshold.

    Returns
    -------
    float
    """
    return float((best_cosines(true_features, coder.W_dec) > threshold).double().mean())
