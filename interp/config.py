"""Configuration of one sparse coder, as stored in ``cfg.json``.

The field names follow the reference on-disk convention (one folder per hook
point holding ``cfg.json`` and ``sae.safetensors``; ``cfg.json`` carries the
fields below plus ``d_in``), so published checkpoints in that layout load.
Fields this package does not use (for example ``multi_topk``) are ignored when
reading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Activation = Literal["topk", "relu"]

ACTIVATIONS: tuple[str, ...] = ("topk", "relu")


@dataclass(frozen=True)
class CoderConfig:
    """Architecture of a sparse coder.

    Parameters
    ----------
    activation : {"topk", "relu"}
        ``"topk"`` keeps the ``k`` largest ReLU pre-activations per row;
        ``"relu"`` keeps every positive pre-activation (trained with an L1
        penalty, see :class:`interp.training.TrainConfig`).
    expansion_factor : int
        Number of latents as a multiple of the input width, used when
        ``num_latents`` is 0.
    normalize_decoder : bool
        Keep decoder rows at unit norm during training. Only applies to
        autoencoders; transcoder decoders are never normalised.
    num_latents : int
        Number of latents; 0 means ``expansion_factor * d_in``.
    k : int
        Number of active latents per row for ``"topk"``; unused for ``"relu"``.
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
        if self.activation == "topk" and self.k < 1:
            raise ValueError(f"k must be >= 1 for a TopK coder, got {self.k}")

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
        if self.activation == "topk" and self.k > n:
            raise ValueError(f"k = {self.k} exceeds the number of latents {n}")
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
