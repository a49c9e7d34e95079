"""Sparse coders on language-model activations and tools to study them.

The package is a sibling of the nanopore toolkit and shares nothing with it.
It needs the optional ``interp`` extra (``pip install .[interp]``), which
provides :mod:`torch`, :mod:`safetensors` and :mod:`transformers`.

Subpackages, in the order of a study
------------------------------------
coders
    Stage 1: sparse coders (TopK, GroupMax, ReLU, JumpReLU; SAEs, transcoders,
    skip transcoders), training, evaluation, seed matching, file layouts
    (sparsify, SAELens).
models
    The language and embedding models the stages run (bundled SmolLM2 and
    MiniLM, local Hugging Face folders, architecture parts).
activations
    Stage 2: hooks, latent activation caches and each latent's examples.
judges
    Stage 3: the judge protocol and reply parser, HTTP, local and scripted
    judges, prompts and the explainer.
scorers
    Stage 4: scorers of latents with and without explanations, their metrics,
    summaries across latents and result tables.
interventions
    Stage 5: logit and tuned lenses, steering, intervention scoring, partial
    rewrites.
verification
    Stage 6: precision and recall of model-reported manuscript errors.
cli
    The ``interp`` command line, split by stage the same way.
studies
    Runnable studies, e.g. ``python -m interp.studies.seed_dependence``.
seeding
    Seeds and generators shared by every stage.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
