"""Per-text losses under a causal language model, with and without a prefix (surprisal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class TextLoss(Protocol):
    """Anything giving the mean next-token loss (nats per token) of texts after prefixes."""

    def loss(self, prefixes: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Mean negative log-likelihood of each text's tokens given its prefix."""
        ...


class CausalLMLoss:
    """Mean per-token negative log-likelihood of a text under a causal LM.

    The prefix and the text are tokenised separately and concatenated, so
    the text's tokens are the same with and without a prefix; only the
    text's tokens are scored (the first one given the prefix, or the BOS
    token when the tokenizer has one and the prefix is empty).

    Parameters
    ----------
    model, tokenizer
        A transformers causal LM and its tokenizer (e.g. from
        :func:`interp.models.bundled.load_causal_lm`).
    name : str
        Name recorded in result tables.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str = "lm") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def loss(self, prefixes: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Mean NLL (nats) of each text's tokens after its prefix; shape (n,)."""
        import torch

        if len(prefixes) != len(texts):
            raise ValueError(f"{len(prefixes)} prefixes for {len(texts)} texts")
        bos = self.tokenizer.bos_token_id
        device = next(self.model.parameters()).device
        out = np.empty(len(texts))
        for i, (prefix, text) in enumerate(zip(prefixes, texts, strict=True)):
            head = self._ids(prefix) if prefix else []
            if not head:
                head = [bos] if bos is not None else []
            body = self._ids(text)
            if not body:
                raise ValueError(f"text {i} has no tokens")
            if not head:  # no context for the first token: score from the second on
                head, body = body[:1], body[1:]
            ids = torch.tensor([head + body], device=device)
            with torch.no_grad():
                logits = self.model(input_ids=ids).logits[0, len(head) - 1 : -1].float()
            target = ids[0, len(head) :]
            out[i] = float(torch.nn.functional.cross_entropy(logits, target))
        return out
