"""Reading and writing coders and activation tensors.

Coders use the reference on-disk layout: one folder per hook point holding

``cfg.json``
    the :class:`~interp.config.CoderConfig` fields plus ``d_in``;
``sae.safetensors``
    the parameters ``encoder.weight``, ``encoder.bias``, ``W_dec``, ``b_dec``
    and, for skip coders, ``W_skip``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.coders import SparseCoder, build_coder
from interp.config import CoderConfig

CONFIG_FILE = "cfg.json"
WEIGHTS_FILE = "sae.safetensors"


class CoderFormatError(ValueError):
    """A folder or file is not a readable coder or activation tensor."""


def save_coder(coder: SparseCoder, path: str | Path) -> Path:
    """Write ``cfg.json`` and ``sae.safetensors`` into the folder ``path``.

    Parameters
    ----------
    coder : SparseCoder
        The coder to save.
    path : str or Path
        Folder for this hook point; created if needed.

    Returns
    -------
    Path
        The folder.
    """
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
    """Load a coder saved in the reference layout.

    Parameters
    ----------
    path : str or Path
        Folder holding ``cfg.json`` and ``sae.safetensors``.
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
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{path} has no {WEIGHTS_FILE}")
    with safe_open(str(weights), framework="pt", device="cpu") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    if not tensors:
        raise CoderFormatError(f"{weights} holds no tensors")
    stored_dtype = next(iter(tensors.values())).dtype
    coder = build_coder(d_in, cfg, seed=0, dtype=stored_dtype)
    expected = {name: tuple(p.shape) for name, p in coder.named_parameters()}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CoderFormatError(
            f"{weights}: parameters do not match {CONFIG_FILE} "
            f"(missing {missing}, unexpected {extra})"
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
