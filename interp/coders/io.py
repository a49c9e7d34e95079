"""Reading and writing coders and activation tensors.

Coders use the reference (sparsify) on-disk layout: one folder per hook point
holding

``cfg.json``
    the :class:`~interp.coders.config.CoderConfig` fields plus ``d_in``;
``sae.safetensors``
    the parameters ``encoder.weight``, ``encoder.bias``, ``W_dec``, ``b_dec``,
    for skip coders ``W_skip`` and, for JumpReLU coders, ``threshold``.

:func:`load_coder` also reads SAELens folders (``cfg.json`` +
``sae_weights.safetensors``, see :mod:`interp.coders.saelens`), telling the two
apart by the weights file. :func:`save_coder` writes ``format="native"``
(every coder), ``"sparsify"`` (the same files, refusing what sparsify cannot
read: ReLU and JumpReLU coders) or ``"saelens"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.coders.sparse_coder import SparseCoder, build_coder
from interp.coders.config import CoderConfig

CONFIG_FILE = "cfg.json"
WEIGHTS_FILE = "sae.safetensors"
FORMATS: tuple[str, ...] = ("native", "sparsify", "saelens")
SPARSIFY_ACTIVATIONS: tuple[str, ...] = ("topk", "groupmax")
"""Activations sparsify's ``SparseCoder`` implements (it has no ReLU or JumpReLU)."""
SAELENS_NAMES = frozenset({"W_enc", "b_enc"})


class CoderFormatError(ValueError):
    """A folder or file is not a readable coder or activation tensor."""


def save_coder(coder: SparseCoder, path: str | Path, *, format: str = "native") -> Path:
    """Write a coder into the folder ``path``.

    Parameters
    ----------
    coder : SparseCoder
        The coder to save.
    path : str or Path
        Folder for this hook point; created if needed.
    format : {"native", "sparsify", "saelens"}
        ``"native"``: ``cfg.json`` + ``sae.safetensors`` for every coder;
        ``"sparsify"``: the same files, refusing ReLU and JumpReLU coders
        (sparsify cannot read them); ``"saelens"``: ``cfg.json`` +
        ``sae_weights.safetensors`` (autoencoders only, see
        :func:`interp.coders.saelens.save_saelens`).

    Returns
    -------
    Path
        The folder.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown coder format {format!r}; expected one of {FORMATS}")
    if format == "saelens":
        from interp.coders.saelens import save_saelens

        return save_saelens(coder, path)
    if format == "sparsify" and coder.cfg.activation not in SPARSIFY_ACTIVATIONS:
        raise CoderFormatError(
            f"sparsify has no {coder.cfg.activation} coder; save it as format='native' (read "
            "here only) or 'saelens' (autoencoders)"
        )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().contiguous().cpu() for name, p in coder.named_parameters()}
    save_file(tensors, str(path / WEIGHTS_FILE))
    with open(path / CONFIG_FILE, "w", encoding="utf-8") as handle:
        json.dump({**coder.cfg.to_dict(), "d_in": coder.d_in}, handle, indent=2)
    return path


def read_config(path: str | Path) -> tuple[CoderConfig, int]:
    """Read a coder folder's ``cfg.json``.

    Parameters
    ----------
    path : str or Path
        Coder folder.

    Returns
    -------
    tuple of (CoderConfig, int)
        The configuration and ``d_in``.
    """
    path = Path(path)
    cfg_path = path / CONFIG_FILE
    if not path.is_dir():
        raise FileNotFoundError(f"no coder folder at {path}")
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{path} has no {CONFIG_FILE}; not a coder folder")
    from interp.coders.saelens import is_saelens_folder, read_saelens_config

    if is_saelens_folder(path):
        cfg, d_in, _ = read_saelens_config(path)
        return cfg, d_in
    try:
        data = json.loads(cfg_path.read_text(encoding="utf-8"))
        d_in = int(data["d_in"])
        cfg = CoderConfig.from_dict(data)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CoderFormatError(f"{cfg_path}: invalid coder configuration ({err})") from err
    return cfg, d_in


def load_coder(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> SparseCoder:
    """Load a coder saved in the reference (sparsify) layout or in SAELens's.

    Parameters
    ----------
    path : str or Path
        Folder holding ``cfg.json`` and ``sae.safetensors`` (sparsify and
        this package) or ``sae_weights.safetensors`` (SAELens).
    device : str or torch.device
        Device of the loaded parameters.
    dtype : torch.dtype, optional
        Convert to this dtype; default keeps the stored dtype.

    Returns
    -------
    SparseCoder
    """
    path = Path(path)
    cfg, d_in = read_config(path)
    from interp.coders.saelens import SAELENS_WEIGHTS_FILE, load_saelens

    if (path / SAELENS_WEIGHTS_FILE).is_file():
        coder = load_saelens(path)
        return coder.to(device=device, dtype=dtype or coder.dtype)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(
            f"{path} has no {WEIGHTS_FILE} (sparsify layout) or {SAELENS_WEIGHTS_FILE} (SAELens)"
        )
    with safe_open(str(weights), framework="pt", device="cpu") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    if not tensors:
        raise CoderFormatError(f"{weights} holds no tensors")
    stored_dtype = next(iter(tensors.values())).dtype
    coder = build_coder(d_in, cfg, seed=0, dtype=stored_dtype)
    expected = {name: tuple(p.shape) for name, p in coder.named_parameters()}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        hint = ""
        if SAELENS_NAMES <= set(tensors):
            hint = (
                f"; these are SAELens parameter names: SAELens folders hold "
                f"{SAELENS_WEIGHTS_FILE}, rename the file to load it"
            )
        raise CoderFormatError(
            f"{weights}: parameters do not match {CONFIG_FILE} "
            f"(missing {missing}, unexpected {extra}){hint}"
        )
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise CoderFormatError(
                f"{weights}: {name} has shape {tuple(tensors[name].shape)}, expected {shape}"
            )
    coder.load_state_dict(tensors)
    return coder.to(device=device, dtype=dtype or stored_dtype)


def load_coders(
    root: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> dict[str, SparseCoder]:
    """Load every coder folder directly under ``root``, keyed by hook point.

    Parameters
    ----------
    root : str or Path
        Folder whose sub-folders each hold one coder.
    device, dtype : optional
        As in :func:`load_coder`.

    Returns
    -------
    dict of str to SparseCoder
        Sorted by folder name.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder at {root}")
    folders = sorted(p for p in root.iterdir() if (p / CONFIG_FILE).is_file())
    if not folders:
        raise FileNotFoundError(f"no coder folders (with {CONFIG_FILE}) under {root}")
    return {p.name: load_coder(p, device=device, dtype=dtype) for p in folders}


def load_activations(path: str | Path, key: str | None = None) -> Tensor:
    """Read an activation matrix from a ``.pt`` or ``.npy`` file.

    Any leading dimensions are flattened, so (batch, seq, d) becomes
    (batch * seq, d).

    Parameters
    ----------
    path : str or Path
        ``.npy`` array, or ``.pt`` file with a tensor or a dict of tensors.
    key : str, optional
        Entry to take from a dict in a ``.pt`` file (needed when it has more
        than one).

    Returns
    -------
    Tensor, shape (n, d), float32
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no activation file at {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data: object = torch.from_numpy(np.load(path, allow_pickle=False))
    elif suffix == ".pt":
        data = torch.load(path, map_location="cpu", weights_only=True)
    else:
        raise CoderFormatError(f"{path}: expected a .pt or .npy file, got '{suffix}'")
    if isinstance(data, dict):
        if key is None:
            if len(data) != 1:
                raise CoderFormatError(
                    f"{path} holds several entries {sorted(data)}; name one with a key"
                )
            key = next(iter(data))
        if key not in data:
            raise CoderFormatError(f"{path} has no entry {key!r} (entries: {sorted(data)})")
        data = data[key]
    if not isinstance(data, Tensor):
        raise CoderFormatError(f"{path} does not hold a tensor")
    if data.ndim < 2 or data.shape[-1] == 0:
        raise CoderFormatError(
            f"{path}: expected an activation matrix (..., d), got shape {tuple(data.shape)}"
        )
    if not data.is_floating_point():
        raise CoderFormatError(f"{path}: expected floating-point activations, got {data.dtype}")
    return data.reshape(-1, data.shape[-1]).to(torch.float32)
