"""Sparse coders: TopK and ReLU autoencoders, transcoders and skip transcoders.

All coders share one parameterisation, named as in the reference on-disk
layout so that published weights load directly:

``encoder.weight`` (M, d), ``encoder.bias`` (M,), ``W_dec`` (M, d),
``b_dec`` (d,), for skip coders ``W_skip`` (d, d) and, for JumpReLU coders,
``threshold`` (M,).

Forward pass, for an input ``x`` and a target ``y`` (``y = x`` for an
autoencoder)::

    x' = x - b_dec            (autoencoders only)
    pre = relu(W_enc x' + b_enc)
    z   = activation(pre)     (TopK: keep the k largest; GroupMax: the largest of
                               each of k groups; ReLU: keep all; JumpReLU: keep
                               those above a per-latent threshold)
    y_hat = W_dec^T z + b_dec (+ W_skip x for skip coders)

Each activation is a small subclass of :class:`SparseCoder`;
:func:`build_coder` picks one from :attr:`CoderConfig.activation`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from interp.coders.config import CoderConfig
from interp.coders.metrics import fvu as fraction_of_variance_unexplained
from interp.coders.metrics import total_variance as variance_of
from interp.seeding import SeedLike, make_generator


class EncoderOutput(NamedTuple):
    """Latent activations of a batch.

    Attributes
    ----------
    acts : Tensor
        Values of the kept latents: shape (n, k) for TopK coders, (n, M)
        (dense, mostly zeros) for ReLU coders.
    indices : Tensor or None
        Latent indices of ``acts``, shape (n, k), for TopK coders; ``None``
        when ``acts`` is dense.
    pre_acts : Tensor, shape (n, M)
        ReLU pre-activations of every latent (used by AuxK).
    """

    acts: Tensor
    indices: Tensor | None
    pre_acts: Tensor

    def dense(self, num_latents: int) -> Tensor:
        """Latent activations as a dense (n, M) tensor."""
        if self.indices is None:
            return self.acts
        out = self.acts.new_zeros(self.acts.shape[0], num_latents)
        return out.scatter_(1, self.indices, self.acts)

    def active_count(self) -> Tensor:
        """Number of non-zero latents in each row, shape (n,)."""
        return (self.acts > 0).sum(dim=-1)

    def fired(self, num_latents: int) -> Tensor:
        """Boolean mask, shape (M,), of latents non-zero in at least one row."""
        mask = torch.zeros(num_latents, dtype=torch.bool, device=self.acts.device)
        if self.indices is None:
            return mask | (self.acts > 0).any(dim=0)
        return mask.index_fill_(0, self.indices[self.acts > 0], True)


class ForwardOutput(NamedTuple):
    """Result of :meth:`SparseCoder.forward`.

    Attributes
    ----------
    output : Tensor, shape (n, d)
        Reconstruction (autoencoder) or prediction (transcoder) ``y_hat``.
    latents : EncoderOutput
        Latent activations.
    fvu : Tensor
        Fraction of variance unexplained of ``y`` by ``y_hat`` (the training
        loss of the reference).
    l0 : Tensor
        Mean number of active latents per row.
    auxk_loss : Tensor
        AuxK dead-latent loss; zero unless a dead mask with dead latents was
        given.
    l1_loss : Tensor
        Mean over rows of ``sum_j z_j ||W_dec[j]||``, the sparsity penalty of
        ReLU coders (computed for every coder; the trainer weights it).
    multi_topk_fvu : Tensor
        FVU of the decoding of the ``4 k`` largest pre-activations (with
        ``b_dec``, without the skip term) when ``cfg.multi_topk``; else zero.
    """

    output: Tensor
    latents: EncoderOutput
    fvu: Tensor
    l0: Tensor
    auxk_loss: Tensor
    l1_loss: Tensor
    multi_topk_fvu: Tensor


class SparseCoder(nn.Module):
    """Base class of sparse coders; subclasses choose the activation.

    Parameters
    ----------
    d_in : int
        Width of the input (and of the output).
    cfg : CoderConfig
        Architecture.
    seed : int, torch.Generator or None
        Seed of the weight initialisation.
    device : str or torch.device, optional
        Device of the parameters.
    dtype : torch.dtype, optional
        Dtype of the parameters (default: torch's default dtype).

    Notes
    -----
    Initialisation: encoder weights uniform in ``±1/sqrt(d_in)``, encoder bias
    zero; an autoencoder's decoder starts as a copy of the encoder (unit rows
    when ``normalize_decoder``), a transcoder's decoder and every ``W_skip``
    start at zero. Call :meth:`initialize_from_data_` before training to set
    the biases from data.
    """

    def __init__(
        self,
        d_in: int,
        cfg: CoderConfig,
        *,
        seed: SeedLike = 0,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be >= 1, got {d_in}")
        self.cfg = cfg
        self.d_in = d_in
        self.num_latents = cfg.latents_for(d_in)
        factory = {"device": device, "dtype": dtype}
        self.encoder = nn.Linear(d_in, self.num_latents, **factory)
        self.W_dec = nn.Parameter(torch.zeros(self.num_latents, d_in, **factory))
        self.b_dec = nn.Parameter(torch.zeros(d_in, **factory))
        self.W_skip: nn.Parameter | None = (
            nn.Parameter(torch.zeros(d_in, d_in, **factory)) if cfg.skip_connection else None
        )
        self.reset_parameters(seed)

    # ------------------------------------------------------------------ setup
    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.encoder.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the parameters."""
        return self.encoder.weight.dtype

    @property
    def is_transcoder(self) -> bool:
        """Whether the coder predicts a separate target (no ``b_dec`` centring)."""
        return self.cfg.transcode

    @property
    def normalizes_decoder(self) -> bool:
        """Whether decoder rows are kept at unit norm (autoencoders only)."""
        return self.cfg.normalize_decoder and not self.cfg.transcode

    @torch.no_grad()
    def reset_parameters(self, seed: SeedLike = 0) -> None:
        """Initialise the weights (see the class notes).

        Parameters
        ----------
        seed : int, torch.Generator or None
            Seed of the encoder initialisation.
        """
        generator = make_generator(seed)
        bound = 1.0 / math.sqrt(self.d_in)
        weight = torch.empty(self.num_latents, self.d_in, dtype=torch.float32)
        weight.uniform_(-bound, bound, generator=generator)
        self.encoder.weight.copy_(weight)
        self.encoder.bias.zero_()
        self.b_dec.zero_()
        if self.W_skip is not None:
            self.W_skip.zero_()
        if self.is_transcoder:
            self.W_dec.zero_()
        else:
            self.W_dec.copy_(self.encoder.weight)
            if self.normalizes_decoder:
                self.normalize_decoder_()

    @torch.no_grad()
    def initialize_from_data_(self, x: Tensor, y: Tensor | None = None) -> None:
        """Data-dependent initialisation of the biases (step 0 of training).

        Sets ``b_dec`` to the mean target; for transcoders also sets
        ``b_enc = -W_enc mean(x)`` so that the encoder sees centred inputs.

        Parameters
        ----------
        x : Tensor, shape (n, d_in)
            A sample of inputs.
        y : Tensor, shape (n, d_in), optional
            The matching targets (defaults to ``x``).
        """
        x_mean = x.mean(dim=0, dtype=torch.float64).to(device=self.device, dtype=self.dtype)
        y_mean = x_mean if y is None else y.mean(dim=0, dtype=torch.float64)
        self.b_dec.copy_(y_mean.to(device=self.device, dtype=self.dtype))
        if self.is_transcoder:
            self.encoder.bias.copy_(-(self.encoder.weight @ x_mean))

    # ---------------------------------------------------------- decoder norm
    def decoder_norms(self) -> Tensor:
        """Euclidean norm of each decoder row, shape (M,)."""
        return self.W_dec.norm(dim=1)

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Rescale every decoder row to unit norm (in place)."""
        eps = torch.finfo(self.W_dec.dtype).eps
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True) + eps)

    @torch.no_grad()
    def remove_parallel_gradient_(self) -> None:
        """Project each decoder row's gradient onto the row's orthogonal complement.

        With unit decoder rows, a gradient step then changes the direction of
        a row but (to first order) not its norm. Call after ``backward`` and
        before the optimiser step.
        """
        if self.W_dec.grad is None:
            return
        rows = self.W_dec / (self.W_dec.norm(dim=1, keepdim=True) + torch.finfo(self.dtype).eps)
        parallel = (self.W_dec.grad * rows).sum(dim=1, keepdim=True)
        self.W_dec.grad.sub_(parallel * rows)

    # ---------------------------------------------------------- computation
    def pre_activations(self, x: Tensor) -> Tensor:
        """ReLU pre-activations ``relu(W_enc x' + b_enc)``, shape (n, M)."""
        if not self.is_transcoder:
            x = x - self.b_dec
        return F.relu(self.encoder(x))

    def _activate(self, pre_acts: Tensor) -> EncoderOutput:
        raise NotImplementedError

    def encode(self, x: Tensor) -> EncoderOutput:
        """Latent activations of a batch of inputs.

        Parameters
        ----------
        x : Tensor, shape (n, d_in)
            Inputs.

        Returns
        -------
        EncoderOutput
        """
        return self._activate(self.pre_activations(x))

    def _decode_sparse(self, acts: Tensor, indices: Tensor) -> Tensor:
        return F.embedding_bag(
            indices, self.W_dec, per_sample_weights=acts.to(self.dtype), mode="sum"
        )

    def decode(self, latents: EncoderOutput, *, bias: bool = True) -> Tensor:
        """Decoder output ``W_dec^T z (+ b_dec)``, without the skip term.

        Parameters
        ----------
        latents : EncoderOutput
            Latent activations.
        bias : bool
            Add ``b_dec``.

        Returns
        -------
        Tensor, shape (n, d_in)
        """
        if latents.indices is None:
            out = latents.acts.to(self.dtype) @ self.W_dec
        else:
            out = self._decode_sparse(latents.acts, latents.indices)
        return out + self.b_dec if bias else out

    def auxk_loss(
        self,
        pre_acts: Tensor,
        residual: Tensor,
        dead_mask: Tensor,
        variance: Tensor,
        k_aux: int | None = None,
    ) -> Tensor:
        """AuxK loss: reconstruct the residual with the top dead latents.

        ``e_hat`` is the decoding of the ``k_aux`` largest pre-activations
        among dead latents, *without* ``b_dec`` (the residual has no bias to
        explain; the reference adds ``b_dec`` here, which counts it twice).
        The loss is ``scale * ||e_hat - e||^2 / variance`` with
        ``scale = min(n_dead / k_aux, 1)``.

        Parameters
        ----------
        pre_acts : Tensor, shape (n, M)
            Pre-activations of the batch.
        residual : Tensor, shape (n, d)
            ``y - y_hat``; treated as a constant.
        dead_mask : Tensor of bool, shape (M,)
            Which latents are dead.
        variance : Tensor
            Total variance of the batch targets.
        k_aux : int, optional
            Number of dead latents used; default ``d_in // 2`` (the reference
            heuristic).

        Returns
        -------
        Tensor
            Scalar loss; exactly zero when no latent is dead.
        """
        n_dead = int(dead_mask.sum())
        if n_dead == 0:
            return pre_acts.new_zeros(())
        k_aux = max(1, self.d_in // 2) if k_aux is None else k_aux
        scale = min(n_dead / k_aux, 1.0)
        k_aux = min(k_aux, n_dead)
        masked = pre_acts.masked_fill(~dead_mask[None, :], -math.inf)
        acts, indices = masked.topk(k_aux, dim=-1, sorted=False)
        e_hat = self._decode_sparse(acts, indices)
        sq = (e_hat - residual.detach()).pow(2).sum()
        return scale * sq / variance.clamp_min(torch.finfo(sq.dtype).tiny)

    def forward(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        dead_mask: Tensor | None = None,
        k_aux: int | None = None,
        variance: Tensor | None = None,
    ) -> ForwardOutput:
        """Encode, decode and compute the losses.

        Parameters
        ----------
        x : Tensor, shape (n, d_in)
            Inputs.
        y : Tensor, shape (n, d_in), optional
            Targets; defaults to ``x``. Required for transcoders.
        dead_mask : Tensor of bool, shape (M,), optional
            Dead latents for the AuxK loss; without it the AuxK loss is zero.
        k_aux : int, optional
            Number of dead latents in AuxK (default ``d_in // 2``).
        variance : Tensor, optional
            Denominator of FVU and AuxK (default: total variance of ``y``).

        Returns
        -------
        ForwardOutput
        """
        if y is None:
            if self.is_transcoder:
                raise ValueError("a transcoder needs a target y")
            y = x
        if x.shape[-1] != self.d_in or y.shape[-1] != self.d_in:
            raise ValueError(
                f"expected width {self.d_in}, got x {tuple(x.shape)} and y {tuple(y.shape)}"
            )
        latents = self.encode(x)
        output = self.decode(latents)
        if self.W_skip is not None:
            output = output + x.to(self.dtype) @ self.W_skip.T
        if variance is None:
            variance = variance_of(y)
        residual = y - output
        auxk = (
            self.auxk_loss(latents.pre_acts, residual, dead_mask, variance, k_aux)
            if dead_mask is not None
            else output.new_zeros(())
        )
        multi = output.new_zeros(())
        if self.cfg.multi_topk:
            wide = min(4 * self.cfg.k, self.num_latents)
            acts, indices = latents.pre_acts.topk(wide, dim=-1, sorted=False)
            wide_out = self._decode_sparse(acts, indices) + self.b_dec
            multi = fraction_of_variance_unexplained(y, wide_out, variance)
        norms = self.decoder_norms()
        if latents.indices is None:
            l1 = (latents.acts * norms).sum(dim=-1).mean()
        else:
            l1 = (latents.acts * norms[latents.indices]).sum(dim=-1).mean()
        return ForwardOutput(
            output=output,
            latents=latents,
            fvu=fraction_of_variance_unexplained(y, output, variance),
            l0=latents.active_count().to(output.dtype).mean(),
            auxk_loss=auxk,
            l1_loss=l1,
            multi_topk_fvu=multi,
        )


class TopKCoder(SparseCoder):
    """Sparse coder that keeps the ``k`` largest ReLU pre-activations per row."""

    def _activate(self, pre_acts: Tensor) -> EncoderOutput:
        acts, indices = pre_acts.topk(self.cfg.k, dim=-1, sorted=False)
        return EncoderOutput(acts, indices, pre_acts)


class GroupMaxCoder(SparseCoder):
    """Sparse coder that keeps the largest pre-activation of each of ``k`` latent groups.

    Group ``g`` holds the contiguous latents ``g M / k .. (g + 1) M / k - 1``.
    """

    def _activate(self, pre_acts: Tensor) -> EncoderOutput:
        k = self.cfg.k
        acts, within = pre_acts.unflatten(-1, (k, -1)).max(dim=-1)
        offsets = torch.arange(0, self.num_latents, self.num_latents // k, device=acts.device)
        return EncoderOutput(acts, within + offsets, pre_acts)


class ReLUCoder(SparseCoder):
    """Sparse coder that keeps every positive pre-activation (dense latents).

    Sparsity comes from the L1 penalty ``l1_loss`` of :class:`ForwardOutput`,
    weighted by ``TrainConfig.l1_coefficient``.
    """

    def _activate(self, pre_acts: Tensor) -> EncoderOutput:
        return EncoderOutput(pre_acts, None, pre_acts)


class JumpReLUCoder(SparseCoder):
    """Sparse coder that keeps the pre-activations above a per-latent ``threshold``.

    ``z_j = pre_j`` where ``pre_j > threshold_j``, else 0 (dense latents), as
    in SAELens's JumpReLU SAEs. The threshold is a parameter (M,) but is not
    trained here (its gradient needs a straight-through estimator).
    """

    def __init__(
        self,
        d_in: int,
        cfg: CoderConfig,
        *,
        seed: SeedLike = 0,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(d_in, cfg, seed=seed, device=device, dtype=dtype)
        self.threshold = nn.Parameter(
            torch.zeros(self.num_latents, device=device, dtype=dtype), requires_grad=False
        )

    def _activate(self, pre_acts: Tensor) -> EncoderOutput:
        acts = pre_acts * (pre_acts > self.threshold).to(pre_acts.dtype)
        return EncoderOutput(acts, None, pre_acts)


CODER_CLASSES: dict[str, type[SparseCoder]] = {
    "topk": TopKCoder,
    "groupmax": GroupMaxCoder,
    "relu": ReLUCoder,
    "jumprelu": JumpReLUCoder,
}


def build_coder(
    d_in: int,
    cfg: CoderConfig,
    *,
    seed: SeedLike = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> SparseCoder:
    """Create the coder class named by ``cfg.activation``.

    Parameters
    ----------
    d_in : int
        Input width.
    cfg : CoderConfig
        Architecture.
    seed : int, torch.Generator or None
        Seed of the weight initialisation.
    device, dtype : optional
        Placement of the parameters.

    Returns
    -------
    SparseCoder
    """
    return CODER_CLASSES[cfg.activation](d_in, cfg, seed=seed, device=device, dtype=dtype)
