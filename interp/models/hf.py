"""Activations of a Hugging Face model on a small text corpus.

Loads a model and its tokenizer from a local folder (downloads only when
explicitly allowed) or, by the name ``"smollm2"``, the bundled
SmolLM2-135M-Instruct (see :mod:`interp.models.bundled`), cuts the tokenised corpus
into fixed-length sequences and records the inputs and/or outputs of named modules with
:mod:`interp.activations.hooks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from interp.models.bundled import SMOLLM2
from interp.activations.hooks import HookActivations, collect_activations


def check_source(path: str | Path, allow_download: bool) -> None:
    """Check that a model source loads: the bundled name, a local folder, or downloads allowed.

    Raises ``FileNotFoundError`` (naming the ways to give a model) otherwise.

    Parameters
    ----------
    path : str or Path
        ``"smollm2"``, a local model folder or (with downloads) a hub id.
    allow_download : bool
        Whether fetching from the hub is allowed.
    """
    if is_bundled(path):
        return
    if not allow_download and not Path(path).is_dir():
        raise FileNotFoundError(
            f"no model folder at {path}; give a local Hugging Face folder, '{SMOLLM2}' for the "
            "bundled SmolLM2-135M-Instruct, or --allow-download (allow_download=True) to fetch "
            "a hub model"
        )


def is_bundled(source: str | Path) -> bool:
    """Whether ``source`` names the bundled model (``"smollm2"``) rather than a folder."""
    return str(source) == SMOLLM2


def _bundled(device: str | torch.device) -> tuple[nn.Module, Any]:
    from interp.models.bundled import load_causal_lm as load_bundled

    return load_bundled(SMOLLM2, str(device))


def _from_pretrained(auto_class: str, path: str | Path, device: str | torch.device,
                     allow_download: bool) -> nn.Module:
    """Load with ``transformers.<auto_class>`` from a local folder (or the hub if allowed)."""
    import transformers

    check_source(path, allow_download)
    loader = getattr(transformers, auto_class)
    model = loader.from_pretrained(str(path), local_files_only=not allow_download)
    return model.to(device).eval()


def load_model(
    path: str | Path, *, device: str | torch.device = "cpu", allow_download: bool = False
) -> nn.Module:
    """Load a base model (no task head) with ``transformers.AutoModel``.

    Parameters
    ----------
    path : str or Path
        Local model folder, a hub id when ``allow_download``, or ``"smollm2"``
        for the bundled SmolLM2-135M-Instruct, which always comes as the
        causal LM (modules named like ``model.layers.3.mlp``).
    device : str or torch.device
        Where to put the model.
    allow_download : bool
        Allow fetching from the model hub.

    Returns
    -------
    nn.Module
        The model in evaluation mode.
    """
    if is_bundled(path):
        return _bundled(device)[0]
    return _from_pretrained("AutoModel", path, device, allow_download)


def load_causal_lm(
    path: str | Path, *, device: str | torch.device = "cpu", allow_download: bool = False
) -> nn.Module:
    """Load a causal LM (with its language-model head) with ``AutoModelForCausalLM``.

    Parameters are those of :func:`load_model`.

    Returns
    -------
    nn.Module
        The model in evaluation mode (the shared, cached model for ``"smollm2"``).
    """
    if is_bundled(path):
        return _bundled(device)[0]
    return _from_pretrained("AutoModelForCausalLM", path, device, allow_download)


def load_tokenizer(path: str | Path, *, allow_download: bool = False) -> Any:
    """Load the tokenizer stored with a model (``transformers.AutoTokenizer``).

    ``"smollm2"`` gives the bundled model's tokenizer.
    """
    from transformers import AutoTokenizer

    if is_bundled(path):
        return _bundled("cpu")[1]
    check_source(path, allow_download)
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=not allow_download)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(f"no usable tokenizer in {path} ({err})") from err


def tokenize_corpus(
    tokenizer: Any, path: str | Path, ctx_len: int, max_tokens: int | None = None
) -> Tensor:
    """Tokenise a text file and cut it into sequences of ``ctx_len`` tokens.

    The tail that does not fill a whole sequence is dropped.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Called as ``tokenizer(text, add_special_tokens=False)``.
    path : str or Path
        UTF-8 text file.
    ctx_len : int
        Tokens per sequence.
    max_tokens : int, optional
        Use at most this many tokens.

    Returns
    -------
    Tensor of int64, shape (n_sequences, ctx_len)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no corpus file at {path}")
    if ctx_len < 1:
        raise ValueError(f"ctx_len must be >= 1, got {ctx_len}")
    text = path.read_text(encoding="utf-8")
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if max_tokens is not None:
        ids = ids[:max_tokens]
    n_seq = len(ids) // ctx_len
    if n_seq == 0:
        raise ValueError(f"{path} has {len(ids)} tokens, fewer than one sequence of {ctx_len}")
    return torch.tensor(ids[: n_seq * ctx_len], dtype=torch.long).reshape(n_seq, ctx_len)


def model_activations(
    model_path: str | Path,
    corpus_path: str | Path,
    module_names: Sequence[str],
    *,
    inputs: bool = False,
    outputs: bool = True,
    ctx_len: int = 64,
    batch_size: int = 8,
    max_tokens: int | None = None,
    device: str | torch.device = "cpu",
    allow_download: bool = False,
    progress: bool = True,
) -> dict[str, HookActivations]:
    """Record module activations of a model over a text corpus.

    Parameters
    ----------
    model_path : str or Path
        Model folder (with its tokenizer files).
    corpus_path : str or Path
        Text file.
    module_names : sequence of str
        Modules to record, named as in ``model.named_modules()``.
    inputs, outputs : bool
        What to record (transcoders need both).
    ctx_len : int
        Tokens per sequence.
    batch_size : int
        Sequences per forward pass.
    max_tokens : int, optional
        Cap on the corpus tokens used.
    device : str or torch.device
        Where to run the model.
    allow_download : bool
        Allow fetching the model from the hub.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to HookActivations
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = load_model(model_path, device=device, allow_download=allow_download)
    tokenizer = load_tokenizer(model_path, allow_download=allow_download)
    tokens = tokenize_corpus(tokenizer, corpus_path, ctx_len, max_tokens)
    max_positions = getattr(model.config, "max_position_embeddings", None) or getattr(
        model.config, "n_positions", None
    )
    if max_positions is not None and ctx_len > max_positions:
        raise ValueError(f"ctx_len {ctx_len} exceeds the model's {max_positions} positions")
    vocab = getattr(model.config, "vocab_size", None)
    if vocab is not None and int(tokens.max()) >= vocab:
        raise ValueError(f"tokenizer produced id {int(tokens.max())} >= model vocab size {vocab}")
    batches = tokens.split(batch_size)
    return collect_activations(
        model,
        batches,
        module_names,
        inputs=inputs,
        outputs=outputs,
        progress=progress,
        total=len(batches),
    )
