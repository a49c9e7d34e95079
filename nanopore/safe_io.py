"""Safe output: nothing overwritten by surprise, nothing half-written, every failure in one line.

Every file the toolkit writes goes through a temporary file in the destination's
folder that is renamed over the destination once it is complete, so a reader never
sees half a file and a failed write leaves the old file as it was. Temporary files
are named ``.<name>.<host>.<pid>.<random>.tmp``: one left by a killed process can
be recognised (its process is gone) and removed by :func:`clean_stale_temp_files`
without touching the temporary file of a process that is still writing.

netCDF datasets are serialised in memory and written with plain file writes, so a
full disk ends in an ``OSError`` (reported in one line), never inside the HDF5
library.

:class:`FileLock` is a lock file of the toolkit's own (process id, host, start
time as JSON, created with ``O_EXCL``): it works where HDF5's file locking is off
(``HDF5_USE_FILE_LOCKING=FALSE``, usual on cluster file systems), and a lock left
by a process that no longer runs on this host is taken over with a message.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: refuse to start writing into a folder with less free space than this (bytes)
MIN_FREE_BYTES = 1 << 20

_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


class OutputError(ValueError):
    """An output that cannot or must not be written; the message names the fix."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]) or "host"


def describe_os_error(err: OSError, path: str | os.PathLike | None = None,
                      action: str | None = "write") -> str:
    """One line for a failed file operation: what, where, and what to do.

    Parameters
    ----------
    err : OSError
        The failure.
    path : path-like, optional
        The file concerned, when ``err`` does not name it.
    action : str, optional
        What was being done (``"write"``); None when unknown.

    Returns
    -------
    str
    """
    where = err.filename if err.filename is not None else path
    reason = err.strerror or str(err) or type(err).__name__
    writing = action == "write"
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        advice = "free some space or write elsewhere"
    elif err.errno == errno.EROFS:
        advice = "the file system is read-only; write elsewhere"
    elif err.errno in (errno.EACCES, errno.EPERM):
        advice = "choose a folder you can write to" if writing else "check its permissions"
    elif err.errno == errno.ENOENT:
        advice = "check the path"
    elif err.errno in (errno.EISDIR, errno.ENOTDIR):
        advice = "check that files and folders are named the right way round"
    else:
        advice = "check the path and the file system"
    target = f" {where}" if where is not None else ""
    head = f"cannot {action}{target}" if action else (str(where) if where is not None else "error")
    return f"{head}: {reason}; {advice}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host.

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _process_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), to tell reused ids apart."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def temp_path(path: str | os.PathLike) -> Path:
    """A new, unused temporary file beside ``path`` (created empty, private mode).

    Parameters
    ----------
    path : path-like
        The destination.

    Returns
    -------
    Path
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp",
                                    dir=path.parent)
    os.close(handle)
    return Path(name)


def _usual_mode(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write; renamed over ``path`` when the block succeeds.

    On any failure the temporary file is removed and the destination keeps its
    old content.

    Parameters
    ----------
    path : path-like
        The destination.

    Yields
    ------
    Path
        Where to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        _usual_mode(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.filename is None or str(err.filename) == str(tmp):
            raise OSError(err.errno, err.strerror, str(path)) from None  # name the destination
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, sync: bool = True) -> Path:
    """Write bytes to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : path-like
        The destination.
    data : bytes
        The content.
    sync : bool
        Flush the data to the disk before the rename.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())
    return path


def atomic_write_text(path: str | os.PathLike, text: str, sync: bool = True) -> Path:
    """Write text (UTF-8) to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : path-like
    text : str
    sync : bool
        Flush the data to the disk before the rename.

    Returns
    -------
    Path
    """
    return atomic_write_bytes(path, text.encode("utf-8"), sync=sync)


def write_netcdf(ds: Any, path: str | os.PathLike) -> Path:
    """Write an xarray dataset as netCDF4 (HDF5) atomically.

    The file is built in memory by h5netcdf and written with ordinary file
    writes, so that a full disk raises ``OSError`` instead of failing inside
    HDF5.

    Parameters
    ----------
    ds : xarray.Dataset
    path : path-like

    Returns
    -------
    Path
    """
    return atomic_write_bytes(path, netcdf_bytes(ds))


def netcdf_bytes(ds: Any) -> bytes:
    """An xarray dataset as the bytes of a netCDF4 (HDF5) file, built in memory.

    The dataset goes to xarray's h5netcdf store directly: ``Dataset.to_netcdf``
    gives the same file but first asks dask which scheduler is active, and that
    import of ``dask.distributed`` costs a quarter of a second of every
    command's start-up. Anything the store refuses goes through
    ``to_netcdf``, for xarray's own message.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    bytes
    """
    import io

    import h5netcdf
    from xarray.backends import H5NetCDFStore

    buffer = io.BytesIO()
    try:
        with h5netcdf.File(buffer, "w", invalid_netcdf=False) as handle:
            ds.dump_to_store(H5NetCDFStore(handle, mode="w"))
    except (TypeError, ValueError):
        return bytes(ds.to_netcdf(engine="h5netcdf", invalid_netcdf=False))
    return buffer.getvalue()


def probe_writable(path: str | os.PathLike | None, option: str = "output") -> None:
    """Check, before any long computation, that ``path`` can be written.

    Creates the parent folder if needed, creates and removes a temporary file in
    it, and checks that the disk has some space left.

    Parameters
    ----------
    path : path-like or None
        The file to be written (None: nothing to check).
    option : str
        How the user named it (``-o``, ``--plot``), for the message.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; give a file name")
    blocking = next((folder for folder in reversed(path.parents) if folder.exists()
                     and not folder.is_dir()), None)
    if blocking is not None:
        raise OutputError(f"{option}: cannot write {path}: {blocking} is a file, not a folder; "
                          "choose another path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp_path(path).unlink()
        free = shutil.disk_usage(path.parent).free
    except OSError as err:
        raise OutputError(f"{option}: {describe_os_error(err, path.parent)}") from None
    if free < MIN_FREE_BYTES:
        raise OutputError(f"{option}: the disk holding {path.parent} is full ({free} bytes free); "
                          "free some space or write elsewhere")


def probe_directory(directory: str | os.PathLike, option: str = "--out") -> None:
    """Check that a run folder can be created and written (see :func:`probe_writable`).

    Parameters
    ----------
    directory : path-like
    option : str
        How the user named it, for the message.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{option} {directory} is a file, not a folder; choose a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{option}: {describe_os_error(err, directory)}") from None
    probe_writable(directory / ".probe", option)


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_overwriting_inputs(outputs: Mapping[str, str | os.PathLike | None],
                              inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output that is one of the inputs (or a window file inside an input folder).

    Parameters
    ----------
    outputs : mapping of str to path-like or None
        Option name (``-o``, ``--plot``) to the file it writes.
    inputs : iterable of path-like
        Files and folders the command reads.

    Raises
    ------
    OutputError
    """
    sources = [Path(p) for p in inputs]
    named = [(option, Path(value)) for option, value in outputs.items() if value is not None]
    for option, out in named:
        for source in sources:
            if _same(out, source):
                raise OutputError(f"{option} {out} is also an input; write the result to "
                                  "another file so the input is kept")
            if source.is_dir() and out.suffix.lower() in (".h5", ".hdf5") and \
                    out.resolve().is_relative_to(source.resolve()):
                raise OutputError(f"{option} {out} is inside the input folder {source}, where it "
                                  "would be read as a window; write it elsewhere")
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1:]:
            if _same(a, b):
                raise OutputError(f"{first} and {second} both name {a}; give them different files")


def check_outputs(outputs: Mapping[str, str | os.PathLike | None],
                  inputs: Iterable[str | os.PathLike]) -> None:
    """:func:`refuse_overwriting_inputs`, then :func:`probe_writable` for each output.

    Parameters
    ----------
    outputs : mapping of str to path-like or None
        Option name to the file it writes.
    inputs : iterable of path-like
        Files and folders the command reads.
    """
    refuse_overwriting_inputs(outputs, inputs)
    for option, value in outputs.items():
        probe_writable(value, option)


def clean_stale_temp_files(directory: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Remove temporary files left by processes of this host that no longer run.

    Parameters
    ----------
    directory : path-like
    recursive : bool
        Search sub-folders too.

    Returns
    -------
    list of Path
        The files removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    host = _host()
    removed = []
    for path in directory.glob("**/.*.tmp" if recursive else ".*.tmp"):
        match = _TEMP_PATTERN.match(path.name)
        if match is None or match["host"] != host or pid_alive(int(match["pid"])):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


class LockError(RuntimeError):
    """Another process holds the lock."""


class FileLock:
    """A lock file of the toolkit's own, independent of HDF5's locking.

    The lock file holds the holder's process id, host, process start tick and
    the time it was taken (JSON). It is created with ``O_CREAT | O_EXCL``. A lock
    whose holder no longer runs on this host is stale: it is taken over, and
    ``echo`` says so. A lock held on another host cannot be checked and is
    refused with a message naming it.

    Parameters
    ----------
    path : path-like
        The lock file.
    what : str
        What the lock protects, for messages.
    echo : callable, optional
        Prints a line (default: to standard error).
    """

    def __init__(self, path: str | os.PathLike, what: str = "",
                 echo: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.what = what or str(self.path)
        self.echo = echo or (lambda line: print(line, file=sys.stderr))
        self.held = False

    def _record(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": _host(), "start": _process_start(os.getpid()),
                "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}

    def holder(self) -> dict[str, Any] | None:
        """The lock's record, None when there is no lock file; ``{}`` if it is unreadable."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return record if isinstance(record, dict) else {}

    def _is_stale(self, record: dict[str, Any]) -> bool:
        if record.get("host") != _host():
            return False
        pid = record.get("pid")
        if not isinstance(pid, int) or not pid_alive(pid):
            return True
        start = record.get("start")
        return start is not None and _process_start(pid) not in (None, start)

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(self._record()))
        return True

    def acquire(self) -> FileLock:
        """Take the lock, taking over a stale one.

        Returns
        -------
        FileLock
            Itself.

        Raises
        ------
        LockError
            When another live process (or a process on another host) holds it.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(3):
                if self._create():
                    self.held = True
                    return self
                record = self.holder()
                if record is None:
                    continue  # released meanwhile
                if record and not self._is_stale(record):
                    break
                # move the stale lock aside under a name of our own, then try again:
                # of two processes taking over at once, only one creates the new lock
                aside = self.path.with_name(f".{self.path.name}.{_host()}.{os.getpid()}.stale.tmp")
                try:
                    os.replace(self.path, aside)
                    aside.unlink()
                except FileNotFoundError:
                    pass
                who = (f"process {record.get('pid')} on {record.get('host')} (since "
                       f"{record.get('time')})" if record else "an unreadable record")
                self.echo(f"note: took over the lock of {self.what} left by {who}, which no "
                          "longer runs")
        except OSError as err:
            raise OutputError(f"cannot lock {self.what}: {describe_os_error(err, self.path)}") from None
        record = self.holder() or {}
        raise LockError(
            f"{self.what} is being run by process {record.get('pid')} on {record.get('host')} "
            f"since {record.get('time')} (lock {self.path}); wait for it to finish, or, if that "
            "run is dead, delete the lock file and rerun"
        )

    def release(self) -> None:
        """Remove the lock file if this process holds it."""
        if not self.held:
            return
        record = self.holder()
        if record and record.get("pid") == os.getpid() and record.get("host") == _host():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> FileLock:  # noqa: PYI034
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
