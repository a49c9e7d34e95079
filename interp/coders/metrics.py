"""Reconstruction and sparsity metrics of sparse coders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from interp.coders.sparse_coder import SparseCoder


def total_variance(y: Tensor) -> Tensor:
    """Sum of squared deviations of ``y`` from its mean over rows.

    Parameters
    ----------
    y : Tensor, shape (n, d)
        Targets, one row per token.

    Returns
    -------
    Tensor
        Scalar ``sum_ij (y_ij - mean_i y_ij)^2``.
    """
    return (y - y.mean(dim=0)).pow(2).sum()


def fvu(y: Tensor, y_hat: Tensor, variance: Tensor | None = None) -> Tensor:
    """Fraction of variance unexplained.

    ``FVU = sum (y - y_hat)^2 / sum (y - mean y)^2`` with the mean taken over
    the rows (tokens) of ``y``.

    Parameters
    ----------
    y : Tensor, shape (n, d)
        Targets.
    y_hat : Tensor, shape (n, d)
        Predictions.
    variance : Tensor, optional
        Denominator to use instead of ``total_variance(y)`` (for example the
        variance of a whole batch when ``y`` is one chunk of it).

    Returns
    -------
    Tensor
        Scalar FVU; 0 is a perfect reconstruction, 1 is as good as the mean.
    """
    if y.shape != y_hat.shape:
        raise ValueError(f"shapes differ: y {tuple(y.shape)} vs y_hat {tuple(y_hat.shape)}")
    if variance is None:
        variance = total_variance(y)
    return (y - y_hat).pow(2).sum() / variance.clamp_min(torch.finfo(y.dtype).tiny)


@dataclass(frozen=True)
class Evaluation:
    """Whole-dataset metrics of one coder.

    Attributes
    ----------
    fvu : float
        Fraction of variance unexplained over all rows (the denominator is the
        variance about the dataset mean, not per batch).
    l0 : float
        Mean number of active latents per row.
    dead_fraction : float
        Fraction of latents that never fire on the data.
    n_rows : int
        Number of rows evaluated.
    """

    fvu: float
    l0: float
    dead_fraction: float
    n_rows: int


@torch.no_grad()
def evaluate(
    coder: SparseCoder, x: Tensor, y: Tensor | None = None, *, batch_size: int = 4096
) -> Evaluation:
    """Evaluate a coder on a dataset in batches.

    Parameters
    ----------
    coder : SparseCoder
        The coder to evaluate.
    x : Tensor, shape (n, d_in)
        Inputs.
    y : Tensor, shape (n, d_in), optional
        Targets; defaults to ``x`` (autoencoding). Required for transcoders.
    batch_size : int
        Rows per forward pass.

    Returns
    -------
    Evaluation
    """
    if y is None:
        y = x
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    device, dtype = coder.device, coder.dtype
    mean = y.to(device=device, dtype=torch.float64).mean(dim=0)
    sq_err = torch.zeros((), dtype=torch.float64, device=device)
    sq_dev = torch.zeros((), dtype=torch.float64, device=device)
    active = torch.zeros((), dtype=torch.float64, device=device)
    fired = torch.zeros(coder.num_latents, dtype=torch.bool, device=device)
    for start in range(0, n, batch_size):
        xb = x[start : start + batch_size].to(device=device, dtype=dtype)
        yb = y[start : start + batch_size].to(device=device, dtype=dtype)
        out = coder(xb, yb)
        sq_err += (yb - out.output).double().pow(2).sum()
        sq_dev += (yb.double() - mean).pow(2).sum()
        active += out.l0.double() * xb.shape[0]
        fired |= out.latents.fired(coder.num_latents)
    return Evaluation(
        fvu=float(sq_err / sq_dev.clamp_min(torch.finfo(torch.float64).tiny)),
        l0=float(active / n),
        dead_fraction=float((~fired).double().mean()),
        n_rows=n,
    )
