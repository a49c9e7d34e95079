"""Where the layers, the final norm and the unembedding sit in a causal language model.

Lenses, steering and interventions need the same three things from a model:
the list of residual blocks, the normalisation applied after the last block
and the unembedding matrix. :func:`model_parts` finds them in the Hugging
Face causal-LM classes of GPT-2, Llama-style models (Llama, Mistral, Qwen,
...), GPT-NeoX, Mamba and RWKV, and accepts explicit module names for
anything else.

The residual stream "at layer l" is the output of block ``l - 1``
(``l = 1 .. L``); layer 0 is the input of the first block (the embeddings).
Applying the final norm and the unembedding to layer ``L`` reproduces the
model's logits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from interp.activations.hooks import _first_tensor, _module_input

# (blocks, final norm, unembedding) module names, tried in order
KNOWN_LAYOUTS: tuple[tuple[str, str, str], ...] = (
    ("transformer.h", "transformer.ln_f", "lm_head"),  # GPT-2, GPT-J
    ("model.layers", "model.norm", "lm_head"),  # Llama, Mistral, Qwen, Gemma
    ("gpt_neox.layers", "gpt_neox.final_layer_norm", "embed_out"),  # GPT-NeoX, Pythia
    ("backbone.layers", "backbone.norm_f", "lm_head"),  # Mamba
    ("rwkv.blocks", "rwkv.ln_out", "head"),  # RWKV
)

RECURRENT_MODEL_TYPES: frozenset[str] = frozenset({"mamba", "mamba2", "rwkv"})


@dataclass(frozen=True)
class ModelParts:
    """The pieces of a causal LM that lenses and steering hook into.

    Attributes
    ----------
    blocks : tuple of nn.Module
        Residual blocks in order.
    block_names : tuple of str
        Their names in ``model.named_modules()``.
    final_norm : nn.Module
        Normalisation applied to the last block's output.
    unembed : nn.Module
        Linear map from the normalised residual stream to logits.
    recurrent : bool
        Whether the model is a recurrent one (Mamba, RWKV).
    """

    blocks: tuple[nn.Module, ...]
    block_names: tuple[str, ...]
    final_norm: nn.Module
    unembed: nn.Module
    recurrent: bool

    @property
    def num_layers(self) -> int:
        """Number of blocks ``L``."""
        return len(self.blocks)

    @property
    def d_model(self) -> int:
        """Width of the residual stream."""
        weight = getattr(self.unembed, "weight", None)
        if weight is None:
            raise ValueError("the unembedding has no weight; cannot infer the width")
        return int(weight.shape[-1])

    def logits(self, hidden: Tensor) -> Tensor:
        """Logits ``unembed(final_norm(hidden))`` (the logit lens)."""
        return self.unembed(self.final_norm(hidden))


def model_parts(
    model: nn.Module,
    *,
    blocks: str | None = None,
    final_norm: str | None = None,
    unembed: str | None = None,
) -> ModelParts:
    """Locate the blocks, final norm and unembedding of a causal LM.

    Parameters
    ----------
    model : nn.Module
        A Hugging Face ``...ForCausalLM`` model (or any module with the same
        pieces).
    blocks, final_norm, unembed : str, optional
        Module names to use instead of the known layouts; give all three for
        an unknown architecture.

    Returns
    -------
    ModelParts
    """
    given = (blocks, final_norm, unembed)
    layouts = [given] if all(given) else list(KNOWN_LAYOUTS)
    if any(given) and not all(given):
        raise ValueError("give all three of blocks, final_norm and unembed, or none")
    for block_path, norm_path, head_path in layouts:
        try:
            block_list = model.get_submodule(block_path)
            norm = model.get_submodule(norm_path)
            head = model.get_submodule(head_path)
        except AttributeError:
            continue
        if not isinstance(block_list, (nn.ModuleList, nn.Sequential)) or len(block_list) == 0:
            continue
        names = tuple(f"{block_path}.{i}" for i in range(len(block_list)))
        model_type = getattr(getattr(model, "config", None), "model_type", "")
        return ModelParts(
            blocks=tuple(block_list),
            block_names=names,
            final_norm=norm,
            unembed=head,
            recurrent=model_type in RECURRENT_MODEL_TYPES,
        )
    if all(given):
        raise KeyError(
            f"model has no module list {blocks!r}, final norm {final_norm!r} or head {unembed!r}"
        )
    raise KeyError(
        f"unknown architecture {type(model).__name__}: load it as a causal LM "
        "(with its language-model head) or name its blocks, final norm and unembedding"
    )


def replace_first_tensor(output: Any, new: Tensor) -> Any:
    """Return ``output`` with its first tensor replaced by ``new``.

    Blocks return a tensor or a tuple whose first element is the hidden
    state; forward hooks that edit the hidden state return this.
    """
    if isinstance(output, Tensor):
        return new
    if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
        return (new, *output[1:])
    if isinstance(output, list) and output and isinstance(output[0], Tensor):
        return [new, *output[1:]]
    raise TypeError(f"cannot edit a module output of type {type(output).__name__}")


@contextmanager
def capture_residuals(parts: ModelParts) -> Iterator[list[Tensor | None]]:
    """Record the residual stream at every layer, ``0`` to ``L``, during a forward pass.

    Parameters
    ----------
    parts : ModelParts
        The model's pieces.

    Yields
    ------
    list of Tensor
        Filled by the next forward pass with ``L + 1`` tensors of shape
        (batch, seq, d): the first block's input, then each block's output.
        Tensors keep their autograd history (wrap the pass in
        ``torch.no_grad()`` when none is needed).
    """
    store: list[Tensor | None] = [None] * (parts.num_layers + 1)

    def pre_hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        store[0] = _module_input(args, kwargs)

    def make_hook(index: int):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            store[index + 1] = _first_tensor(output)

        return hook

    handles = [parts.blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    handles += [block.register_forward_hook(make_hook(i)) for i, block in enumerate(parts.blocks)]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def residuals_and_logits(
    model: nn.Module, parts: ModelParts, input_ids: Tensor
) -> tuple[list[Tensor], Tensor]:
    """Residual stream at every layer and the model's logits, without gradients.

    Parameters
    ----------
    model : nn.Module
        The causal LM.
    parts : ModelParts
        Its pieces.
    input_ids : Tensor of int64, shape (batch, seq)
        Tokens.

    Returns
    -------
    residuals : list of Tensor
        ``L + 1`` tensors of shape (batch, seq, d).
    logits : Tensor, shape (batch, seq, vocab)
    """
    with torch.no_grad(), capture_residuals(parts) as store:
        logits = model(input_ids=input_ids.to(model_device(model))).logits
    missing = [i for i, t in enumerate(store) if t is None]
    if missing:
        raise RuntimeError(f"layers {missing} were not recorded in the forward pass")
    return [t for t in store if t is not None], logits


def model_device(model: nn.Module) -> torch.device:
    """Device of a model's first parameter."""
    return next(model.parameters()).device


def resolve_positions(positions: int | Sequence[int] | slice | None, seq_len: int) -> list[int]:
    """Turn a position specification into sorted, non-negative indices.

    Parameters
    ----------
    positions : int, sequence of int, slice or None
        ``None`` means every position; negative integers count from the end.
    seq_len : int
        Sequence length.

    Returns
    -------
    list of int
    """
    if positions is None:
        return list(range(seq_len))
    if isinstance(positions, slice):
        return list(range(seq_len))[positions]
    items = [positions] if isinstance(positions, int) else list(positions)
    out = []
    for p in items:
        q = p + seq_len if p < 0 else p
        if not 0 <= q < seq_len:
            raise ValueError(f"position {p} is outside a sequence of length {seq_len}")
        out.append(q)
    return sorted(set(out))
