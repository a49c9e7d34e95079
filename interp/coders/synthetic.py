"""Synthetic activations with known ground-truth features.

An activation is a sparse non-negative combination of fixed unit feature
directions, ``x = sum_i c_i f_i (+ noise)``. Feature ``i`` fires with
probability ``p_i`` (uniform or power-law in ``i``); firing can be correlated
within groups of features through a Gaussian copula, which keeps every
``p_i`` unchanged. Magnitudes of active features are uniform in a range.

:func:`make_transcoder_dataset` builds input/output pairs of a known MLP with
an affine part, for testing transcoders and skip transcoders.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp.seeding import SeedLike, make_generator


@dataclass(frozen=True)
class SyntheticDataset:
    """Activations and the ground truth that generated them.

    Attributes
    ----------
    x : Tensor, shape (n, d)
        Activations.
    features : Tensor, shape (F, d)
        Unit-norm true feature directions.
    codes : Tensor, shape (n, F)
        Non-negative coefficient of each feature in each row (mostly zero).
    probabilities : Tensor, shape (F,)
        Firing probability of each feature.
    """

    x: Tensor
    features: Tensor
    codes: Tensor
    probabilities: Tensor

    @property
    def mean_active(self) -> float:
        """Observed mean number of active features per row."""
        return float((self.codes > 0).sum(dim=1).float().mean())


def random_directions(n: int, d: int, seed: SeedLike = 0) -> Tensor:
    """Random unit vectors, uniform on the sphere.

    Parameters
    ----------
    n : int
        Number of directions.
    d : int
        Dimension.
    seed : int, torch.Generator or None
        Random seed.

    Returns
    -------
    Tensor, shape (n, d)
    """
    g = torch.randn(n, d, generator=make_generator(seed))
    return g / g.norm(dim=1, keepdim=True)


def firing_probabilities(n_features: int, mean_active: float, exponent: float = 0.0) -> Tensor:
    """Firing probabilities ``p_i`` proportional to ``(i + 1)^-exponent``.

    Scaled so that ``sum_i p_i = mean_active`` (the expected number of active
    features per row), with every ``p_i <= 1``.

    Parameters
    ----------
    n_features : int
        Number of features.
    mean_active : float
        Expected active features per row, ``0 < mean_active <= n_features``.
    exponent : float
        0 gives equal probabilities; larger values a heavier head.

    Returns
    -------
    Tensor, shape (n_features,)
    """
    if not 0 < mean_active <= n_features:
        raise ValueError(f"mean_active must be in (0, {n_features}], got {mean_active}")
    weights = torch.arange(1, n_features + 1, dtype=torch.float64).pow(-exponent)
    p = torch.zeros(n_features, dtype=torch.float64)
    free = torch.ones(n_features, dtype=torch.bool)
    # Water-filling: cap at 1 and share the remaining mass among the rest.
    for _ in range(n_features):
        remaining = mean_active - float(p[~free].sum())
        p[free] = remaining * weights[free] / weights[free].sum()
        over = free & (p > 1.0)
        if not over.any():
            break
        p[over] = 1.0
        free &= ~over
    return p.to(torch.float32)


def sample_codes(
    n_samples: int,
    probabilities: Tensor,
    *,
    correlation: float = 0.0,
    n_groups: int = 8,
    magnitude: tuple[float, float] = (0.5, 1.5),
    seed: SeedLike = 0,
) -> Tensor:
    """Sample sparse non-negative feature coefficients.

    Feature ``i`` fires when ``sqrt(1 - rho) e_i + sqrt(rho) h_g(i)`` exceeds
    the ``1 - p_i`` quantile of a standard normal, where ``e`` and ``h`` are
    independent standard normals and ``g(i) = i mod n_groups``. Features of a
    group fire together more often for ``rho > 0``; marginal probabilities
    stay ``p_i``.

    Parameters
    ----------
    n_samples : int
        Rows.
    probabilities : Tensor, shape (F,)
        Firing probabilities.
    correlation : float
        Copula correlation ``rho`` in [0, 1).
    n_groups : int
        Number of correlated groups.
    magnitude : tuple of float
        Active coefficients are uniform in ``[low, high)``.
    seed : int, torch.Generator or None
        Random seed.

    Returns
    -------
    Tensor, shape (n_samples, F)
    """
    if not 0.0 <= correlation < 1.0:
        raise ValueError(f"correlation must be in [0, 1), got {correlation}")
    low, high = magnitude
    if not 0 <= low <= high:
        raise ValueError(f"need 0 <= low <= high for magnitudes, got {magnitude}")
    generator = make_generator(seed)
    n_features = probabilities.numel()
    latent = torch.randn(n_samples, n_features, generator=generator)
    if correlation > 0:
        shared = torch.randn(n_samples, n_groups, generator=generator)
        groups = torch.arange(n_features) % n_groups
        latent = (1 - correlation) ** 0.5 * latent + correlation**0.5 * shared[:, groups]
    thresholds = torch.special.ndtri(1 - probabilities.clamp(1e-12, 1.0).double()).float()
    active = latent > thresholds
    values = torch.empty(n_samples, n_features).uniform_(low, high, generator=generator)
    return values * active


def make_sparse_dataset(
    n_samples: int,
    d: int,
    n_features: int,
    mean_active: float,
    *,
    frequency_exponent: float = 0.0,
    correlation: float = 0.0,
    n_groups: int = 8,
    magnitude: tuple[float, float] = (0.5, 1.5),
    noise_std: float = 0.0,
    seed: SeedLike = 0,
) -> SyntheticDataset:
    """Activations built from sparse combinations of random unit features.

    Parameters
    ----------
    n_samples : int
        Rows.
    d : int
        Activation width.
    n_features : int
        Number of true features (may exceed ``d``: superposition).
    mean_active : float
        Expected active features per row.
    frequency_exponent : float
        Power-law exponent of the firing probabilities (0: all equal).
    correlation : float
        Within-group firing correlation (copula ``rho``).
    n_groups : int
        Number of correlated groups.
    magnitude : tuple of float
        Range of active coefficients.
    noise_std : float
        Standard deviation of isotropic Gaussian noise added to ``x``.
    seed : int, torch.Generator or None
        Random seed (one generator drives features, codes and noise).

    Returns
    -------
    SyntheticDataset
    """
    generator = make_generator(seed)
    features = random_directions(n_features, d, generator)
    probabilities = firing_probabilities(n_features, mean_active, frequency_exponent)
    codes = sample_codes(
        n_samples,
        probabilities,
        correlation=correlation,
        n_groups=n_groups,
        magnitude=magnitude,
        seed=generator,
    )
    x = codes @ features
    if noise_std > 0:
        x = x + noise_std * torch.randn(n_samples, d, generator=generator)
    return SyntheticDataset(x=x, features=features, codes=codes, probabilities=probabilities)


@dataclass(frozen=True)
class AffineMLP:
    """A fixed MLP with an affine part: ``y = A x + b + W_out^T relu(W_in x + b_in)``.

    Attributes
    ----------
    affine : Tensor, shape (d, d)
        ``A``.
    affine_bias : Tensor, shape (d,)
        ``b``.
    w_in : Tensor, shape (H, d)
        Hidden-unit input directions.
    b_in : Tensor, shape (H,)
        Hidden-unit biases (negative thresholds).
    w_out : Tensor, shape (H, d)
        Hidden-unit output directions.
    """

    affine: Tensor
    affine_bias: Tensor
    w_in: Tensor
    b_in: Tensor
    w_out: Tensor

    def hidden(self, x: Tensor) -> Tensor:
        """Hidden activations ``relu(W_in x + b_in)``, shape (n, H)."""
        return torch.relu(x @ self.w_in.T + self.b_in)

    def __call__(self, x: Tensor) -> Tensor:
        """MLP output for inputs ``x`` of shape (n, d)."""
        return x @ self.affine.T + self.affine_bias + self.hidden(x) @ self.w_out


@dataclass(frozen=True)
class TranscoderDataset:
    """Input/output pairs of a known :class:`AffineMLP`.

    Attributes
    ----------
    x : Tensor, shape (n, d)
        MLP inputs: sparse features plus a dense Gaussian part.
    y : Tensor, shape (n, d)
        MLP outputs.
    mlp : AffineMLP
        The generating MLP; its hidden units read the sparse features.
    """

    x: Tensor
    y: Tensor
    mlp: AffineMLP


def make_transcoder_dataset(
    n_samples: int,
    d: int,
    n_features: int,
    mean_active: float,
    *,
    dense_std: float = 0.3,
    affine_scale: float = 1.0,
    threshold: float = 0.6,
    seed: SeedLike = 0,
) -> TranscoderDataset:
    """Data from an MLP whose nonlinear part is sparse and whose affine part is dense.

    Inputs are ``x = sum_i c_i f_i + dense_std * g`` with sparse codes ``c``
    and a dense Gaussian ``g``. Hidden unit ``i`` reads feature ``f_i``
    (``W_in = F``, ``b_in = -threshold``) and writes a random unit direction;
    the affine part ``A`` is Gaussian with entries of variance
    ``affine_scale^2 / d``. A transcoder must express ``A g`` through its
    sparse latents, which it cannot do well; a skip transcoder can put ``A``
    into ``W_skip``.

    Parameters
    ----------
    n_samples : int
        Rows.
    d : int
        Width of inputs and outputs.
    n_features : int
        Sparse input features = MLP hidden units.
    mean_active : float
        Expected active features per row.
    dense_std : float
        Standard deviation of the dense part of the inputs.
    affine_scale : float
        Scale of ``A``.
    threshold : float
        Hidden-unit threshold (``b_in = -threshold``).
    seed : int, torch.Generator or None
        Random seed.

    Returns
    -------
    TranscoderDataset
    """
    generator = make_generator(seed)
    sparse = make_sparse_dataset(n_samples, d, n_features, mean_active, seed=generator)
    x = sparse.x + dense_std * torch.randn(n_samples, d, generator=generator)
    mlp = AffineMLP(
        affine=affine_scale * torch.randn(d, d, generator=generator) / d**0.5,
        affine_bias=0.1 * torch.randn(d, generator=generator),
        w_in=sparse.features,
        b_in=torch.full((n_features,), -threshold),
        w_out=random_directions(n_features, d, generator),
    )
    return TranscoderDataset(x=x, y=mlp(x), mlp=mlp)
