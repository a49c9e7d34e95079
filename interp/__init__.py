"""Sparse coders on language-model activations and tools to study them.

The package is a sibling of the nanopore toolkit and shares nothing with it.
It needs the optional ``interp`` extra (``pip install .[interp]``), which
provides :mod:`torch`, :mod:`safetensors` and :mod:`transformers`.

Modules
-------
config
    :class:`CoderConfig`, the on-disk configuration of one sparse coder.
coders
    TopK and ReLU sparse coders (SAEs, transcoders, skip transcoders).
metrics
    Fraction of variance unexplained, L0 and whole-dataset evaluation.
io
    Save and load coders in the ``cfg.json`` + ``sae.safetensors`` layout.
training
    Training loop: one coder per seed, dead-latent tracking, checkpoints.
calibration
    Bisection of the L1 coefficient to reach a target L0.
hooks
    Forward hooks that capture module inputs and outputs of a model.
hf
    Activations of a local Hugging Face model over a text corpus.
synthetic
    Synthetic activations with known ground-truth features.
matching
    Hungarian matching of latents across coders; ground-truth recovery.
examples, caching
    Activation caches over a token corpus, windows, rank quantiles,
    non-activating examples and highlighting.
judges, judge_http, judge_local, bundled
    The judge protocol; OpenAI-compatible HTTP, local transformers
    (bundled SmolLM2-135M-Instruct) and scripted judges.
explain, prompts, scorers, scoring_metrics, embedding, language_model, results
    Explanations, their scorers (detection, fuzzing, simulation, embedding,
    surprisal; explanation-free intruder and example-embedding), metrics and
    per-latent result tables.
cli
    The ``interp`` command line (``cli_scoring``: ``explain`` and ``score``).
studies
    Runnable studies, e.g. ``python -m interp.studies.seed_dependence``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
