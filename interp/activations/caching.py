"""Fill an :class:`~interp.activations.examples.ActivationCache` from a model and a sparse coder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.activations.examples import ActivationCache

if TYPE_CHECKING:
    from interp.coders.sparse_coder import SparseCoder


def cache_activations(
    model: Any,
    coder: SparseCoder,
    tokens: Any,
    module: str,
    latents: Sequence[int] | None = None,
    *,
    batch_size: int = 8,
    progress: bool | None = False,
) -> ActivationCache:
    """Run a token corpus through a model and record a coder's latents at one module.

    The coder reads the module's output (an SAE) or its input (a
    transcoder), as it was trained.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(input_ids=batch)``.
    coder : SparseCoder
        A coder whose ``d_in`` matches the module's width.
    tokens : Tensor or ndarray of int, shape (rows, ctx_len)
        The corpus in rows (e.g. from :func:`interp.models.hf.tokenize_corpus`).
    module : str
        Module name in ``model.named_modules()``, e.g. ``"model.layers.3.mlp"``.
    latents : sequence of int, optional
        Latents to keep; default all.
    batch_size : int
        Rows per forward pass.
    progress : bool or None
        Show a bar of the rows run (``None``: only on a terminal).

    Returns
    -------
    ActivationCache
    """
    import torch
    from tqdm.auto import tqdm

    from interp.activations.hooks import ActivationRecorder

    ids = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    if ids.ndim != 2:
        raise ValueError(f"tokens must have shape (rows, ctx_len), got {tuple(ids.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    keep = np.arange(coder.num_latents) if latents is None else np.asarray(latents, np.int64)
    if keep.size == 0 or keep.min() < 0 or keep.max() >= coder.num_latents:
        raise ValueError(f"latents must be in [0, {coder.num_latents}), got {keep.tolist()[:8]}")
    keep_t = torch.as_tensor(keep)
    rows, ctx_len = ids.shape
    transcoder = coder.is_transcoder
    device = next(model.parameters()).device
    out = np.zeros((keep.size, rows, ctx_len), dtype=np.float32)
    with tqdm(
        total=rows,
        desc="caching activations",
        unit="row",
        leave=False,
        disable=None if progress is None else not progress,
    ) as bar:
        for start in range(0, rows, batch_size):
            batch = ids[start : start + batch_size]
            with torch.no_grad():
                with ActivationRecorder(
                    model, [module], inputs=transcoder, outputs=not transcoder
                ) as rec:
                    rec.run(input_ids=batch.to(device))
                acts = rec.collected()[module]
                x = acts.input if transcoder else acts.output
                if x.shape[-1] != coder.d_in:
                    raise ValueError(
                        f"module {module} has width {x.shape[-1]} but the coder expects "
                        f"{coder.d_in}"
                    )
                latents_out = coder.encode(x.to(device=coder.device, dtype=coder.dtype))
                chosen = latents_out.dense(coder.num_latents)[:, keep_t].float().cpu().numpy()
            out[:, start : start + batch.shape[0]] = chosen.T.reshape(keep.size, -1, ctx_len)
            bar.update(batch.shape[0])
    return ActivationCache(ids.numpy(), keep, out)
