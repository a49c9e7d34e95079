"""Window checkpoints in formats that cannot run code.

A checkpoint is two files beside the window file:

* ``window_NN.chk``: OpenMM's own binary checkpoint (``Context.createCheckpoint``:
  positions, velocities, box, parameters and the integrator's random state),
  loaded only by ``Context.loadCheckpoint``;
* ``window_NN.chk.json``: what the run needs besides it (phase, step, number of
  samples written, the starting N of the pull, the platform) and the SHA-256 of
  the binary file, so that a binary that does not belong to its record is
  refused.

Each file is written to a temporary file and renamed. Anything else in their
place (a pickle from an older version, a truncated or foreign file, a record that
does not match) is refused with a one-line message saying which files to delete
to restart the window; nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nanopore.safe_io import atomic_write_bytes, atomic_write_text

FORMAT = "nanopore-checkpoint/2"
PHASES = ("equilibration", "production")
_PICKLE_MAGIC = b"\x80"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message says which files to delete."""


@dataclass(frozen=True)
class CheckpointRecord:
    """The JSON side of a checkpoint.

    Attributes
    ----------
    phase : {"equilibration", "production"}
    step : int
        Steps done in the phase.
    n_samples : int
        Samples in the window file that belong to this checkpoint.
    n_start : float
        N (molecules) at the start of the pull.
    platform : str
        OpenMM platform that wrote the binary checkpoint.
    sha256 : str
        Hash of the binary checkpoint.
    """

    phase: str
    step: int
    n_samples: int
    n_start: float
    platform: str
    sha256: str


def record_path(path: str | os.PathLike) -> Path:
    """The JSON record beside a binary checkpoint ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def save_checkpoint(path: str | os.PathLike, checkpoint: bytes, phase: str, step: int,
                    n_samples: int, n_start: float, platform: str) -> None:
    """Write the binary checkpoint and its record, each atomically.

    Parameters
    ----------
    path : path-like
        The binary checkpoint (``window_NN.chk``).
    checkpoint : bytes
        ``Context.createCheckpoint()``.
    phase : str
    step : int
    n_samples : int
    n_start : float
        N (molecules).
    platform : str
    """
    record = CheckpointRecord(phase, int(step), int(n_samples), float(n_start), platform,
                              hashlib.sha256(checkpoint).hexdigest())
    atomic_write_bytes(path, checkpoint)
    atomic_write_text(record_path(path), json.dumps({"format": FORMAT, **asdict(record)}, indent=1))


def remove_checkpoint(path: str | os.PathLike) -> None:
    """Delete a checkpoint's two files (when its window finished)."""
    Path(path).unlink(missing_ok=True)
    record_path(path).unlink(missing_ok=True)


def _refuse(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}; delete {path.name} and {record_path(path).name} to "
                           "restart this window (its finished samples are discarded, other "
                           "windows are kept)")


def _valid_record(path: Path, values: Any) -> CheckpointRecord:
    if not isinstance(values, dict) or values.get("format") != FORMAT:
        found = values.get("format") if isinstance(values, dict) else type(values).__name__
        raise _refuse(path, f"the record is not a {FORMAT} checkpoint record (format {found!r})")
    checks = {
        "phase": lambda v: v in PHASES,
        "step": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "n_samples": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "n_start": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
        and math.isfinite(v),
        "platform": lambda v: isinstance(v, str) and bool(v),
        "sha256": lambda v: isinstance(v, str) and len(v) == 64,
    }
    for key, ok in checks.items():
        if key not in values or not ok(values[key]):
            raise _refuse(path, f"the record's {key!r} is missing or invalid ({values.get(key)!r})")
    return CheckpointRecord(**{key: values[key] for key in checks})


def load_checkpoint(path: str | os.PathLike) -> tuple[CheckpointRecord, bytes] | None:
    """Read and verify a checkpoint.

    Parameters
    ----------
    path : path-like
        The binary checkpoint (``window_NN.chk``).

    Returns
    -------
    (CheckpointRecord, bytes) or None
        The record and the binary checkpoint; None when there is no checkpoint.

    Raises
    ------
    CheckpointError
        A checkpoint of an unknown format, a corrupt one, or one whose two files
        do not belong together.
    """
    path = Path(path)
    record_file = record_path(path)
    if not path.exists() and not record_file.exists():
        return None
    if not path.exists():
        raise _refuse(path, "the checkpoint record has no binary checkpoint beside it")
    data = path.read_bytes()
    if not record_file.exists():
        if data[:1] == _PICKLE_MAGIC:
            raise _refuse(path, "an older version's checkpoint (a Python pickle, which can run "
                                "code, so it is never loaded)")
        raise _refuse(path, "no checkpoint record beside it")
    try:
        values = json.loads(record_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _refuse(path, f"the record {record_file.name} is not valid JSON ({err})") from None
    record = _valid_record(path, values)
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise _refuse(path, "the binary checkpoint does not match its record (corrupt, or the run "
                            "was killed while saving it)")
    return record, data
