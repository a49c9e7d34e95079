"""The run manifest: what a pipeline run was given, what it made, and with what.

``RUN/manifest.json`` records the setup (path and content hash), the versions of
the toolkit and its engines, the seeds, and one record per stage (status, the
hash of the stage's inputs, its outputs and the hash of each, wall time, notes).
A stage counts as done only while its outputs still hold what it wrote. It is
rewritten atomically after every stage, so a killed run leaves the last finished
stage recorded.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

from nanopore.safe_io import atomic_write_text

_PACKAGES = ("nanopore-toolkit", "numpy", "scipy", "numba", "openmm", "pymbar", "xarray",
             "h5py", "MDAnalysis", "dask")


def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages the pipeline runs on."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class Manifest:
    """Read, update and atomically rewrite ``manifest.json`` of a run directory.

    Parameters
    ----------
    directory : path-like
        The run directory.
    """

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / "manifest.json"
        if self.path.exists():
            try:
                self.data: dict[str, Any] = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                raise ValueError(f"{self.path} is not valid JSON; move it away to rerun every "
                                 "stage (finished windows are kept)") from None
        else:
            self.data = {"stages": {}}

    def set_inputs(self, **values: Any) -> None:
        """Record run-level inputs (setup, seeds, versions) and save."""
        self.data.update(values)
        self.data["software"] = software_versions()
        self.save()

    def stage(self, name: str) -> dict[str, Any]:
        """The record of a stage (empty if it never ran)."""
        return self.data["stages"].get(name, {})

    def is_done(self, name: str, inputs_digest: str) -> bool:
        """Whether a stage finished with these inputs and its outputs are still as it wrote them."""
        record = self.stage(name)
        if record.get("status") != "done" or record.get("inputs_digest") != inputs_digest:
            return False
        base = self.path.parent
        outputs = record.get("outputs", [])
        if not all((base / output).exists() for output in outputs):
            return False
        recorded = record.get("output_digests")
        if recorded is None:
            return True  # a manifest from before output digests were recorded
        return all(recorded.get(output) == file_digest(base / output) for output in outputs)

    def record(self, name: str, inputs_digest: str, outputs: list[str], wall_s: float,
               notes: list[str] | None = None, **extra: Any) -> None:
        """Mark a stage finished and save."""
        base = self.path.parent
        self.data["stages"][name] = {
            "status": "done",
            "inputs_digest": inputs_digest,
            "outputs": outputs,
            "output_digests": {output: file_digest(base / output) for output in outputs},
            "wall_s": round(wall_s, 3),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "notes": notes or [],
            **extra,
        }
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True, default=str))


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (first 16 hex digits) of a file's content, read in chunks; "missing" if absent.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return "missing"
    return digest.hexdigest()[:16]
