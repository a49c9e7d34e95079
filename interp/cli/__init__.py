"""The ``interp`` command line, split by stage like the package.

``coders``
    ``train``, ``overlap``, ``convert``.
``scoring``
    ``explain`` and ``score`` (judges and scorers).
``interventions``
    ``lens``, ``steer``, ``intervene``, ``rewrite``.
``verification``
    ``spot``.
``common``
    The helpers they share (one-line errors, flag-named load errors, tables).
"""

from __future__ import annotations

import click

from interp import __version__
from interp.cli import coders, interventions, scoring, verification


@click.group(name="interp")
@click.version_option(version=__version__, prog_name="interp")
def main() -> None:
    """Sparse coders on language-model activations and the study of their latents.

    \b
    coders         train (TopK, GroupMax, ReLU; SAEs and transcoders), overlap
                   (latents shared across seeds), convert (sparsify/SAELens files)
    explanations   explain (a judge explains latents), score (detection, fuzzing,
                   simulation, embedding, surprisal, intruder, example-embedding)
    interventions  lens (logit and tuned lens), steer (activation addition),
                   intervene (intervention scoring), rewrite (MLP partial rewrite)
    verification   spot (reported vs annotated errors over repeated runs)

    Models are 'smollm2' (bundled) or local Hugging Face folders.
    """


for _command in (
    *coders.COMMANDS,
    scoring.explain,
    scoring.score,
    *interventions.COMMANDS,
    *verification.COMMANDS,
):
    main.add_command(_command)

__all__ = ["main"]
