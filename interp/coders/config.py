"""Configuration of one sparse coder, as stored in ``cfg.json``.

The field names follow the reference on-disk convention (one folder per hook
point holding ``cfg.json`` and ``sae.safetensors``; ``cfg.json`` carries the
fields below plus ``d_in``), so sparsify checkpoints load and re-save with
every flag kept (``multi_topk``, ``groupmax``). Unknown fields are ignored
when reading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Activation = Literal["topk", "groupmax", "relu", "jumprelu"]

ACTIVATIONS: tuple[str, ...] = ("topk", "groupmax", "relu", "jumprelu")
SPARSE_ACTIVATIONS: tuple[str, ...] = ("topk", "groupmax")
"""Activations that keep a fixed number ``k`` of latents per row."""


@dataclass(frozen=True)
class CoderConfig:
    """Architecture of a sparse coder.

    Parameters
    ----------
    activation : {"topk", "groupmax", "relu", "jumprelu"}
        ``"topk"`` keeps the ``k`` largest ReLU pre-activations per row;
        ``"groupmax"`` splits the latents into ``k`` equal contiguous groups
        and keeps the largest of each (sparsify's alternative);
        ``"relu"`` keeps every positive pre-activation (trained with an L1
        penalty, see :class:`interp.coders.training.TrainConfig`); ``"jumprelu"``
        keeps pre-activations above a per-latent threshold (SAELens JumpReLU
        SAEs; loaded, not trained here).
    expansion_factor : int
        Number of latents as a multiple of the input width, used when
        ``num_latents`` is 0.
    normalize_decoder : bool
        Keep decoder rows at unit norm during training. Only applies to
        autoencoders; transcoder decoders are never normalised.
    num_latents : int
        Number of latents; 0 means ``expansion_factor * d_in``.
    k : int
        Number of active latents per row for ``"topk"`` and ``"groupmax"``
        (the number of groups); unused otherwise.
    multi_topk : bool
        Train with sparsify's Multi-TopK term: also decode the ``4 k``
        largest pre-activations and add their FVU / 8 to the loss. Only
        training reads it; encoding always keeps ``k``.
    skip_connection : bool
        Add an affine skip term ``W_skip x`` (a skip transcoder when combined
        with ``transcode``).
    transcode : bool
        Predict a module's output from its input (a transcoder) instead of
        reconstructing the input (an autoencoder).
    """

    activation: Activation = "topk"
    expansion_factor: int = 32
    normalize_decoder: bool = True
    num_latents: int = 0
    k: int = 32
    multi_topk: bool = False
    skip_connection: bool = False
    transcode: bool = False

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; expected one of {ACTIVATIONS}"
            )
        if self.num_latents < 0:
            raise ValueError(f"num_latents must be >= 0, got {self.num_latents}")
        if self.num_latents == 0 and self.expansion_factor < 1:
            raise ValueError(
                f"expansion_factor must be >= 1 when num_latents is 0, got {self.expansion_factor}"
            )
        if self.activation in SPARSE_ACTIVATIONS and self.k < 1:
            raise ValueError(f"k must be >= 1 for a {self.activation} coder, got {self.k}")
        if self.multi_topk and self.activation != "topk":
            raise ValueError(f"multi_topk needs the topk activation, not {self.activation!r}")

    def latents_for(self, d_in: int) -> int:
        """Number of latents for an input of width ``d_in``.

        Parameters
        ----------
        d_in : int
            Input width.

        Returns
        -------
        int
            ``num_latents`` if set, else ``expansion_factor * d_in``.
        """
        n = self.num_latents or self.expansion_factor * d_in
        if self.activation in SPARSE_ACTIVATIONS and self.k > n:
            raise ValueError(f"k = {self.k} exceeds the number of latents {n}")
        if self.activation == "groupmax" and n % self.k:
            raise ValueError(f"groupmax needs the {n} latents to split into k = {self.k} groups")
        return n

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary of the fields, as written to ``cfg.json``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoderConfig:
        """Build a configuration from a ``cfg.json`` dictionary.

        Unknown keys (``d_in``, ``multi_topk``, ``signed``...) are ignored; a
        missing ``activation`` means TopK, as in older reference checkpoints.

        Parameters
        ----------
        data : dict
            Parsed ``cfg.json``.

        Returns
        -------
        CoderConfig
        """
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})
