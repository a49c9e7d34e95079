"""Partial rewrite: run an MLP's (skip) transcoder on simulated latent activations.

A transcoder replaces an MLP: ``y_hat = decode(z) (+ W_skip x)`` with
``z = encode(x)``. In a partial rewrite, a chosen fraction of the latents do
not get their activations from the encoder but from a *simulator* that
predicts them from each latent's explanation; the other latents keep their
encoder values. The mixed activations are cut back to the coder's ``k``
largest (TopK coders), decoded, and written in place of the MLP's output at
the rewritten positions. The cost of the rewrite is the model's next-token
cross-entropy (and its KL divergence from the clean model), compared with

* the clean model,
* the transcoder reconstruction (every latent from the encoder), and
* zero-ablation of the MLP output at the same positions.

A perfect simulator gives the reconstruction's loss; a simulator that always
predicts zero, with every latent rewritten, leaves only ``b_dec (+ W_skip
x)``, which is zero-ablation for a coder without decoder bias or skip term.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from interp.models.architectures import model_device, replace_first_tensor, resolve_positions
from interp.coders.sparse_coder import EncoderOutput, SparseCoder
from interp.activations.hooks import (
    ActivationRecorder,
    _first_tensor,
    _module_input,
    resolve_modules,
)
from interp.interventions.intervention_scoring import CoderSite
from interp.interventions.lens import kl_divergence
from interp.seeding import SeedLike, make_generator

Mode = Literal["clean", "reconstruction", "rewrite", "zero_ablation"]
Positions = int | Sequence[int] | slice | None


class Simulator(Protocol):
    """Predicts latent activations for token sequences.

    Called with token ids of shape (batch, seq) and the latent indices to
    predict, shape (n,); returns predicted activations (in the latent's own
    units) of shape (batch, seq, n).
    """

    def __call__(self, input_ids: Tensor, latents: Tensor) -> Tensor:
        """Predicted activations, shape (batch, seq, n)."""
        ...


class ZeroSimulator:
    """Predicts zero for every latent and token."""

    def __call__(self, input_ids: Tensor, latents: Tensor) -> Tensor:
        """Zeros of shape (batch, seq, n)."""
        return torch.zeros(*input_ids.shape, len(latents))


class OracleSimulator:
    """Predicts the transcoder's own activations (a perfect simulator).

    Parameters
    ----------
    model : nn.Module
        The model.
    site : CoderSite
        The transcoder and its MLP module.
    """

    def __init__(self, model: nn.Module, site: CoderSite) -> None:
        self.model = model
        self.site = site

    @torch.no_grad()
    def __call__(self, input_ids: Tensor, latents: Tensor) -> Tensor:
        """The encoder's activations of the requested latents, shape (batch, seq, n)."""
        with ActivationRecorder(self.model, [self.site.module], inputs=True, outputs=True) as rec:
            rec.run(input_ids=input_ids.to(model_device(self.model)))
        acts = rec.collected()[self.site.module]
        x = acts.input if self.site.coder.is_transcoder else acts.output
        coder = self.site.coder
        z = coder.encode(x.to(device=coder.device, dtype=coder.dtype)).dense(coder.num_latents)
        return z[:, latents.to(z.device)].reshape(*input_ids.shape, len(latents)).float().cpu()


class ArraySimulator:
    """Predictions computed beforehand, looked up by sequence row.

    Parameters
    ----------
    predictions : Tensor, shape (n_sequences, seq, num_latents)
        Predicted activations of every latent for the sequences that will be
        passed, in order (rows ``0 .. batch-1`` of the first call, then the
        next rows, and so on).
    """

    def __init__(self, predictions: Tensor) -> None:
        if predictions.ndim != 3:
            raise ValueError(
                "predictions must have shape (n_sequences, seq, latents), got "
                f"{tuple(predictions.shape)}"
            )
        self.predictions = predictions.float()
        self._row = 0

    def __call__(self, input_ids: Tensor, latents: Tensor) -> Tensor:
        """The stored predictions of the next ``batch`` rows."""
        n, seq = input_ids.shape
        if self._row + n > self.predictions.shape[0] or seq != self.predictions.shape[1]:
            raise ValueError(
                f"predictions cover {self.predictions.shape[0]} sequences of length "
                f"{self.predictions.shape[1]}; asked for rows {self._row}..{self._row + n - 1} "
                f"of length {seq}"
            )
        block = self.predictions[self._row : self._row + n][:, :, latents]
        self._row += n
        return block


class JudgeSimulator:
    """A language-model judge predicts 0-10 activations from each latent's explanation.

    Predictions are rescaled to activation units by ``max_activation / 10``.

    Parameters
    ----------
    judge : interp.judges.protocol.Judge
        Answers ``"scores"`` requests.
    explanations : mapping of int to str
        Explanation of each latent that may be simulated.
    max_activation : mapping of int to float
        Each latent's maximum activation over the example cache.
    decode : callable
        Turns a sequence of token ids into the list of token strings shown to
        the judge (for example :func:`interp.activations.examples.token_decoder`).
    """

    def __init__(
        self,
        judge: Any,
        explanations: Mapping[int, str],
        max_activation: Mapping[int, float],
        decode: Any,
    ) -> None:
        self.judge = judge
        self.explanations = dict(explanations)
        self.max_activation = dict(max_activation)
        self.decode = decode

    def __call__(self, input_ids: Tensor, latents: Tensor) -> Tensor:
        """Ask the judge for every (sequence, latent) pair; failed answers predict zero."""
        from interp.judges.protocol import JudgeRequest
        from interp.judges.prompts import simulation_messages

        missing = [int(j) for j in latents if int(j) not in self.explanations]
        if missing:
            raise KeyError(f"no explanation for latents {missing[:5]}; simulate explained latents")
        batch, seq = input_ids.shape
        requests, where = [], []
        for b in range(batch):
            tokens = list(self.decode(input_ids[b].tolist()))
            for col, j in enumerate(latents.tolist()):
                messages = simulation_messages(self.explanations[j], tokens)
                requests.append(
                    JudgeRequest(messages, "scores", n_options=seq, max_tokens=4 * seq + 8)
                )
                where.append((b, col, j))
        answers = self.judge.answer(requests)
        out = torch.zeros(batch, seq, len(latents))
        for (b, col, j), answer in zip(where, answers, strict=True):
            if answer.ok:
                scale = float(self.max_activation.get(j, 0.0)) / 10.0
                out[b, :, col] = torch.tensor(answer.value, dtype=torch.float32) * scale
        return out


def select_latents(
    num_latents: int,
    fraction: float,
    *,
    scores: Sequence[float] | np.ndarray | None = None,
    seed: SeedLike = 0,
) -> Tensor:
    """The latents to rewrite: the best-explained fraction, or a random one.

    Parameters
    ----------
    num_latents : int
        Number of latents ``M``.
    fraction : float
        Fraction in [0, 1]; ``round(fraction * M)`` latents are chosen.
    scores : array-like of shape (M,), optional
        Explanation score of every latent (higher is better; NaN for latents
        without one, which are never chosen). Without scores the choice is
        uniformly random.
    seed : int, torch.Generator or None
        Seed of the random choice (ignored with scores).

    Returns
    -------
    Tensor of int64, shape (n,)
        Sorted latent indices.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n = round(fraction * num_latents)
    if scores is None:
        order = torch.randperm(num_latents, generator=make_generator(seed))
    else:
        values = np.asarray(scores, dtype=float)
        if values.shape != (num_latents,):
            raise ValueError(f"scores must have shape ({num_latents},), got {values.shape}")
        n_scored = int(np.isfinite(values).sum())
        if n > n_scored:
            raise ValueError(
                f"fraction {fraction} needs {n} latents but only {n_scored} have a score"
            )
        keyed = np.where(np.isfinite(values), values, -np.inf)
        order = torch.from_numpy(np.argsort(-keyed, kind="stable").copy())
    return order[:n].sort().values


def _keep_top(z: Tensor, coder: SparseCoder) -> Tensor:
    z = z.clamp_min(0.0)
    if coder.cfg.activation != "topk" or coder.cfg.k >= z.shape[-1]:
        return z
    values, indices = z.topk(coder.cfg.k, dim=-1)
    return torch.zeros_like(z).scatter_(-1, indices, values)


@contextmanager
def mlp_replacement(
    model: nn.Module,
    site: CoderSite,
    mode: Mode,
    *,
    positions: Positions = None,
    latents: Tensor | None = None,
    simulated: Tensor | None = None,
) -> Iterator[None]:
    """Replace an MLP's output at some positions during forward passes.

    Parameters
    ----------
    model : nn.Module
        The model.
    site : CoderSite
        A transcoder (``coder.is_transcoder``) and its MLP module.
    mode : {"clean", "reconstruction", "rewrite", "zero_ablation"}
        What to write: nothing, the transcoder output, the transcoder output
        from partly simulated latents, or zeros.
    positions : int, sequence of int, slice or None
        Positions to replace (``None``: all).
    latents : Tensor of int64, shape (n,), optional
        Rewritten latents (mode ``"rewrite"``).
    simulated : Tensor, shape (batch, seq, n), optional
        Their simulated activations (mode ``"rewrite"``).
    """
    coder = site.coder
    if not coder.is_transcoder:
        raise ValueError("partial rewrite needs a transcoder (it replaces the MLP's output)")
    if mode not in ("clean", "reconstruction", "rewrite", "zero_ablation"):
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "rewrite" and (latents is None or simulated is None):
        raise ValueError("mode 'rewrite' needs latents and their simulated activations")
    module = resolve_modules(model, [site.module])[site.module]

    def hook(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        y = _first_tensor(output)
        x = _module_input(args, kwargs)
        if y is None or x is None or y.ndim != 3:
            raise RuntimeError(f"module {site.module!r} did not give (batch, seq, d) tensors")
        index = resolve_positions(positions, y.shape[1])
        new = y.clone()
        if mode == "zero_ablation":
            new[:, index] = 0.0
            return replace_first_tensor(output, new)
        batch, n_pos = y.shape[0], len(index)
        xs = x[:, index].reshape(batch * n_pos, -1).to(coder.dtype)
        z = coder.encode(xs).dense(coder.num_latents)
        if mode == "rewrite":
            sim = simulated[:, index].reshape(batch * n_pos, -1)
            z[:, latents.to(z.device)] = sim.to(device=z.device, dtype=z.dtype)
            z = _keep_top(z, coder)
        out = coder.decode(EncoderOutput(z, None, z))
        if coder.W_skip is not None:
            out = out + xs @ coder.W_skip.T
        new[:, index] = out.reshape(batch, n_pos, -1).to(y.dtype)
        return replace_first_tensor(output, new)

    handle = None
    if mode != "clean":
        handle = module.register_forward_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()


def next_token_losses(logits: Tensor, input_ids: Tensor) -> Tensor:
    """Cross-entropy of each next token, shape (batch, seq - 1), in nats."""
    return F.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), input_ids[:, 1:].to(logits.device), reduction="none"
    )


@dataclass(frozen=True)
class RewriteResult:
    """Mean next-token cross-entropy (nats per token) of a partial rewrite.

    Attributes
    ----------
    fraction : float
        Fraction of latents rewritten.
    n_rewritten : int
        Number of latents rewritten.
    selection : str
        ``"score"`` or ``"random"``.
    clean : float
        Loss of the unmodified model.
    reconstruction : float
        Loss with the transcoder in place of the MLP.
    rewrite : float
        Loss with the partial rewrite.
    zero_ablation : float
        Loss with the MLP output zeroed.
    kl_reconstruction, kl_rewrite, kl_zero_ablation : float
        Mean next-token ``KL(clean || variant)`` of each variant (nats per
        token); unlike the cross-entropies these do not depend on how well
        the clean model predicts the text.
    n_tokens : int
        Number of predicted tokens averaged over.
    """

    fraction: float
    n_rewritten: int
    selection: str
    clean: float
    reconstruction: float
    rewrite: float
    zero_ablation: float
    kl_reconstruction: float
    kl_rewrite: float
    kl_zero_ablation: float
    n_tokens: int

    @property
    def recovered(self) -> float:
        """Share of the zero-ablation loss gap the rewrite recovers.

        ``(zero_ablation - rewrite) / (zero_ablation - clean)``: 1 for a
        rewrite as good as the clean model, 0 for one as bad as ablation.
        """
        gap = self.zero_ablation - self.clean
        return float("nan") if gap == 0 else (self.zero_ablation - self.rewrite) / gap

    def row(self) -> list[str]:
        """Table row: fraction, latents, selection, the four losses, rewrite KL, recovered."""
        return [
            f"{self.fraction:g}",
            str(self.n_rewritten),
            self.selection,
            f"{self.clean:.4f}",
            f"{self.reconstruction:.4f}",
            f"{self.rewrite:.4f}",
            f"{self.zero_ablation:.4f}",
            f"{self.kl_rewrite:.4f}",
            f"{self.recovered:.3f}",
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary, for JSON."""
        return {**asdict(self), "recovered": self.recovered}


@torch.no_grad()
def partial_rewrite(
    model: nn.Module,
    input_ids: Tensor,
    site: CoderSite,
    simulator: Simulator,
    fraction: float,
    *,
    scores: Sequence[float] | np.ndarray | None = None,
    seed: SeedLike = 0,
    positions: Positions = None,
    batch_size: int = 8,
) -> RewriteResult:
    """Next-token loss of the model with an MLP partly rewritten from explanations.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    input_ids : Tensor of int64, shape (n_sequences, seq)
        Evaluation sequences.
    site : CoderSite
        The (skip) transcoder of one MLP.
    simulator : Simulator
        Predicts the rewritten latents' activations.
    fraction : float
        Fraction of latents to rewrite.
    scores : array-like of shape (M,), optional
        Explanation scores: rewrite the best-explained latents first; without
        them the latents are chosen at random.
    seed : int, torch.Generator or None
        Seed of the random choice.
    positions : int, sequence of int, slice or None
        Positions where the MLP is replaced (``None``: every position).
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    RewriteResult
    """
    if input_ids.ndim != 2 or input_ids.shape[1] < 2:
        raise ValueError(
            f"input_ids must have shape (n_sequences, seq >= 2), got {tuple(input_ids.shape)}"
        )
    coder = site.coder
    latents = select_latents(coder.num_latents, fraction, scores=scores, seed=seed)
    device = model_device(model)
    modes: tuple[Mode, ...] = ("clean", "reconstruction", "rewrite", "zero_ablation")
    ce = dict.fromkeys(modes, 0.0)
    kl = dict.fromkeys(modes, 0.0)
    n_tokens = 0
    for batch in input_ids.split(batch_size):
        batch = batch.to(device)
        simulated = simulator(batch, latents) if len(latents) else None
        clean_logits = model(input_ids=batch).logits[:, :-1]
        for mode in modes:
            # with no latent rewritten the rewrite is the reconstruction
            used: Mode = "reconstruction" if mode == "rewrite" and simulated is None else mode
            with mlp_replacement(
                model, site, used, positions=positions, latents=latents, simulated=simulated
            ):
                logits = model(input_ids=batch).logits
            ce[mode] += float(next_token_losses(logits, batch).sum())
            kl[mode] += float(kl_divergence(clean_logits, logits[:, :-1]).sum())
        n_tokens += batch.shape[0] * (batch.shape[1] - 1)
    return RewriteResult(
        fraction=fraction,
        n_rewritten=len(latents),
        selection="random" if scores is None else "score",
        **{mode: value / n_tokens for mode, value in ce.items()},
        kl_reconstruction=kl["reconstruction"] / n_tokens,
        kl_rewrite=kl["rewrite"] / n_tokens,
        kl_zero_ablation=kl["zero_ablation"] / n_tokens,
        n_tokens=n_tokens,
    )
