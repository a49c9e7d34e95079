"""Choosing the OpenMM platform: CUDA, then OpenCL, then CPU, unless told otherwise."""

from __future__ import annotations

import os
from typing import Any

PREFERENCE = ("CUDA", "OpenCL", "CPU", "Reference")


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms this installation can use."""
    import openmm

    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def choose_platform(name: str = "auto", precision: str = "mixed",
                    threads: int = 0) -> tuple[Any, dict[str, str]]:
    """The platform to run on and its properties.

    Parameters
    ----------
    name : str
        ``auto`` (CUDA, then OpenCL, then CPU) or a platform name. The environment
        variable ``NANOPORE_PLATFORM`` overrides ``auto``.
    precision : str
        ``single``, ``mixed`` or ``double`` on CUDA/OpenCL.
    threads : int
        CPU threads; 0 leaves OpenMM's default (all cores, or ``OPENMM_CPU_THREADS``).

    Returns
    -------
    platform : openmm.Platform
    properties : dict
    """
    import openmm

    name = pick_platform_name(available_platforms(), name)
    properties: dict[str, str] = {}
    if name in ("CUDA", "OpenCL"):
        properties["Precision"] = precision
    elif name == "CPU" and threads:
        properties["Threads"] = str(threads)
    return openmm.Platform.getPlatformByName(name), properties


def pick_platform_name(available: list[str], requested: str = "auto") -> str:
    """Name of the platform to use among ``available``.

    Parameters
    ----------
    available : list of str
        Platforms this installation has.
    requested : str
        ``auto`` or a platform name; ``NANOPORE_PLATFORM`` overrides ``auto``.

    Returns
    -------
    str
    """
    if requested == "auto":
        requested = os.environ.get("NANOPORE_PLATFORM", "auto")
    if requested == "auto":
        return next(p for p in PREFERENCE if p in available)
    if requested not in available:
        raise RuntimeError(f"OpenMM platform {requested!r} is not available here "
                           f"(available: {', '.join(available)}); set platform = \"auto\"")
    return requested
