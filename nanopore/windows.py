"""Window files: the time series of one restrained simulation, in HDF5.

The contract between the MD stage (which writes them) and the free-energy stage
(which reads them, whatever engine produced the samples). A window file holds

* dataset ``time`` (ps) and dataset ``n`` (molecules): the collective variable
  sampled at a stride, appended and flushed as the run goes;
* attributes ``center`` (target N_k, molecules), ``spring_constant`` (kappa,
  kJ/mol per molecule^2, restraint 0.5 kappa (N - N_k)^2), ``voltage`` (V),
  ``temperature`` (K), ``stride`` (steps between samples), ``timestep`` (ps),
  ``complete`` (whether production finished), plus free-form metadata (setup
  file, platform, seed, CV definition as JSON).

Writes are append-only and flushed; :meth:`WindowFile.truncate` drops samples
written after the last checkpoint so that a resumed run neither loses nor
duplicates samples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED_ATTRS = {
    "center": "molecules",
    "spring_constant": "kJ/mol/molecule^2",
    "voltage": "V",
    "temperature": "K",
}
OPTIONAL_ATTRS = {"stride": "steps", "timestep": "ps"}
FORMAT = "nanopore-window/1"


class WindowError(ValueError):
    """A window file or window metadata that cannot be used."""


@dataclass
class Window:
    """The samples of one restrained window, with the metadata analysis needs.

    Attributes
    ----------
    time : ndarray
        Sample times (ps).
    n : ndarray
        Collective variable N (molecules).
    center : float
        Restraint target N_k (molecules).
    spring_constant : float
        kappa (kJ/mol per molecule^2), restraint 0.5 kappa (N - N_k)^2.
    temperature : float
        Temperature (K).
    voltage : float
        Applied voltage (V).
    complete : bool
        Whether the production run finished.
    source : str
        Where the samples came from (a path or a label).
    metadata : dict
        Everything else recorded with the window.
    """

    time: np.ndarray
    n: np.ndarray
    center: float
    spring_constant: float
    temperature: float
    voltage: float = 0.0
    complete: bool = True
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.time = np.asarray(self.time, dtype=float)
        self.n = np.asarray(self.n, dtype=float)
        label = self.source or f"window at N_k = {self.center}"
        if self.time.shape != self.n.shape or self.n.ndim != 1:
            raise WindowError(
                f"{label}: time and n must be 1-D arrays of one length, "
                f"got shapes {self.time.shape} and {self.n.shape}"
            )
        if not np.all(np.isfinite(self.n)):
            bad = int(np.count_nonzero(~np.isfinite(self.n)))
            raise WindowError(f"{label}: {bad} samples of N are NaN or infinite; "
                              "remove them or rerun the window")
        for name in ("center", "spring_constant", "temperature", "voltage"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise WindowError(f"{label}: {name} is {value}; it must be a finite number")
            setattr(self, name, value)
        if self.spring_constant <= 0:
            raise WindowError(f"{label}: spring constant must be positive "
                              f"(kJ/mol/molecule^2), got {self.spring_constant}")
        if self.temperature <= 0:
            raise WindowError(f"{label}: temperature must be positive (K), got {self.temperature}")

    @property
    def timestep_between_samples(self) -> float:
        """Median spacing of the sample times (ps)."""
        if self.time.size < 2:
            raise WindowError(f"{self.source or 'window'}: fewer than two samples")
        return float(np.median(np.diff(self.time)))


class WindowFile:
    """Append-only HDF5 writer of one window's samples.

    Parameters
    ----------
    path : path-like
        The window file. Created if missing; reopened for appending if present.
    metadata : mapping
        Attributes (see the module docstring). Required when creating a file;
        when reopening, the stored ones must match the required attributes given.

    Examples
    --------
    >>> with WindowFile(path, {"center": 4, "spring_constant": 5, "voltage": 0,
    ...                        "temperature": 300}) as wf:        # doctest: +SKIP
    ...     wf.append([0.1, 0.2], [3.9, 4.2])
    """

    def __init__(self, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None):
        import h5py

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists()
        self._file = h5py.File(self.path, "a")
        try:
            if not exists or "n" not in self._file:
                if metadata is None:
                    raise WindowError(f"{self.path}: a new window file needs its metadata")
                missing = set(REQUIRED_ATTRS) - set(metadata)
                if missing:
                    raise WindowError(f"{self.path}: window metadata lacks {sorted(missing)}")
                for name in ("time", "n"):
                    self._file.create_dataset(name, shape=(0,), maxshape=(None,),
                                              dtype="f8", chunks=(4096,))
                self._file["time"].attrs["units"] = "ps"
                self._file["n"].attrs["units"] = "molecules"
                self._file.attrs["format"] = FORMAT
                self._file.attrs["complete"] = False
                for key, value in metadata.items():
                    self._file.attrs[key] = _attr_value(value)
                self._file.flush()
            elif metadata is not None:
                for key in REQUIRED_ATTRS:
                    if key in metadata and not np.isclose(
                        float(self._file.attrs[key]), float(metadata[key])
                    ):
                        raise WindowError(
                            f"{self.path} was written with {key} = {self._file.attrs[key]}, "
                            f"not {metadata[key]}; use another output directory or delete it"
                        )
        except Exception:
            self._file.close()
            raise

    def __enter__(self) -> WindowFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def n_samples(self) -> int:
        """Number of samples written."""
        return int(self._file["n"].shape[0])

    @property
    def complete(self) -> bool:
        """Whether the window has been marked finished."""
        return bool(self._file.attrs.get("complete", False))

    def attribute(self, key: str, default: Any = None) -> Any:
        """A metadata attribute as written (``default`` when absent)."""
        return _decode(self._file.attrs[key]) if key in self._file.attrs else default

    def series(self, name: str) -> np.ndarray | None:
        """A per-sample series (``time``, ``n``, ``box_height``, ...) or None when absent."""
        return self._file[name][()] if name in self._file else None

    def append(self, time: np.ndarray, n: np.ndarray,
               series: Mapping[str, tuple[np.ndarray, str]] | None = None) -> None:
        """Append samples and flush them to disk.

        Parameters
        ----------
        time : array_like
            Sample times (ps).
        n : array_like
            Collective variable values (molecules).
        series : mapping, optional
            Further per-sample series, name -> (values, units), e.g. the box
            height (nm) or the pressure (MPa); created on first use, and given
            at every append once they exist.
        """
        time = np.atleast_1d(np.asarray(time, dtype=float))
        n = np.atleast_1d(np.asarray(n, dtype=float))
        if time.shape != n.shape:
            raise WindowError("time and n must have the same length")
        start = self.n_samples
        columns = [("time", time, "ps"), ("n", n, "molecules")]
        for name, (values, units) in (series or {}).items():
            values = np.atleast_1d(np.asarray(values, dtype=float))
            if values.shape != n.shape:
                raise WindowError(f"series {name!r} must have one value per sample")
            if name not in self._file:
                self._file.create_dataset(name, data=np.full(start, np.nan), maxshape=(None,),
                                          dtype="f8", chunks=(4096,))
                self._file[name].attrs["units"] = units
            columns.append((name, values, units))
        for name, values, _ in columns:
            dataset = self._file[name]
            dataset.resize((start + values.size,))
            dataset[start:] = values
        self._file.flush()

    def truncate(self, n_samples: int) -> None:
        """Drop every sample after the first ``n_samples`` (used on resume).

        Parameters
        ----------
        n_samples : int
            Number of samples to keep.
        """
        if n_samples > self.n_samples:
            raise WindowError(
                f"{self.path} holds {self.n_samples} samples, fewer than the {n_samples} "
                "its checkpoint expects; the file and checkpoint do not belong together"
            )
        for name in self._file:
            dataset = self._file[name]
            if dataset.ndim == 1 and dataset.maxshape == (None,):
                dataset.resize((min(n_samples, dataset.shape[0]),))
        self._file.flush()

    def set_attrs(self, values: Mapping[str, Any]) -> None:
        """Add or replace metadata attributes and flush."""
        for key, value in values.items():
            self._file.attrs[key] = _attr_value(value)
        self._file.flush()

    def mark_complete(self) -> None:
        """Mark the window finished so that it is not run again."""
        self.set_attrs({"complete": True})

    def close(self) -> None:
        """Close the file."""
        if self._file.id.valid:
            self._file.close()


def _attr_value(value: Any) -> Any:
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value)
    if value is None:
        return ""
    return value


def read_window(path: str | os.PathLike) -> Window:
    """Read a window file written by :class:`WindowFile`.

    Parameters
    ----------
    path : path-like
        The window file (HDF5).

    Returns
    -------
    Window
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise WindowError(f"window file {path} does not exist")
    try:
        with h5py.File(path, "r") as handle:
            if "n" not in handle or "time" not in handle:
                raise WindowError(f"{path} is not a window file: datasets 'time' and 'n' missing")
            attrs = {key: _decode(value) for key, value in handle.attrs.items()}
            time = handle["time"][()]
            n = handle["n"][()]
            series = {name: handle[name][()] for name in handle
                      if name not in ("time", "n") and handle[name].ndim == 1
                      and handle[name].shape == n.shape}
    except OSError as err:
        raise WindowError(f"{path} cannot be read as HDF5 ({err}); is it a window file?") from None
    missing = set(REQUIRED_ATTRS) - set(attrs)
    if missing:
        raise WindowError(f"{path} lacks the attributes {sorted(missing)} "
                          f"(units: {', '.join(f'{k} in {REQUIRED_ATTRS[k]}' for k in sorted(missing))})")
    if n.size == 0:
        raise WindowError(f"{path} holds no samples; run the window or leave it out")
    known = {key: attrs.pop(key) for key in list(REQUIRED_ATTRS) + ["complete"] if key in attrs}
    if series:
        attrs["series"] = series  # e.g. box_height (nm), pressure_zz (MPa) per sample
    return Window(
        time=time,
        n=n,
        center=known["center"],
        spring_constant=known["spring_constant"],
        temperature=known["temperature"],
        voltage=known["voltage"],
        complete=bool(known.get("complete", True)),
        source=str(path),
        metadata=attrs,
    )


def is_complete(path: str | os.PathLike) -> bool:
    """Whether a window file exists and is marked finished (opened read-only).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    bool
    """
    import h5py

    path = Path(path)
    if not path.exists():
        return False
    try:
        with h5py.File(path, "r") as handle:
            return bool(handle.attrs.get("complete", False))
    except OSError:
        return False


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def iter_window_files(directory: str | os.PathLike, pattern: str = "**/*.h5") -> Iterator[Path]:
    """Window files under a directory, sorted by path.

    Parameters
    ----------
    directory : path-like
        Directory to search.
    pattern : str
        Glob pattern relative to the directory.

    Yields
    ------
    Path
    """
    for path in sorted(Path(directory).glob(pattern)):
        if path.is_file():
            yield path
