"""The run manifest: what a pipeline run was given, what it made, and with what.

``RUN/manifest.json`` records the setup (path and content hash), the versions of
the toolkit and its engines, the seeds, and one record per stage (status, the
hash of the stage's inputs, outputs, wall time, notes). It is rewritten atomically
after every stage, so a killed run leaves the last finished stage recorded.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

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
        """Whether a stage finished with these inputs and its outputs still exist."""
        record = self.stage(name)
        if record.get("status") != "done" or record.get("inputs_digest") != inputs_digest:
            return False
        base = self.path.parent
        return all((base / output).exists() for output in record.get("outputs", []))

    def record(self, name: str, inputs_digest: str, outputs: list[str], wall_s: float,
               notes: list[str] | None = None, **extra: Any) -> None:
        """Mark a stage finished and save."""
        self.data["stages"][name] = {
            "status": "done",
            "inputs_digest": inputs_digest,
            "outputs": outputs,
            "wall_s": round(wall_s, 3),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "notes": notes or [],
            **extra,
        }
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True, default=str))
        os.replace(tmp, self.path)
