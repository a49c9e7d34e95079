"""Errors raised by the free-energy stage."""

from __future__ import annotations

from nanopore.windows import WindowError


class AnalysisError(ValueError):
    """Windows that cannot give a profile (no overlap, too few samples, ...)."""


__all__ = ["AnalysisError", "WindowError"]
