"""Intervention scoring: push one latent and see what the model does.

A sparse coder sits at a module of the model (an SAE reads the module's
output, a transcoder its input; both write the module's output). To
intervene on latent ``j`` at one position, the module's output ``y`` there is
replaced by ``decode(z + delta e_j) + (y - decode(z))``: the coder's error
term ``y - decode(z)`` is kept, so ``delta = 0`` leaves the model exactly as
it was however poor the coder's reconstruction.

The strength ``delta`` is chosen per latent by bisection on ``log10(delta)``
until the next-token ``KL(clean || intervened)`` at the intervened position,
averaged over prompts, reaches a target (0.5 nats by default). The latent is
then explained from the tokens whose probability rose most, and the
explanation scored by how much more likely it becomes after generations made
with the intervention than after clean ones (a surprisal difference under a
scoring language model).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from interp.models.architectures import model_device, replace_first_tensor
from interp.coders.sparse_coder import EncoderOutput, SparseCoder
from interp.activations.hooks import _first_tensor, _module_input, resolve_modules
from interp.interventions.lens import kl_divergence
from interp.seeding import SeedLike, make_generator


@dataclass(frozen=True)
class CoderSite:
    """A sparse coder attached to one module of a model.

    Attributes
    ----------
    module : str
        Module name in ``model.named_modules()`` (for example
        ``"transformer.h.3"`` for a residual SAE or ``"transformer.h.3.mlp"``
        for a transcoder).
    coder : SparseCoder
        The coder; an autoencoder reads the module's output, a transcoder its
        input. Either way the module's output is what gets edited.
    """

    module: str
    coder: SparseCoder

    def coder_input(self, args: tuple, kwargs: dict, output: Any) -> Tensor:
        """The tensor the coder encodes: the module's input or its output."""
        x = _module_input(args, kwargs) if self.coder.is_transcoder else _first_tensor(output)
        if x is None:
            raise RuntimeError(f"module {self.module!r} gave the coder no tensor")
        if x.shape[-1] != self.coder.d_in:
            raise ValueError(
                f"module {self.module!r} has width {x.shape[-1]}; the coder expects "
                f"{self.coder.d_in}"
            )
        return x


def _dense(coder: SparseCoder, x: Tensor) -> Tensor:
    return coder.encode(x.to(coder.dtype)).dense(coder.num_latents)


def _decode_dense(coder: SparseCoder, z: Tensor) -> Tensor:
    return coder.decode(EncoderOutput(z, None, z))


@contextmanager
def latent_intervention(
    model: nn.Module,
    site: CoderSite,
    latent: int,
    delta: float | Tensor,
    *,
    position: int = -1,
) -> Iterator[None]:
    """Add ``delta`` to one latent at one position, keeping the coder's error.

    Parameters
    ----------
    model : nn.Module
        The model.
    site : CoderSite
        Where the coder sits.
    latent : int
        Latent index.
    delta : float or Tensor
        Added activation; a tensor of shape (batch,) gives one value per
        sequence.
    position : int
        Sequence position to edit (negative counts from the end of each
        forward pass). Give a non-negative index when generating, so the edit
        stays on the prompt's last token as the sequence grows.
    """
    coder = site.coder
    if not 0 <= latent < coder.num_latents:
        raise IndexError(f"latent {latent} outside 0..{coder.num_latents - 1}")
    module = resolve_modules(model, [site.module])[site.module]

    def hook(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        y = _first_tensor(output)
        x = site.coder_input(args, kwargs, output)
        if y is None or y.ndim != 3:
            raise RuntimeError(f"module {site.module!r} output is not (batch, seq, d)")
        seq = y.shape[1]
        pos = position + seq if position < 0 else position
        if not 0 <= pos < seq:
            return output
        with torch.no_grad():
            z = _dense(coder, x[:, pos])
        shifted = z.clone()
        shifted[:, latent] += torch.as_tensor(delta, dtype=z.dtype, device=z.device)
        change = _decode_dense(coder, shifted) - _decode_dense(coder, z)
        edited = y.clone()
        edited[:, pos] = y[:, pos] + change.to(y.dtype)
        return replace_first_tensor(output, edited)

    handle = module.register_forward_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def last_logits(model: nn.Module, input_ids: Tensor) -> Tensor:
    """Next-token logits after each prompt, shape (batch, vocab), float32."""
    return model(input_ids=input_ids.to(model_device(model))).logits[:, -1].float()


@torch.no_grad()
def intervention_kl(
    model: nn.Module,
    input_ids: Tensor,
    site: CoderSite,
    latent: int,
    delta: float,
    *,
    clean_logits: Tensor | None = None,
) -> Tensor:
    """Next-token ``KL(clean || intervened)`` at the last position of each prompt.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    input_ids : Tensor of int64, shape (batch, seq)
        Prompts of equal length.
    site : CoderSite
        Where the coder sits.
    latent : int
        Latent index.
    delta : float
        Added activation.
    clean_logits : Tensor, optional
        Cached :func:`last_logits` of the clean model.

    Returns
    -------
    Tensor, shape (batch,)
        In nats.
    """
    clean = last_logits(model, input_ids) if clean_logits is None else clean_logits
    with latent_intervention(model, site, latent, delta):
        edited = last_logits(model, input_ids)
    return kl_divergence(clean, edited)


@dataclass(frozen=True)
class DeltaSearch:
    """Result of :func:`find_delta`.

    Attributes
    ----------
    latent : int
        The latent.
    delta : float
        The chosen strength.
    kl : float
        Mean next-token KL reached (nats).
    target_kl : float
        The target.
    converged : bool
        Whether ``|kl - target| <= rtol * target``.
    history : tuple of (float, float)
        Every (delta, KL) evaluated, in order.
    """

    latent: int
    delta: float
    kl: float
    target_kl: float
    converged: bool
    history: tuple[tuple[float, float], ...] = field(repr=False)


def find_delta(
    model: nn.Module,
    input_ids: Tensor,
    site: CoderSite,
    latent: int,
    *,
    target_kl: float = 0.5,
    log10_bounds: tuple[float, float] = (-2.0, 2.0),
    log10_limits: tuple[float, float] = (-8.0, 8.0),
    rtol: float = 0.05,
    max_evaluations: int = 60,
) -> DeltaSearch:
    """Bisection on ``log10(delta)`` until the mean next-token KL hits a target.

    The bracket starts at ``log10_bounds`` and widens one decade at a time
    (within ``log10_limits``) until the KL at its ends straddles the target;
    it is then halved until the KL is within ``rtol`` of the target. The KL
    is assumed to grow with ``delta``.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    input_ids : Tensor of int64, shape (batch, seq)
        Prompts of equal length; the KL is averaged over them.
    site : CoderSite
        Where the coder sits.
    latent : int
        Latent index.
    target_kl : float
        Target mean KL in nats.
    log10_bounds : tuple of float
        Initial bracket of ``log10(delta)``.
    log10_limits : tuple of float
        How far the bracket may widen.
    rtol : float
        Relative tolerance on the KL.
    max_evaluations : int
        Cap on forward passes with the intervention.

    Returns
    -------
    DeltaSearch
    """
    if target_kl <= 0 or rtol <= 0:
        raise ValueError(f"target_kl and rtol must be > 0, got {target_kl}, {rtol}")
    lo, hi = log10_bounds
    if not log10_limits[0] <= lo < hi <= log10_limits[1]:
        raise ValueError(f"log10_bounds {log10_bounds} must lie inside log10_limits {log10_limits}")
    clean = last_logits(model, input_ids)
    history: list[tuple[float, float]] = []

    def kl_at(log_delta: float) -> float:
        delta = 10.0**log_delta
        kl = float(
            intervention_kl(model, input_ids, site, latent, delta, clean_logits=clean).mean()
        )
        history.append((delta, kl))
        return kl

    def result(log_delta: float, kl: float) -> DeltaSearch:
        return DeltaSearch(
            latent,
            10.0**log_delta,
            kl,
            target_kl,
            abs(kl - target_kl) <= rtol * target_kl,
            tuple(history),
        )

    kl_lo, kl_hi = kl_at(lo), kl_at(hi)
    while kl_hi < target_kl:
        if hi + 1 > log10_limits[1] or len(history) >= max_evaluations:
            raise ValueError(
                f"latent {latent} reaches only KL = {kl_hi:.3g} nats at delta = {10**hi:.3g}; "
                f"lower target_kl or raise log10_limits"
            )
        lo, kl_lo = hi, kl_hi
        hi += 1.0
        kl_hi = kl_at(hi)
    while kl_lo > target_kl:
        if lo - 1 < log10_limits[0] or len(history) >= max_evaluations:
            raise ValueError(
                f"latent {latent} already gives KL = {kl_lo:.3g} nats at delta = {10**lo:.3g}; "
                f"raise target_kl or lower log10_limits"
            )
        hi, kl_hi = lo, kl_lo
        lo -= 1.0
        kl_lo = kl_at(lo)
    best = min(((lo, kl_lo), (hi, kl_hi)), key=lambda p: abs(p[1] - target_kl))
    while abs(best[1] - target_kl) > rtol * target_kl and len(history) < max_evaluations:
        mid = 0.5 * (lo + hi)
        kl_mid = kl_at(mid)
        if abs(kl_mid - target_kl) < abs(best[1] - target_kl):
            best = (mid, kl_mid)
        if kl_mid < target_kl:
            lo = mid
        else:
            hi = mid
    return result(*best)


@dataclass(frozen=True)
class PromotedTokens:
    """Tokens whose next-token probability the intervention raised most.

    Attributes
    ----------
    token_ids : numpy.ndarray of int, shape (k,)
        Token ids, most promoted first.
    increase : numpy.ndarray, shape (k,)
        Mean increase of each token's probability (or log-probability).
    tokens : tuple of str
        Decoded tokens, when a tokenizer was given; else empty.
    """

    token_ids: np.ndarray
    increase: np.ndarray
    tokens: tuple[str, ...] = ()


@torch.no_grad()
def promoted_tokens(
    model: nn.Module,
    input_ids: Tensor,
    site: CoderSite,
    latent: int,
    delta: float,
    *,
    k: int = 10,
    by: str = "probability",
    tokenizer: Any = None,
) -> PromotedTokens:
    """The ``k`` tokens whose next-token probability rose most under the intervention.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    input_ids : Tensor of int64, shape (batch, seq)
        Prompts; changes are averaged over them.
    site : CoderSite
        Where the coder sits.
    latent : int
        Latent index.
    delta : float
        Intervention strength (from :func:`find_delta`).
    k : int
        Number of tokens.
    by : {"probability", "logprob"}
        Rank by the mean change of probability or of log-probability (the
        latter favours rare tokens).
    tokenizer : transformers tokenizer, optional
        Decodes the tokens.

    Returns
    -------
    PromotedTokens
    """
    if by not in ("probability", "logprob"):
        raise ValueError(f"by must be 'probability' or 'logprob', got {by!r}")
    clean = torch.log_softmax(last_logits(model, input_ids), dim=-1)
    with latent_intervention(model, site, latent, delta):
        edited = torch.log_softmax(last_logits(model, input_ids), dim=-1)
    change = edited - clean if by == "logprob" else edited.exp() - clean.exp()
    mean = change.mean(dim=0)
    values, ids = mean.topk(min(k, mean.numel()))
    tokens = tuple(tokenizer.decode([int(i)]) for i in ids) if tokenizer is not None else ()
    return PromotedTokens(ids.cpu().numpy(), values.cpu().numpy(), tokens)


def explanation_from_tokens(tokens: Sequence[str], judge: Any = None) -> str:
    """An explanation of a latent from the tokens it promotes.

    Parameters
    ----------
    tokens : sequence of str
        Promoted tokens, most promoted first.
    judge : interp.judges.protocol.Judge, optional
        A language-model judge asked what the tokens have in common; without
        one the explanation lists the tokens.

    Returns
    -------
    str
    """
    if not tokens:
        raise ValueError("no promoted tokens to explain from")
    listed = ", ".join(repr(t) for t in tokens)
    if judge is None:
        return f"makes the model say {listed}"
    from interp.judges.protocol import JudgeRequest

    messages = (
        {
            "role": "system",
            "content": "You explain what a feature of a language model does. Reply with one short "
            "phrase and nothing else.",
        },
        {
            "role": "user",
            "content": f"Turning the feature up makes these next tokens more likely: {listed}. "
            "What does the feature make the model talk about?",
        },
    )
    answer = judge.answer([JudgeRequest(messages, "text", max_tokens=32)])[0]
    if not answer.ok:
        raise RuntimeError(f"judge {judge.name} gave no explanation: {answer.error}")
    return str(answer.value)


@torch.no_grad()
def sample_continuations(
    model: nn.Module,
    input_ids: Tensor,
    n_tokens: int,
    *,
    seed: SeedLike = 0,
    temperature: float = 1.0,
    intervention: tuple[CoderSite, int, float] | None = None,
) -> Tensor:
    """Sample continuations, optionally with a latent intervention on the prompt's last token.

    Every step reruns the whole sequence (no cache), so the intervention
    stays on the last prompt position while the text grows. With the same
    ``seed``, a clean and an intervened run draw the same random numbers.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    input_ids : Tensor of int64, shape (batch, seq)
        Prompts of equal length.
    n_tokens : int
        Tokens to sample.
    seed : int, torch.Generator or None
        Seed of the sampling.
    temperature : float
        Softmax temperature (0 means greedy).
    intervention : (CoderSite, int, float), optional
        ``(site, latent, delta)`` to apply.

    Returns
    -------
    Tensor of int64, shape (batch, seq + n_tokens)
    """
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be >= 1, got {n_tokens}")
    device = model_device(model)
    generator = make_generator(seed)
    ids = input_ids.to(device)
    position = input_ids.shape[1] - 1
    context = (
        latent_intervention(
            model, intervention[0], intervention[1], intervention[2], position=position
        )
        if intervention is not None
        else nullcontext()
    )
    with context:
        for _ in range(n_tokens):
            logits = model(input_ids=ids).logits[:, -1].float().cpu()
            if temperature == 0:
                nxt = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            ids = torch.cat([ids, nxt[:, None].to(device)], dim=1)
    return ids


def surprisal_difference(
    lm: Any,
    explanation: str,
    clean_texts: Sequence[str],
    intervened_texts: Sequence[str],
    *,
    template: str = "\nThe text above is about:",
) -> np.ndarray:
    """How much more likely an explanation is after intervened than after clean text.

    For each pair of generations from the same prompt,
    ``loss(explanation | clean + template) - loss(explanation | intervened + template)``
    in nats per explanation token: positive when the intervention makes the
    text more about what the explanation says.

    Parameters
    ----------
    lm : interp.models.language_model.TextLoss
        Scoring language model (``lm.loss(prefixes, texts)``).
    explanation : str
        The latent's explanation.
    clean_texts, intervened_texts : sequence of str
        Generations without and with the intervention, paired by prompt.
    template : str
        Text between a generation and the explanation.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    if len(clean_texts) != len(intervened_texts) or not clean_texts:
        raise ValueError(
            f"need equal, non-zero numbers of clean ({len(clean_texts)}) and intervened "
            f"({len(intervened_texts)}) generations"
        )
    if not explanation.strip():
        raise ValueError("the explanation is empty")
    n = len(clean_texts)
    explanation = " " + explanation.strip()
    clean = np.asarray(lm.loss([t + template for t in clean_texts], [explanation] * n))
    edited = np.asarray(lm.loss([t + template for t in intervened_texts], [explanation] * n))
    return clean - edited


@dataclass(frozen=True)
class InterventionScore:
    """Intervention score of one latent.

    Attributes
    ----------
    latent : int
        The latent.
    delta : DeltaSearch
        The strength search.
    promoted : PromotedTokens
        Tokens the intervention promotes.
    explanation : str
        The explanation scored.
    score : float
        Mean surprisal difference (nats per explanation token).
    per_prompt : numpy.ndarray
        Surprisal difference of each prompt's generation.
    """

    latent: int
    delta: DeltaSearch
    promoted: PromotedTokens
    explanation: str
    score: float
    per_prompt: np.ndarray = field(repr=False)

    def row(self) -> list[str]:
        """Table row: latent, delta, KL, score, explanation."""
        return [
            str(self.latent),
            f"{self.delta.delta:.4g}",
            f"{self.delta.kl:.3f}",
            f"{self.score:+.4f}",
            self.explanation,
        ]


def score_latent(
    model: nn.Module,
    tokenizer: Any,
    input_ids: Tensor,
    site: CoderSite,
    latent: int,
    lm: Any,
    *,
    explanation: str | None = None,
    judge: Any = None,
    target_kl: float = 0.5,
    n_promoted: int = 10,
    n_tokens: int = 16,
    seed: SeedLike = 0,
    temperature: float = 1.0,
) -> InterventionScore:
    """Find delta, explain from promoted tokens and score the explanation.

    Parameters
    ----------
    model, tokenizer
        The causal LM with the coder, and its tokenizer.
    input_ids : Tensor of int64, shape (batch, seq)
        Prompts of equal length.
    site : CoderSite
        Where the coder sits.
    latent : int
        Latent index.
    lm : interp.models.language_model.TextLoss
        Scoring language model for the surprisal difference.
    explanation : str, optional
        Explanation to score; by default one is made from the promoted tokens
        (by ``judge`` if given).
    judge : interp.judges.protocol.Judge, optional
        Writes the explanation from the promoted tokens.
    target_kl : float
        Target next-token KL of the intervention (nats).
    n_promoted : int
        Promoted tokens shown to the explainer.
    n_tokens : int
        Tokens generated per prompt.
    seed : int, torch.Generator or None
        Seed of the generations (clean and intervened runs share it).
    temperature : float
        Sampling temperature.

    Returns
    -------
    InterventionScore
    """
    search = find_delta(model, input_ids, site, latent, target_kl=target_kl)
    promoted = promoted_tokens(
        model, input_ids, site, latent, search.delta, k=n_promoted, tokenizer=tokenizer
    )
    if explanation is None:
        explanation = explanation_from_tokens(promoted.tokens, judge)
    # one integer seed for both runs, so they draw the same random numbers
    seed_value = (
        int(seed)
        if isinstance(seed, int)
        else int(torch.randint(0, 2**62, (1,), generator=make_generator(seed)))
    )
    clean = sample_continuations(
        model, input_ids, n_tokens, seed=seed_value, temperature=temperature
    )
    edited = sample_continuations(
        model,
        input_ids,
        n_tokens,
        seed=seed_value,
        temperature=temperature,
        intervention=(site, latent, search.delta),
    )
    start = input_ids.shape[1]
    clean_texts = [tokenizer.decode(row[start:].tolist()) for row in clean]
    edited_texts = [tokenizer.decode(row[start:].tolist()) for row in edited]
    diff = surprisal_difference(lm, explanation, clean_texts, edited_texts)
    return InterventionScore(latent, search, promoted, explanation, float(np.mean(diff)), diff)
