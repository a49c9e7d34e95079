"""Logit lens and tuned lens for transformer and recurrent language models.

The logit lens reads the residual stream ``h`` at layer ``l`` as if it were
the last layer: ``logits = unembed(final_norm(h))``. The tuned lens first
applies a learned affine translator per layer,
``lens_l(h) = unembed(final_norm(h + A_l h + b_l))``, with ``A_l`` and
``b_l`` initialised at zero (so an untrained tuned lens *is* the logit lens)
and trained to minimise ``KL(final || lens_l)``, the divergence of the lens's
next-token distribution from the model's. The model stays frozen.

Layers are numbered as in :mod:`interp.models.architectures`: 0 is the input of the
first block, ``l = 1 .. L`` the output of block ``l - 1``. At layer ``L``
the logit lens equals the model, so its translator receives no gradient and
stays at zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from interp.models.architectures import ModelParts, model_device, model_parts, residuals_and_logits
from interp.seeding import make_generator

LENS_CONFIG_FILE = "lens.json"
LENS_WEIGHTS_FILE = "lens.safetensors"
TUNED_LENS_CONFIG_FILE = "config.json"
TUNED_LENS_WEIGHTS_FILE = "params.pt"
TUNED_LENS_TYPE = "linear_tuned_lens"
LENS_FORMATS: tuple[str, ...] = ("native", "tuned-lens")


def kl_divergence(reference_logits: Tensor, logits: Tensor) -> Tensor:
    """``KL(p || q)`` per position, in nats, from two sets of logits.

    Parameters
    ----------
    reference_logits : Tensor, shape (..., vocab)
        Logits of ``p`` (the model's final distribution).
    logits : Tensor, shape (..., vocab)
        Logits of ``q`` (the lens, or an intervened model).

    Returns
    -------
    Tensor, shape (...)
    """
    log_p = F.log_softmax(reference_logits.float(), dim=-1)
    log_q = F.log_softmax(logits.float(), dim=-1)
    # rounding can make a zero divergence slightly negative
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1).clamp_min(0.0)


class TunedLens(nn.Module):
    """One zero-initialised affine translator per layer.

    Parameters
    ----------
    num_layers : int
        Number of blocks ``L`` of the model; the lens has ``L + 1``
        translators (layers ``0 .. L``).
    d_model : int
        Width of the residual stream.
    """

    def __init__(self, num_layers: int, d_model: int) -> None:
        super().__init__()
        if num_layers < 1 or d_model < 1:
            raise ValueError(f"need num_layers >= 1 and d_model >= 1, got {num_layers}, {d_model}")
        self.num_layers = num_layers
        self.d_model = d_model
        self.translators = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(num_layers + 1))
        for translator in self.translators:
            nn.init.zeros_(translator.weight)
            nn.init.zeros_(translator.bias)

    @classmethod
    def for_model(cls, model: nn.Module, parts: ModelParts | None = None) -> TunedLens:
        """An untrained lens sized for ``model``, on its device."""
        parts = parts or model_parts(model)
        lens = cls(parts.num_layers, parts.d_model)
        return lens.to(model_device(model))

    def translate(self, hidden: Tensor, layer: int) -> Tensor:
        """``h + A_l h + b_l`` for layer ``layer``."""
        if not 0 <= layer <= self.num_layers:
            raise IndexError(f"layer {layer} outside 0..{self.num_layers}")
        translator = self.translators[layer]
        return hidden + translator(hidden.to(translator.weight.dtype)).to(hidden.dtype)

    def logits(self, parts: ModelParts, hidden: Tensor, layer: int) -> Tensor:
        """Next-token logits read from the residual stream at ``layer``."""
        return parts.logits(self.translate(hidden, layer))

    def translator_norms(self) -> Tensor:
        """Frobenius norm of ``[A_l, b_l]`` for every layer, shape (L + 1,)."""
        return torch.stack(
            [
                torch.sqrt(t.weight.detach().pow(2).sum() + t.bias.detach().pow(2).sum())
                for t in self.translators
            ]
        )

    def save(
        self, path: str | Path, *, format: str = "native", base_model: str = ""
    ) -> Path:
        """Write the lens into the folder ``path``.

        Parameters
        ----------
        path : str or Path
            Folder; created if needed.
        format : {"native", "tuned-lens"}
            ``"native"``: ``lens.json`` + ``lens.safetensors`` (all ``L + 1``
            translators). ``"tuned-lens"``: the tuned-lens package's
            ``config.json`` + ``params.pt`` (translators ``0 .. L - 1``
            under the keys ``"<l>.weight"`` and ``"<l>.bias"``; tuned-lens
            keeps no translator for the last layer, so it must be zero, as
            training leaves it).
        base_model : str
            ``base_model_name_or_path`` recorded in a tuned-lens config.

        Returns
        -------
        Path
            The folder.
        """
        if format not in LENS_FORMATS:
            raise ValueError(f"unknown lens format {format!r}; expected one of {LENS_FORMATS}")
        if format == "tuned-lens":
            return self._save_tuned_lens(Path(path), base_model)
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / LENS_CONFIG_FILE).write_text(
            json.dumps({"num_layers": self.num_layers, "d_model": self.d_model}, indent=2) + "\n"
        )
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path / LENS_WEIGHTS_FILE))
        return path

    def _save_tuned_lens(self, path: Path, base_model: str) -> Path:
        last = self.translators[self.num_layers]
        if bool(last.weight.detach().any()) or bool(last.bias.detach().any()):
            raise ValueError(
                f"the translator of the last layer ({self.num_layers}) is not zero; the "
                "tuned-lens layout has none, save in the native format"
            )
        path.mkdir(parents=True, exist_ok=True)
        state = {}
        for layer in range(self.num_layers):
            translator = self.translators[layer]
            state[f"{layer}.weight"] = translator.weight.detach().cpu().clone()
            state[f"{layer}.bias"] = translator.bias.detach().cpu().clone()
        torch.save(state, path / TUNED_LENS_WEIGHTS_FILE)
        config = {
            "base_model_name_or_path": base_model,
            "d_model": self.d_model,
            "num_hidden_layers": self.num_layers,
            "bias": True,
            "base_model_revision": None,
            "unembed_hash": None,
            "lens_type": TUNED_LENS_TYPE,
        }
        (path / TUNED_LENS_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return path

    @classmethod
    def _load_tuned_lens(cls, path: Path) -> TunedLens:
        config_path, weights_path = path / TUNED_LENS_CONFIG_FILE, path / TUNED_LENS_WEIGHTS_FILE
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            d_model, num_layers = int(config["d_model"]), int(config["num_hidden_layers"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{config_path}: invalid tuned-lens configuration ({err})") from None
        lens_type = config.get("lens_type", TUNED_LENS_TYPE)
        if lens_type != TUNED_LENS_TYPE:
            raise ValueError(f"{config_path}: lens_type {lens_type!r} is not {TUNED_LENS_TYPE!r}")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        bias = bool(config.get("bias", True))
        expected = {f"{i}.weight" for i in range(num_layers)}
        if bias:
            expected |= {f"{i}.bias" for i in range(num_layers)}
        if not isinstance(state, dict) or set(state) != expected:
            found = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"{weights_path}: expected the {len(expected)} translator tensors "
                f"'<layer>.weight'/'<layer>.bias' for {num_layers} layers, found {found}"
            )
        lens = cls(num_layers, d_model)
        with torch.no_grad():
            for layer in range(num_layers):
                translator = lens.translators[layer]
                weight = state[f"{layer}.weight"]
                if tuple(weight.shape) != (d_model, d_model):
                    raise ValueError(
                        f"{weights_path}: {layer}.weight has shape {tuple(weight.shape)}, "
                        f"expected {(d_model, d_model)}"
                    )
                translator.weight.copy_(weight.float())
                if bias:
                    translator.bias.copy_(state[f"{layer}.bias"].float())
        return lens

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> TunedLens:
        """Read a lens in the native layout or the tuned-lens package's (told apart by files).

        Parameters
        ----------
        path : str or Path
            Folder with ``lens.json`` + ``lens.safetensors`` or with
            ``config.json`` + ``params.pt`` (read with ``weights_only=True``;
            the last layer's translator is zero).
        device : str or torch.device
            Where to put the lens.

        Returns
        -------
        TunedLens
            Float32 translators.
        """
        from safetensors.torch import load_file

        path = Path(path)
        if (path / TUNED_LENS_CONFIG_FILE).is_file() and (path / TUNED_LENS_WEIGHTS_FILE).is_file():
            return cls._load_tuned_lens(path).to(device)
        if not (path / LENS_CONFIG_FILE).is_file() or not (path / LENS_WEIGHTS_FILE).is_file():
            raise FileNotFoundError(
                f"{path} has no {LENS_CONFIG_FILE} + {LENS_WEIGHTS_FILE} (native) or "
                f"{TUNED_LENS_CONFIG_FILE} + {TUNED_LENS_WEIGHTS_FILE} (tuned-lens)"
            )
        cfg = json.loads((path / LENS_CONFIG_FILE).read_text())
        lens = cls(int(cfg["num_layers"]), int(cfg["d_model"]))
        lens.load_state_dict(load_file(str(path / LENS_WEIGHTS_FILE)))
        return lens.to(device)


@dataclass(frozen=True)
class LensTrainConfig:
    """Optimisation of a tuned lens.

    Parameters
    ----------
    steps : int
        Optimiser steps.
    batch_size : int
        Sequences per step, drawn at random from the training tokens.
    optimizer : {"sgd", "adam"}
        SGD with Nesterov momentum (default) or Adam.
    lr : float
        Peak learning rate.
    momentum : float
        Nesterov momentum (SGD only).
    weight_decay : float
        Decoupled weight decay on the translators.
    warmup_steps : int
        Linear learning-rate warm-up.
    decay : bool
        Decay the learning rate linearly to zero over the last
        ``steps - warmup_steps`` steps.
    seed : int
        Seed of the batch order.

    Notes
    -----
    SGD leaves a translator exactly where the loss has no gradient: at the
    last layer (where the logit lens is already exact) and along directions a
    final LayerNorm ignores (adding a constant to every coordinate). Adam's
    normalised steps turn rounding noise there into a slow drift. SGD is
    stable while ``lr`` stays below about ``2 (1 + momentum) / curvature``;
    if the per-layer KL grows during training, lower ``lr``.
    """

    steps: int = 250
    batch_size: int = 8
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_steps: int = 0
    decay: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(
                f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}"
            )
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def _lr_scale(step: int, config: LensTrainConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if not config.decay:
        return 1.0
    remaining = config.steps - step
    return remaining / max(1, config.steps - config.warmup_steps)


def _layer_losses(
    lens: TunedLens, parts: ModelParts, residuals: Sequence[Tensor], final: Tensor
) -> Tensor:
    return torch.stack(
        [
            kl_divergence(final, lens.logits(parts, h, layer)).mean()
            for layer, h in enumerate(residuals)
        ]
    )


def train_tuned_lens(
    model: nn.Module,
    tokens: Tensor,
    config: LensTrainConfig = LensTrainConfig(),
    *,
    lens: TunedLens | None = None,
    parts: ModelParts | None = None,
    progress: bool = False,
    callback: Callable[[int, Tensor], None] | None = None,
) -> TunedLens:
    """Train a tuned lens on ``KL(final || lens)`` summed over layers.

    Parameters
    ----------
    model : nn.Module
        A causal LM (left unchanged; its parameters get no gradients).
    tokens : Tensor of int64, shape (n_sequences, seq)
        Training sequences.
    config : LensTrainConfig
        Optimisation settings.
    lens : TunedLens, optional
        Lens to continue training; a new zero lens by default.
    parts : ModelParts, optional
        The model's pieces (found automatically by default).
    progress : bool
        Show a progress bar.
    callback : callable, optional
        Called as ``callback(step, per_layer_kl)`` after every step.

    Returns
    -------
    TunedLens
        The trained lens, in evaluation mode.
    """
    if tokens.ndim != 2 or tokens.shape[0] == 0:
        raise ValueError(f"tokens must have shape (n_sequences, seq), got {tuple(tokens.shape)}")
    parts = parts or model_parts(model)
    lens = lens or TunedLens.for_model(model, parts)
    if lens.num_layers != parts.num_layers or lens.d_model != parts.d_model:
        raise ValueError(
            f"lens has {lens.num_layers} layers of width {lens.d_model}; the model has "
            f"{parts.num_layers} of width {parts.d_model}"
        )
    was_training = model.training
    requires_grad = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    lens.train()
    if config.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(
            lens.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.momentum > 0,
            weight_decay=0.0,
        )
    else:
        optimizer = torch.optim.Adam(lens.parameters(), lr=config.lr)
    generator = make_generator(config.seed)
    try:
        for step in tqdm(range(config.steps), desc="tuned lens", disable=not progress):
            rows = torch.randint(0, tokens.shape[0], (config.batch_size,), generator=generator)
            residuals, final = residuals_and_logits(model, parts, tokens[rows])
            scale = _lr_scale(step, config)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * scale
            losses = _layer_losses(lens, parts, residuals, final)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            if config.weight_decay:
                with torch.no_grad():
                    for p in lens.parameters():
                        p.mul_(1.0 - config.lr * scale * config.weight_decay)
            if callback is not None:
                callback(step, losses.detach())
    finally:
        for p, flag in zip(model.parameters(), requires_grad, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    return lens.eval()


@dataclass(frozen=True)
class LensReport:
    """Mean ``KL(final || lens)`` per layer, in nats per token.

    Attributes
    ----------
    layers : tuple of int
        Layer indices ``0 .. L``.
    logit_lens : numpy.ndarray, shape (L + 1,)
        KL of the logit lens.
    tuned_lens : numpy.ndarray or None, shape (L + 1,)
        KL of the tuned lens, if one was given.
    n_tokens : int
        Number of token positions averaged over.
    """

    layers: tuple[int, ...]
    logit_lens: np.ndarray
    tuned_lens: np.ndarray | None
    n_tokens: int

    def rows(self) -> list[list[str]]:
        """Table rows: layer, logit-lens KL, tuned-lens KL (nats)."""
        rows = []
        for i, layer in enumerate(self.layers):
            tuned = "-" if self.tuned_lens is None else f"{self.tuned_lens[i]:.4g}"
            rows.append([str(layer), f"{self.logit_lens[i]:.4g}", tuned])
        return rows

    def to_dict(self) -> dict[str, object]:
        """Plain dictionary (lists instead of arrays), for JSON."""
        out = asdict(self)
        out["logit_lens"] = self.logit_lens.tolist()
        out["tuned_lens"] = None if self.tuned_lens is None else self.tuned_lens.tolist()
        return out


@torch.no_grad()
def evaluate_lenses(
    model: nn.Module,
    tokens: Tensor,
    lens: TunedLens | None = None,
    *,
    parts: ModelParts | None = None,
    batch_size: int = 16,
) -> LensReport:
    """Per-layer KL of the logit lens (and of a tuned lens) on held-out tokens.

    Parameters
    ----------
    model : nn.Module
        The causal LM.
    tokens : Tensor of int64, shape (n_sequences, seq)
        Evaluation sequences (keep them apart from the training ones).
    lens : TunedLens, optional
        A trained tuned lens to compare.
    parts : ModelParts, optional
        The model's pieces.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    LensReport
    """
    if tokens.ndim != 2 or tokens.shape[0] == 0:
        raise ValueError(f"tokens must have shape (n_sequences, seq), got {tuple(tokens.shape)}")
    parts = parts or model_parts(model)
    n_layers = parts.num_layers + 1
    logit_sum = torch.zeros(n_layers, dtype=torch.float64)
    tuned_sum = torch.zeros(n_layers, dtype=torch.float64)
    n_tokens = 0
    for batch in tokens.split(batch_size):
        residuals, final = residuals_and_logits(model, parts, batch)
        for layer, h in enumerate(residuals):
            logit_sum[layer] += kl_divergence(final, parts.logits(h)).sum().double().cpu()
            if lens is not None:
                tuned_kl = kl_divergence(final, lens.logits(parts, h, layer))
                tuned_sum[layer] += tuned_kl.sum().double().cpu()
        n_tokens += batch.numel()
    return LensReport(
        layers=tuple(range(n_layers)),
        logit_lens=(logit_sum / n_tokens).numpy(),
        tuned_lens=None if lens is None else (tuned_sum / n_tokens).numpy(),
        n_tokens=n_tokens,
    )
