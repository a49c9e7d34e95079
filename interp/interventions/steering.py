"""Contrastive activation addition: steering vectors from A/B answer pairs.

Each :class:`ContrastivePair` is a prompt (a question that ends where the
answer letter goes) with the answer token that matches a behaviour and the
one that does not. The steering vector of a block is the mean, over pairs,
of the block's output at the answer position for ``prompt + matching`` minus
that for ``prompt + non_matching`` (or, optionally, the same difference
projected on the linear-discriminant axis of the two sets). Steering adds
``multiplier * vector`` to the block's output at chosen positions; the
effect is measured by the matching probability
``p(matching) / (p(matching) + p(non_matching))`` of the next token after
the prompt.

Blocks are numbered ``0 .. L-1`` and steered at their output (the residual
stream after the block), for transformers and recurrent models alike. For
RWKV, :func:`rwkv_state_vector` and :func:`rwkv_state_matching_probability`
steer the recurrent state instead: the contrastive difference of the states
after the two answers is added to the state before the prompt's last token.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from interp.models.architectures import (
    ModelParts,
    model_device,
    model_parts,
    replace_first_tensor,
    resolve_positions,
)
from interp.activations.hooks import _first_tensor

Method = Literal["mean_difference", "lda"]
Positions = int | Sequence[int] | slice | None


@dataclass(frozen=True)
class ContrastivePair:
    """A prompt with a behaviour-matching and a non-matching answer token.

    Attributes
    ----------
    prompt : tuple of int
        Token ids of the question, ending where the answer goes.
    matching : int
        Token id of the answer that shows the behaviour.
    non_matching : int
        Token id of the answer that does not.
    """

    prompt: tuple[int, ...]
    matching: int
    non_matching: int

    def __post_init__(self) -> None:
        if len(self.prompt) == 0:
            raise ValueError("a contrastive pair needs a non-empty prompt")
        if self.matching == self.non_matching:
            raise ValueError(f"matching and non-matching answers are both token {self.matching}")


def pairs_from_text(tokenizer: Any, records: Iterable[Mapping[str, str]]) -> list[ContrastivePair]:
    """Tokenise records ``{"prompt", "matching", "non_matching"}`` into pairs.

    Each answer must be a single token (for example ``"A"`` after a prompt
    that ends in ``"("``).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Called as ``tokenizer(text, add_special_tokens=False)``.
    records : iterable of mapping
        Text fields of each pair.

    Returns
    -------
    list of ContrastivePair
    """
    pairs = []
    for i, record in enumerate(records):
        missing = {"prompt", "matching", "non_matching"} - set(record)
        if missing:
            raise KeyError(f"pair {i} lacks fields {sorted(missing)}")
        ids = tokenizer(record["prompt"], add_special_tokens=False)["input_ids"]
        answers = []
        for field in ("matching", "non_matching"):
            answer = tokenizer(record[field], add_special_tokens=False)["input_ids"]
            if len(answer) != 1:
                raise ValueError(
                    f"pair {i}: answer {record[field]!r} is {len(answer)} tokens; use single-token "
                    "answers such as 'A' and 'B'"
                )
            answers.append(answer[0])
        pairs.append(ContrastivePair(tuple(ids), answers[0], answers[1]))
    if not pairs:
        raise ValueError("no contrastive pairs given")
    return pairs


def _check_blocks(parts: ModelParts, blocks: Iterable[int]) -> list[int]:
    out = sorted(set(blocks))
    if not out:
        raise ValueError("give at least one block")
    for b in out:
        if not 0 <= b < parts.num_layers:
            raise ValueError(f"block {b} outside 0..{parts.num_layers - 1}")
    return out


def _by_length(sequences: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(sequences):
        groups.setdefault(len(seq), []).append(i)
    return groups


@torch.no_grad()
def last_token_activations(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    blocks: Iterable[int],
    *,
    parts: ModelParts | None = None,
    batch_size: int = 32,
) -> dict[int, Tensor]:
    """Block outputs at the last position of each sequence.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    sequences : sequence of sequences of int
        Token ids (any lengths; equal lengths are batched together).
    blocks : iterable of int
        Blocks to record.
    parts : ModelParts, optional
        The model's pieces.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    dict of int to Tensor
        Per block, float32 activations of shape (n_sequences, d) in the order
        of ``sequences``.
    """
    parts = parts or model_parts(model)
    block_list = _check_blocks(parts, blocks)
    device = model_device(model)
    out = {b: torch.zeros(len(sequences), parts.d_model) for b in block_list}
    current: dict[int, Tensor] = {}

    def make_hook(b: int):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            current[b] = _first_tensor(output)[:, -1].float().cpu()

        return hook

    handles = [parts.blocks[b].register_forward_hook(make_hook(b)) for b in block_list]
    try:
        for indices in _by_length(sequences).values():
            for chunk in [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]:
                ids = torch.tensor([list(sequences[i]) for i in chunk], device=device)
                model(input_ids=ids)
                for b in block_list:
                    out[b][chunk] = current[b]
    finally:
        for handle in handles:
            handle.remove()
    return out


def mean_difference(positive: Tensor, negative: Tensor) -> Tensor:
    """Mean of ``positive`` minus mean of ``negative`` over rows, shape (d,)."""
    if positive.ndim != 2 or negative.ndim != 2 or positive.shape[1] != negative.shape[1]:
        raise ValueError(
            f"expected two (n, d) matrices, got {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    return positive.mean(dim=0) - negative.mean(dim=0)


def lda_direction(positive: Tensor, negative: Tensor, shrinkage: float = 0.1) -> Tensor:
    """Mean difference projected on Fisher's linear-discriminant axis.

    The axis is ``w = S^-1 (mu_+ - mu_-)`` with ``S`` the pooled
    within-class covariance shrunk towards a multiple of the identity:
    ``S = (1 - shrinkage) S_w + shrinkage (tr S_w / d) I``. The returned
    vector is ``(delta . w_hat) w_hat``, the component of the mean
    difference ``delta`` along the axis, so it has the units (and, for
    well-separated classes, about the size) of the mean difference.

    Parameters
    ----------
    positive, negative : Tensor, shape (n, d)
        Activations of the two classes.
    shrinkage : float
        Weight of the identity in the covariance, in [0, 1].

    Returns
    -------
    Tensor, shape (d,)
    """
    if not 0.0 <= shrinkage <= 1.0:
        raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
    delta = mean_difference(positive, negative).double()
    centred = torch.cat(
        [
            positive.double() - positive.double().mean(0),
            negative.double() - negative.double().mean(0),
        ]
    )
    dof = max(1, centred.shape[0] - 2)
    cov = centred.T @ centred / dof
    d = cov.shape[0]
    scale = torch.trace(cov) / d
    if scale <= 0:
        scale = torch.tensor(1.0, dtype=cov.dtype)
    cov = (1 - shrinkage) * cov + shrinkage * scale * torch.eye(d, dtype=cov.dtype)
    w = torch.linalg.lstsq(cov, delta[:, None]).solution[:, 0]
    w_hat = w / w.norm().clamp_min(torch.finfo(w.dtype).tiny)
    return ((delta @ w_hat) * w_hat).to(positive.dtype)


def steering_vectors(
    model: nn.Module,
    pairs: Sequence[ContrastivePair],
    blocks: Iterable[int],
    *,
    method: Method = "mean_difference",
    shrinkage: float = 0.1,
    parts: ModelParts | None = None,
    batch_size: int = 32,
) -> dict[int, Tensor]:
    """Steering vectors at the output of each block from contrastive pairs.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    pairs : sequence of ContrastivePair
        Prompts with matching and non-matching answers.
    blocks : iterable of int
        Blocks whose outputs are recorded (and later steered).
    method : {"mean_difference", "lda"}
        Plain mean difference, or its projection on the LDA axis.
    shrinkage : float
        Covariance shrinkage of the LDA.
    parts : ModelParts, optional
        The model's pieces.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    dict of int to Tensor
        Per block, a vector of shape (d,), float32, on the CPU.
    """
    if method not in ("mean_difference", "lda"):
        raise ValueError(f"method must be 'mean_difference' or 'lda', got {method!r}")
    if not pairs:
        raise ValueError("no contrastive pairs given")
    sequences = [(*p.prompt, p.matching) for p in pairs] + [
        (*p.prompt, p.non_matching) for p in pairs
    ]
    acts = last_token_activations(model, sequences, blocks, parts=parts, batch_size=batch_size)
    n = len(pairs)
    vectors = {}
    for b, a in acts.items():
        if method == "lda":
            vectors[b] = lda_direction(a[:n], a[n:], shrinkage)
        else:
            vectors[b] = mean_difference(a[:n], a[n:])
    return vectors


@contextmanager
def steer(
    model: nn.Module,
    vectors: Mapping[int, Tensor],
    multiplier: float,
    *,
    positions: Positions = None,
    parts: ModelParts | None = None,
) -> Iterator[None]:
    """Add ``multiplier * vector`` to block outputs during forward passes.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    vectors : mapping of int to Tensor
        Steering vector per block, shape (d,).
    multiplier : float
        Scale of the added vectors (negative values steer away).
    positions : int, sequence of int, slice or None
        Positions to steer, resolved against each forward pass's length
        (negative values count from the end); ``None`` steers every position.
    parts : ModelParts, optional
        The model's pieces.

    Examples
    --------
    >>> with steer(model, {3: vec}, 4.0, positions=-1):  # doctest: +SKIP
    ...     logits = model(input_ids=ids).logits
    """
    parts = parts or model_parts(model)
    _check_blocks(parts, vectors)

    def make_hook(vector: Tensor):
        def hook(module: nn.Module, args: tuple, output: Any) -> Any:
            hidden = _first_tensor(output)
            if hidden is None:
                raise RuntimeError("a steered block returned no tensor")
            index = resolve_positions(positions, hidden.shape[1])
            added = torch.zeros_like(hidden)
            added[:, index] = (multiplier * vector).to(device=hidden.device, dtype=hidden.dtype)
            return replace_first_tensor(output, hidden + added)

        return hook

    handles = []
    for b, vector in vectors.items():
        if vector.shape != (parts.d_model,):
            raise ValueError(
                f"vector of block {b} has shape {tuple(vector.shape)}, expected ({parts.d_model},)"
            )
        handles.append(parts.blocks[b].register_forward_hook(make_hook(vector)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _matching_from_logits(logits: Tensor, matching: Tensor, non_matching: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    lp_m = log_probs.gather(1, matching[:, None])[:, 0]
    lp_n = log_probs.gather(1, non_matching[:, None])[:, 0]
    return torch.sigmoid(lp_m - lp_n)


@torch.no_grad()
def matching_probability(
    model: nn.Module,
    pairs: Sequence[ContrastivePair],
    vectors: Mapping[int, Tensor] | None = None,
    multiplier: float = 0.0,
    *,
    positions: Positions = None,
    parts: ModelParts | None = None,
    batch_size: int = 32,
) -> np.ndarray:
    """``p(matching) / (p(matching) + p(non_matching))`` after each prompt.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    pairs : sequence of ContrastivePair
        Prompts and their two answers.
    vectors : mapping of int to Tensor, optional
        Steering vectors per block; none means the unsteered model.
    multiplier : float
        Steering strength.
    positions : int, sequence of int, slice or None
        Steered positions (see :func:`steer`).
    parts : ModelParts, optional
        The model's pieces.
    batch_size : int
        Prompts per forward pass.

    Returns
    -------
    numpy.ndarray, shape (n_pairs,)
    """
    if not pairs:
        raise ValueError("no contrastive pairs given")
    parts = parts or model_parts(model)
    device = model_device(model)
    result = np.zeros(len(pairs))
    context = (
        steer(model, vectors, multiplier, positions=positions, parts=parts)
        if vectors
        else nullcontext()
    )
    with context:
        for indices in _by_length([p.prompt for p in pairs]).values():
            for chunk in [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]:
                ids = torch.tensor([list(pairs[i].prompt) for i in chunk], device=device)
                logits = model(input_ids=ids).logits[:, -1]
                m = torch.tensor([pairs[i].matching for i in chunk], device=device)
                n = torch.tensor([pairs[i].non_matching for i in chunk], device=device)
                result[chunk] = _matching_from_logits(logits, m, n).cpu().numpy()
    return result


@dataclass(frozen=True)
class SteeringSweep:
    """Matching probability as a function of the steering multiplier.

    Attributes
    ----------
    multipliers : numpy.ndarray, shape (m,)
        Multipliers, in the order given.
    matching : numpy.ndarray, shape (m, n_pairs)
        Matching probability of every pair at every multiplier.
    """

    multipliers: np.ndarray
    matching: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean matching probability per multiplier, shape (m,)."""
        return self.matching.mean(axis=1)

    def rows(self) -> list[list[str]]:
        """Table rows: multiplier, mean and standard error of the matching probability."""
        n = self.matching.shape[1]
        sem = self.matching.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(self.mean))
        return [
            [f"{m:g}", f"{p:.4f}", f"{s:.4f}"]
            for m, p, s in zip(self.multipliers, self.mean, sem, strict=True)
        ]


def multiplier_sweep(
    model: nn.Module,
    pairs: Sequence[ContrastivePair],
    vectors: Mapping[int, Tensor],
    multipliers: Sequence[float],
    *,
    positions: Positions = None,
    parts: ModelParts | None = None,
    batch_size: int = 32,
) -> SteeringSweep:
    """Matching probability of every pair at every multiplier.

    Parameters
    ----------
    model : nn.Module
        A causal LM.
    pairs : sequence of ContrastivePair
        Evaluation pairs (keep them apart from those that built the vectors).
    vectors : mapping of int to Tensor
        Steering vectors per block.
    multipliers : sequence of float
        Strengths to try.
    positions : int, sequence of int, slice or None
        Steered positions (see :func:`steer`).
    parts : ModelParts, optional
        The model's pieces.
    batch_size : int
        Prompts per forward pass.

    Returns
    -------
    SteeringSweep
    """
    if len(multipliers) == 0:
        raise ValueError("give at least one multiplier")
    parts = parts or model_parts(model)
    rows = [
        matching_probability(
            model,
            pairs,
            vectors,
            float(m),
            positions=positions,
            parts=parts,
            batch_size=batch_size,
        )
        for m in multipliers
    ]
    return SteeringSweep(np.asarray(multipliers, dtype=float), np.stack(rows))


# ----------------------------------------------------------------- RWKV state
def _require_rwkv(model: nn.Module) -> None:
    if getattr(getattr(model, "config", None), "model_type", "") != "rwkv":
        raise ValueError(
            "state steering needs an RWKV model (its state is returned by forward); "
            "steer other models at block outputs with steer()"
        )


@torch.no_grad()
def _rwkv_state(model: nn.Module, ids: Tensor, state: list[Tensor] | None = None) -> Any:
    return model(input_ids=ids, state=state, use_cache=True)


@torch.no_grad()
def rwkv_state_vector(
    model: nn.Module, pairs: Sequence[ContrastivePair], *, batch_size: int = 32
) -> list[Tensor]:
    """Mean difference of RWKV states after the matching and non-matching answers.

    Parameters
    ----------
    model : nn.Module
        An ``RwkvForCausalLM``.
    pairs : sequence of ContrastivePair
        Prompts with their answers.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    list of Tensor
        One tensor per state component (RWKV keeps five: the attention and
        feed-forward token-shift inputs and the three WKV accumulators), each
        of shape (d, n_layers), float32 on the CPU.
    """
    _require_rwkv(model)
    if not pairs:
        raise ValueError("no contrastive pairs given")
    device = model_device(model)
    sums: list[list[Tensor]] = [[], []]
    for side, answers in enumerate(([p.matching for p in pairs], [p.non_matching for p in pairs])):
        for indices in _by_length([p.prompt for p in pairs]).values():
            for chunk in [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]:
                ids = torch.tensor([[*pairs[i].prompt, answers[i]] for i in chunk], device=device)
                state = _rwkv_state(model, ids).state
                sums[side].append([s.float().sum(0).cpu() for s in state])
    n = len(pairs)
    pos = [sum(parts) / n for parts in zip(*sums[0], strict=True)]
    neg = [sum(parts) / n for parts in zip(*sums[1], strict=True)]
    return [p - q for p, q in zip(pos, neg, strict=True)]


@torch.no_grad()
def rwkv_state_matching_probability(
    model: nn.Module,
    pairs: Sequence[ContrastivePair],
    state_vector: Sequence[Tensor],
    multiplier: float,
    *,
    components: Sequence[int] | None = None,
    layers: Sequence[int] | None = None,
) -> np.ndarray:
    """Matching probability with ``multiplier * state_vector`` added to the state.

    The prompt without its last token is run to get the state; the chosen
    components and layers of the steering vector are added to it; then the
    last token is run from the steered state and its next-token distribution
    scored as in :func:`matching_probability`.

    Parameters
    ----------
    model : nn.Module
        An ``RwkvForCausalLM``.
    pairs : sequence of ContrastivePair
        Prompts of at least two tokens, with their answers.
    state_vector : sequence of Tensor
        Output of :func:`rwkv_state_vector`.
    multiplier : float
        Steering strength.
    components : sequence of int, optional
        State components to steer (default: all).
    layers : sequence of int, optional
        Layers to steer (default: all).

    Returns
    -------
    numpy.ndarray, shape (n_pairs,)
    """
    _require_rwkv(model)
    device = model_device(model)
    components = list(range(len(state_vector))) if components is None else list(components)
    result = np.zeros(len(pairs))
    for i, pair in enumerate(pairs):
        if len(pair.prompt) < 2:
            raise ValueError(f"pair {i}: state steering needs a prompt of at least two tokens")
        head = torch.tensor([list(pair.prompt[:-1])], device=device)
        state = [s.clone() for s in _rwkv_state(model, head).state]
        n_layers = state[0].shape[-1]
        layer_index = list(range(n_layers)) if layers is None else list(layers)
        for c in components:
            if not 0 <= c < len(state):
                raise ValueError(f"state component {c} outside 0..{len(state) - 1}")
            add = torch.zeros_like(state[c])
            add[..., layer_index] = multiplier * state_vector[c][:, layer_index].to(add)
            state[c] = state[c] + add
        tail = torch.tensor([[pair.prompt[-1]]], device=device)
        logits = _rwkv_state(model, tail, state).logits[:, -1]
        m = torch.tensor([pair.matching], device=device)
        n = torch.tensor([pair.non_matching], device=device)
        result[i] = float(_matching_from_logits(logits, m, n)[0])
    return result
