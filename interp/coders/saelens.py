"""SAELens's on-disk layout for sparse autoencoders, read and written.

A SAELens SAE folder holds

``cfg.json``
    ``architecture`` (``"standard"``, ``"topk"``, ``"jumprelu"``, ...),
    ``d_in``, ``d_sae``, ``dtype``, ``apply_b_dec_to_input``,
    ``normalize_activations``, ``reshape_activations``, ``k`` (TopK),
    ``rescale_acts_by_decoder_norm`` (TopK) and a free ``metadata`` dict;
    older files have no ``architecture`` and give the activation as
    ``activation_fn_str`` / ``activation_fn`` with ``activation_fn_kwargs``.
``sae_weights.safetensors``
    ``W_enc`` (d_in, d_sae), ``W_dec`` (d_sae, d_in), ``b_enc`` (d_sae,),
    ``b_dec`` (d_in,) and, for JumpReLU, ``threshold`` (d_sae,).

SAELens encodes ``pre = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc``;
standard SAEs keep ``relu(pre)``, TopK SAEs the ``k`` largest (then ReLU),
JumpReLU SAEs ``relu(pre) * (pre > threshold)``; all decode
``z @ W_dec + b_dec``. These map onto this package's ReLU, TopK and JumpReLU
coders with ``encoder.weight = W_enc^T``: an exact copy of every tensor. An
SAE with ``apply_b_dec_to_input = false`` is loaded with the centring folded
into the encoder bias, ``b_enc + W_enc^T b_dec`` (computed in float64; equal
to rounding). Input normalisation, ``hook_z`` reshaping, decoder-norm
rescaling and the other architectures (gated, batch-TopK, transcoders, ...)
change the computation and are refused with a message.

Writing stores this package's configuration under
``metadata["interp_coder_config"]``, so training flags (``normalize_decoder``,
``expansion_factor``) survive a round trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.coders.sparse_coder import SparseCoder, build_coder
from interp.coders.config import CoderConfig
from interp.coders.io import CoderFormatError

SAELENS_CONFIG_FILE = "cfg.json"
SAELENS_WEIGHTS_FILE = "sae_weights.safetensors"
METADATA_KEY = "interp_coder_config"
ARCHITECTURES = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}


class SAELensFormatError(CoderFormatError):
    """A SAELens folder that this package cannot represent exactly."""


def is_saelens_folder(path: str | Path) -> bool:
    """Whether ``path`` holds SAELens's ``sae_weights.safetensors``."""
    return (Path(path) / SAELENS_WEIGHTS_FILE).is_file()


def _architecture(cfg: dict[str, Any], where: Path) -> tuple[str, int]:
    """This package's activation and ``k`` for a SAELens configuration."""
    architecture = cfg.get("architecture", "standard")
    fn = cfg.get("activation_fn_str", cfg.get("activation_fn", "relu"))
    kwargs = cfg.get("activation_fn_kwargs") or {}
    if architecture == "standard" and fn == "topk":  # older SAELens TopK files
        return "topk", int(kwargs["k"])
    if architecture not in ARCHITECTURES:
        raise SAELensFormatError(
            f"{where}: SAELens architecture {architecture!r} is not supported; "
            f"supported: {', '.join(ARCHITECTURES)}"
        )
    if architecture == "standard" and fn != "relu":
        raise SAELensFormatError(f"{where}: activation {fn!r} is not supported (only relu)")
    if architecture == "topk":
        return "topk", int(cfg.get("k", kwargs.get("k", 0)))
    return ARCHITECTURES[architecture], 0


def _check_supported(cfg: dict[str, Any], where: Path) -> None:
    norm = cfg.get("normalize_activations", "none") or "none"
    if norm != "none":
        raise SAELensFormatError(
            f"{where}: normalize_activations={norm!r} rescales the inputs, which coders here do "
            "not do; fold the scale into the weights first"
        )
    if (cfg.get("reshape_activations", "none") or "none") != "none" or cfg.get("hook_z_reshaping"):
        raise SAELensFormatError(
            f"{where}: hook_z reshaping is not supported; flatten the heads into d_in"
        )
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise SAELensFormatError(
            f"{where}: rescale_acts_by_decoder_norm changes the TopK choice and is not supported"
        )


def read_saelens_config(path: str | Path) -> tuple[CoderConfig, int, dict[str, Any]]:
    """Read a SAELens ``cfg.json`` as this package's configuration.

    Parameters
    ----------
    path : str or Path
        SAELens SAE folder.

    Returns
    -------
    tuple of (CoderConfig, int, dict)
        The configuration, ``d_in`` and the raw SAELens dictionary.
    """
    path = Path(path)
    cfg_path = path / SAELENS_CONFIG_FILE
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{path} has no {SAELENS_CONFIG_FILE}; not a SAELens folder")
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        d_in, d_sae = int(raw["d_in"]), int(raw["d_sae"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise SAELensFormatError(f"{cfg_path}: invalid SAELens configuration ({err})") from err
    _check_supported(raw, cfg_path)
    activation, k = _architecture(raw, cfg_path)
    stored = (raw.get("metadata") or {}).get(METADATA_KEY)
    if isinstance(stored, dict):
        cfg = CoderConfig.from_dict(stored)
        if cfg.activation != activation or cfg.latents_for(d_in) != d_sae:
            raise SAELensFormatError(f"{cfg_path}: metadata {METADATA_KEY} contradicts the file")
        return cfg, d_in, raw
    cfg = CoderConfig(
        activation=activation,  # type: ignore[arg-type]
        num_latents=d_sae,
        k=k,
        normalize_decoder=False,  # SAELens SAEs need not have unit decoder rows
    )
    return cfg, d_in, raw


def _expected_shapes(activation: str, d_in: int, d_sae: int) -> dict[str, tuple[int, ...]]:
    shapes = {
        "W_enc": (d_in, d_sae),
        "W_dec": (d_sae, d_in),
        "b_enc": (d_sae,),
        "b_dec": (d_in,),
    }
    if activation == "jumprelu":
        shapes["threshold"] = (d_sae,)
    return shapes


def load_saelens(path: str | Path) -> SparseCoder:
    """Load a SAELens SAE folder as a coder (tensors copied exactly).

    Parameters
    ----------
    path : str or Path
        Folder with ``cfg.json`` and ``sae_weights.safetensors``.

    Returns
    -------
    SparseCoder
        A ReLU, TopK or JumpReLU autoencoder in the stored dtype.
    """
    path = Path(path)
    cfg, d_in, raw = read_saelens_config(path)
    weights = path / SAELENS_WEIGHTS_FILE
    with safe_open(str(weights), framework="pt", device="cpu") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    expected = _expected_shapes(cfg.activation, d_in, cfg.latents_for(d_in))
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise SAELensFormatError(
            f"{weights}: SAELens parameters do not match cfg.json (missing {missing}, "
            f"unexpected {extra}); expected {sorted(expected)}"
        )
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise SAELensFormatError(
                f"{weights}: {name} has shape {tuple(tensors[name].shape)}, expected {shape}"
            )
    dtype = tensors["W_enc"].dtype
    b_enc = tensors["b_enc"]
    if not raw.get("apply_b_dec_to_input", True):
        folded = b_enc.double() + tensors["b_dec"].double() @ tensors["W_enc"].double()
        b_enc = folded.to(dtype)
    coder = build_coder(d_in, cfg, seed=0, dtype=dtype)
    state = {
        "encoder.weight": tensors["W_enc"].T.contiguous(),
        "encoder.bias": b_enc,
        "W_dec": tensors["W_dec"],
        "b_dec": tensors["b_dec"],
    }
    if "threshold" in tensors:
        state["threshold"] = tensors["threshold"]
    coder.load_state_dict(state)
    return coder


def save_saelens(
    coder: SparseCoder, path: str | Path, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Write a coder in SAELens's layout (``cfg.json`` + ``sae_weights.safetensors``).

    Parameters
    ----------
    coder : SparseCoder
        A ReLU, TopK or JumpReLU autoencoder (no transcoder, no skip term).
    path : str or Path
        Folder; created if needed.
    metadata : dict, optional
        Extra entries for SAELens's ``metadata`` (``model_name``,
        ``hook_name``, ...).

    Returns
    -------
    Path
        The folder.
    """
    cfg = coder.cfg
    if cfg.transcode or cfg.skip_connection:
        raise SAELensFormatError(
            "the SAELens layout here covers autoencoders; save transcoders and skip coders in "
            "the sparsify layout (format='sparsify')"
        )
    reverse = {v: k for k, v in ARCHITECTURES.items()}
    if cfg.activation not in reverse:
        raise SAELensFormatError(
            f"SAELens has no {cfg.activation} SAE; save it in the sparsify layout instead"
        )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Tensor] = {
        "W_enc": coder.encoder.weight.detach().T.contiguous().cpu(),
        "W_dec": coder.W_dec.detach().contiguous().cpu(),
        "b_enc": coder.encoder.bias.detach().contiguous().cpu(),
        "b_dec": coder.b_dec.detach().contiguous().cpu(),
    }
    if cfg.activation == "jumprelu":
        threshold = coder.threshold  # type: ignore[union-attr]
        tensors["threshold"] = threshold.detach().contiguous().cpu()
    save_file(tensors, str(path / SAELENS_WEIGHTS_FILE))
    data: dict[str, Any] = {
        "architecture": reverse[cfg.activation],
        "d_in": coder.d_in,
        "d_sae": coder.num_latents,
        "dtype": str(coder.dtype).removeprefix("torch."),
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {**(metadata or {}), METADATA_KEY: cfg.to_dict()},
    }
    if cfg.activation == "topk":
        data["k"] = cfg.k
        data["rescale_acts_by_decoder_norm"] = False
    with open(path / SAELENS_CONFIG_FILE, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    return path

