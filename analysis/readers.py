"""Read windows from any engine into :class:`nanopore.windows.Window` objects.

Three inputs, one output type, so that the estimators see one kind of window:

* window files (HDF5) written by the MD stage, read with
  :func:`nanopore.windows.read_window`; a directory is searched for ``*.h5``;
* a metadata file in the style of Grossfield's WHAM, one window per line::

      # path                 center  spring_constant  [temperature  [voltage]]
      windows/w00.dat        0.0     10.0             300
      windows/w01.dat        1.0     10.0             300

  ``center`` N_k in molecules, ``spring_constant`` kappa in kJ/mol per
  molecule^2 with the restraint 0.5 kappa (N - N_k)^2 (the convention of the
  window files and of PLUMED's ``RESTRAINT``), ``temperature`` in K and
  ``voltage`` in V. Relative paths are relative to the metadata file; ``#``
  starts a comment. Each path is a two-column text series ``time(ps) N`` or a
  PLUMED COLVAR file (see below);
* PLUMED COLVAR files, whose ``#! FIELDS`` header names the columns. The CV is
  the column named by ``column`` (time in ps, PLUMED's default). A COLVAR file
  given on its own carries no restraint parameters; they are recovered exactly
  from its harmonic-restraint bias column (``<label>.bias``, kJ/mol), which is
  0.5 kappa (N - N_k)^2 sample by sample.

Missing temperatures come from the ``temperature`` argument and missing voltages
from ``voltage`` (default 0 V); a window without a temperature is an error,
since the free energy is in kT.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np

from nanopore.windows import Window, WindowError, iter_window_files, read_window

_HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf"}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def is_colvar(path: str | os.PathLike) -> bool:
    """Whether a text file starts with a PLUMED ``#! FIELDS`` header."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                return line.startswith("#! FIELDS")
    return False


def _is_hdf5(path: Path) -> bool:
    if path.suffix.lower() in _HDF5_SUFFIXES:
        return True
    with open(path, "rb") as handle:
        return handle.read(8) == _HDF5_MAGIC


def read_colvar(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read a PLUMED COLVAR file.

    Parameters
    ----------
    path : path-like
        COLVAR file with a ``#! FIELDS`` header.

    Returns
    -------
    fields : list of str
        Column names, in order.
    data : ndarray, shape (n_samples, n_fields)
        The values.

    Raises
    ------
    WindowError
        If the file is missing, has no ``#! FIELDS`` header, or its rows do not
        match the header.
    """
    path = Path(path)
    if not path.is_file():
        raise WindowError(f"COLVAR file {path} does not exist")
    fields: list[str] | None = None
    rows: list[list[float]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            if text.startswith("#! FIELDS"):
                names = text.split()[2:]
                if fields is not None and names != fields:
                    raise WindowError(
                        f"{path}:{number}: a second '#! FIELDS' header with other columns "
                        f"({names} after {fields}); split the file where PLUMED restarted"
                    )
                fields = names
                continue
            if text.startswith("#"):
                continue
            if fields is None:
                raise WindowError(
                    f"{path}: no '#! FIELDS' header before the data; a COLVAR file names its "
                    "columns there (or give a two-column 'time(ps) N' series instead)"
                )
            try:
                values = [float(token) for token in text.split()]
            except ValueError:
                raise WindowError(f"{path}:{number}: not a row of numbers: '{text[:60]}'") from None
            if len(values) != len(fields):
                raise WindowError(
                    f"{path}:{number}: {len(values)} values but the header names "
                    f"{len(fields)} fields {fields}"
                )
            rows.append(values)
    if fields is None:
        raise WindowError(f"{path}: no '#! FIELDS' header; is it a PLUMED COLVAR file?")
    data = np.array(rows, dtype=float).reshape(-1, len(fields))
    return fields, data


def _colvar_column(path: Path, fields: list[str], column: str | None) -> int:
    candidates = [name for name in fields if name != "time" and not name.endswith(".bias")]
    if column is None:
        if len(candidates) == 1:
            return fields.index(candidates[0])
        raise WindowError(
            f"{path}: COLVAR has the columns {fields}; say which holds N (molecules) "
            "with column=... (--column NAME)"
        )
    if column not in fields:
        raise WindowError(f"{path}: no column '{column}' in the COLVAR fields {fields}; "
                          "pick one of those with --column")
    return fields.index(column)


def read_series(path: str | os.PathLike, column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a time series of N: a two-column text file or a COLVAR file.

    Parameters
    ----------
    path : path-like
        Text file with columns ``time(ps) N`` (``#`` comments allowed), or a
        PLUMED COLVAR file.
    column : str, optional
        COLVAR column holding N; needed when the file has several CVs.

    Returns
    -------
    time : ndarray
        Sample times (ps).
    n : ndarray
        N (molecules).

    Raises
    ------
    WindowError
        Missing or empty file, wrong number of columns, values that are not numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise WindowError(f"time series file {path} does not exist; check the path "
                          "(relative paths are relative to the metadata file)")
    if is_colvar(path):
        fields, data = read_colvar(path)
        if "time" not in fields:
            raise WindowError(f"{path}: COLVAR has no 'time' field (ps); fields are {fields}")
        index = _colvar_column(path, fields, column)
        time, n = data[:, fields.index("time")], data[:, index]
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # empty file: reported below
                data = np.loadtxt(path, comments=("#", "@"), ndmin=2)
        except ValueError as err:
            raise WindowError(f"{path}: not a two-column 'time(ps) N' series ({err})") from None
        if data.size == 0:
            raise WindowError(f"{path} holds no samples; run the window or leave it out")
        if data.shape[1] != 2:
            raise WindowError(
                f"{path}: {data.shape[1]} columns; a window series has two, time (ps) and N "
                "(molecules)"
            )
        time, n = data[:, 0], data[:, 1]
    if n.size == 0:
        raise WindowError(f"{path} holds no samples; run the window or leave it out")
    return time, n


def harmonic_restraint_from_bias(n: np.ndarray, bias: np.ndarray, source: str = "") -> tuple[float, float]:
    """Recover N_k and kappa of a harmonic restraint from its energies.

    Fits bias = 0.5 kappa (N - N_k)^2 by least squares in (N^2, N, 1) and checks
    that the fit is exact to the precision of the file.

    Parameters
    ----------
    n : ndarray
        N (molecules) of each sample.
    bias : ndarray
        Restraint energy (kJ/mol) of each sample.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    center : float
        N_k (molecules).
    spring_constant : float
        kappa (kJ/mol per molecule^2).
    """
    n = np.asarray(n, dtype=float)
    bias = np.asarray(bias, dtype=float)
    if n.size < 3 or np.ptp(n) == 0:
        raise WindowError(f"{source}: too few distinct values of N to recover the restraint "
                          "from the bias column; list the window in a metadata file instead")
    scale = max(float(np.abs(n).max()), 1.0)
    x = n / scale
    design = np.stack([x * x, x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(design, bias, rcond=None)
    a, b = coef[0] / scale**2, coef[1] / scale
    residual = bias - design @ coef
    tolerance = 1e-4 * max(float(np.abs(bias).max()), 1e-6) + 1e-6
    if a <= 0 or float(np.abs(residual).max()) > tolerance:
        raise WindowError(
            f"{source}: the bias column is not a harmonic restraint 0.5 kappa (N - N_k)^2 in "
            "this CV; list the window with its centre and spring constant in a metadata file"
        )
    kappa = 2.0 * a
    return float(-b / kappa), float(kappa)


def read_colvar_window(
    path: str | os.PathLike,
    column: str | None = None,
    bias_column: str | None = None,
    temperature: float | None = None,
    voltage: float | None = None,
) -> Window:
    """A window from a COLVAR file alone, its restraint recovered from the bias column.

    Parameters
    ----------
    path : path-like
        PLUMED COLVAR file (time in ps, bias in kJ/mol: PLUMED's default units).
    column : str, optional
        Field holding N; default: the only field that is neither ``time`` nor a bias.
    bias_column : str, optional
        Field with the restraint energy; default: the only field ending in ``.bias``.
    temperature : float
        Temperature (K); required, the COLVAR file does not record it.
    voltage : float, optional
        Voltage (V); default 0.

    Returns
    -------
    Window
    """
    path = Path(path)
    fields, data = read_colvar(path)
    if data.shape[0] == 0:
        raise WindowError(f"{path} holds no samples; run the window or leave it out")
    if bias_column is None:
        biases = [name for name in fields if name.endswith(".bias")]
        if len(biases) != 1:
            raise WindowError(
                f"{path}: cannot tell the restraint from the fields {fields}; print the "
                "RESTRAINT's bias (e.g. 'restraint.bias') or list the file in a metadata file "
                "'path center spring_constant temperature'"
            )
        bias_column = biases[0]
    if bias_column not in fields:
        raise WindowError(f"{path}: no bias column '{bias_column}' in {fields}")
    if "time" not in fields:
        raise WindowError(f"{path}: COLVAR has no 'time' field (ps); fields are {fields}")
    index = _colvar_column(path, fields, column)
    n = data[:, index]
    if not np.all(np.isfinite(n)):
        raise WindowError(f"{path}: {int(np.sum(~np.isfinite(n)))} samples of N are NaN or "
                          "infinite; remove them or rerun the window")
    center, kappa = harmonic_restraint_from_bias(n, data[:, fields.index(bias_column)], str(path))
    if temperature is None:
        raise WindowError(
            f"{path}: no temperature (K) for this window; a COLVAR file does not record it, "
            "give it with --temperature"
        )
    return Window(time=data[:, fields.index("time")], n=n, center=center, spring_constant=kappa,
                  temperature=temperature, voltage=0.0 if voltage is None else voltage,
                  source=str(path), metadata={"format": "PLUMED COLVAR", "column": fields[index]})


def read_metadata(
    path: str | os.PathLike,
    temperature: float | None = None,
    voltage: float | None = None,
    column: str | None = None,
) -> list[Window]:
    """Read the windows listed in a WHAM-style metadata file.

    Parameters
    ----------
    path : path-like
        Metadata file: ``path center spring_constant [temperature [voltage]]`` per
        line (molecules, kJ/mol/molecule^2 with 0.5 kappa (N - N_k)^2, K, V).
    temperature : float, optional
        Temperature (K) of lines without one.
    voltage : float, optional
        Voltage (V) of lines without one; default 0.
    column : str, optional
        COLVAR column holding N, for series that are COLVAR files.

    Returns
    -------
    list of Window
    """
    path = Path(path)
    if not path.is_file():
        raise WindowError(f"metadata file {path} does not exist")
    windows: list[Window] = []
    with open(path, encoding="utf-8") as handle:
        lines = list(handle)
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        where = f"{path}:{number}"
        tokens = text.split()
        if len(tokens) < 3:
            raise WindowError(
                f"{where}: '{text}' has {len(tokens)} field(s); each line needs 'path center "
                "spring_constant [temperature [voltage]]' (molecules, kJ/mol/molecule^2, K, V)"
            )
        if len(tokens) > 5:
            raise WindowError(f"{where}: {len(tokens)} fields; expected at most 5 (path center "
                              "spring_constant temperature voltage)")
        try:
            numbers = [float(token) for token in tokens[1:]]
        except ValueError:
            raise WindowError(f"{where}: centre, spring constant, temperature and voltage must be "
                              f"numbers, got {tokens[1:]}") from None
        center, kappa = numbers[0], numbers[1]
        line_temperature = numbers[2] if len(numbers) > 2 else temperature
        line_voltage = numbers[3] if len(numbers) > 3 else voltage
        if line_temperature is None:
            raise WindowError(
                f"{where}: no temperature (K) for this window; add it as the fourth column "
                "or give --temperature"
            )
        series = Path(tokens[0])
        if not series.is_absolute():
            series = path.parent / series
        if not series.is_file():
            raise WindowError(f"{where}: time series file {series} does not exist; check the "
                              "path (relative paths are relative to the metadata file)")
        time, n = read_series(series, column=column)
        windows.append(Window(time=time, n=n, center=center, spring_constant=kappa,
                              temperature=line_temperature,
                              voltage=0.0 if line_voltage is None else line_voltage,
                              source=str(series), metadata={"metadata_file": str(path),
                                                            "line": number}))
    if not windows:
        raise WindowError(f"metadata file {path} lists no windows")
    return windows


def load_windows(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    temperature: float | None = None,
    voltage: float | None = None,
    column: str | None = None,
    bias_column: str | None = None,
) -> list[Window]:
    """Read windows from directories, window files, metadata files or COLVAR files.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        Each a directory of window files (``*.h5``, searched recursively), a window
        file, a WHAM-style metadata file or a PLUMED COLVAR file.
    temperature : float, optional
        Temperature (K) for text inputs that do not record one.
    voltage : float, optional
        Voltage (V) for text inputs that do not record one (default 0). Window
        files carry their own voltage.
    column : str, optional
        COLVAR column holding N.
    bias_column : str, optional
        COLVAR column of the restraint energy (kJ/mol), for bare COLVAR files.

    Returns
    -------
    list of Window
        In input order.

    Raises
    ------
    WindowError
        Naming the file and the problem.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    windows: list[Window] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = list(iter_window_files(path))
            if not files:
                raise WindowError(f"no window files (*.h5) under {path}; point at the directory "
                                  "the MD stage wrote, a metadata file or COLVAR files")
            windows.extend(read_window(file) for file in files)
        elif not path.exists():
            raise WindowError(f"input {path} does not exist")
        elif _is_hdf5(path):
            windows.append(read_window(path))
        elif is_colvar(path):
            windows.append(read_colvar_window(path, column=column, bias_column=bias_column,
                                              temperature=temperature, voltage=voltage))
        else:
            windows.extend(read_metadata(path, temperature=temperature, voltage=voltage,
                                         column=column))
    if not windows:
        raise WindowError("no windows found in the inputs")
    return windows


def group_by_voltage(windows: Iterable[Window], tolerance: float = 1e-9) -> dict[float, list[Window]]:
    """Group windows by voltage, each group sorted by centre.

    Checks that one voltage has no two windows with the same centre and spring
    constant, and that all windows share one temperature.

    Parameters
    ----------
    windows : iterable of Window
    tolerance : float, optional
        Voltages closer than this (V) are the same voltage.

    Returns
    -------
    dict of float to list of Window
        Voltage (V) -> windows, voltages increasing.
    """
    windows = list(windows)
    if not windows:
        raise WindowError("no windows to analyse")
    temperatures = sorted({round(w.temperature, 6) for w in windows})
    if len(temperatures) > 1:
        examples = {t: next(w.source for w in windows if round(w.temperature, 6) == t)
                    for t in temperatures}
        raise WindowError(
            f"windows at different temperatures {temperatures} K (e.g. {examples}); a profile "
            "is in kT at one temperature: analyse each temperature separately"
        )
    groups: dict[float, list[Window]] = {}
    for window in windows:
        key = next((v for v in groups if abs(v - window.voltage) <= tolerance), window.voltage)
        groups.setdefault(key, []).append(window)
    for volts, members in groups.items():
        members.sort(key=lambda w: (w.center, w.spring_constant))
        for first, second in pairwise(members):
            if np.isclose(first.center, second.center, rtol=0, atol=1e-9) and np.isclose(
                first.spring_constant, second.spring_constant
            ):
                raise WindowError(
                    f"duplicate centre N_k = {first.center:g} (kappa = {first.spring_constant:g} "
                    f"kJ/mol/molecule^2) at {volts:g} V in {first.source or 'a window'} and "
                    f"{second.source or 'another window'}; concatenate repeated runs into one "
                    "window or drop one"
                )
    return dict(sorted(groups.items()))
