"""Helpers every ``interp`` command shares: one-line errors, flag-named load errors, tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_USER_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    ValueError,
    KeyError,
    RuntimeError,
)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line click error."""
    try:
        yield
    except ImportError as err:
        raise click.ClickException(
            f"{err}; install the optional extra: pip install '.[interp]'"
        ) from None
    except _USER_ERRORS as err:
        message = err.args[0] if err.args else type(err).__name__
        raise click.ClickException(str(message).splitlines()[0]) from None


@contextmanager
def _for_flag(flag: str) -> Iterator[None]:
    """Prefix the message of a failed load with the command-line flag that gave the value."""
    try:
        yield
    except (FileNotFoundError, ValueError) as err:
        message = str(err.args[0]) if err.args else type(err).__name__
        raise type(err)(f"{flag}: {message}") from None


def _check_model(source: Any, allow_download: bool, flag: str = "--model") -> None:
    """Fail early, naming ``flag``, when a model source is neither bundled nor a folder."""
    from interp.models.hf import check_source

    with _for_flag(flag):
        check_source(source, allow_download)


MODEL_HELP = (
    "'smollm2' (the bundled SmolLM2-135M-Instruct, modules like model.layers.3.mlp) or a "
    "Hugging Face model folder (a hub id with --allow-download)."
)


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
