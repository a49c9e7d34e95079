"""Per-latent result tables: JSON lines (one row per latent and scorer) or netCDF.

A row is a flat dict such as :meth:`interp.scorers.scoring.ScoreResult.to_dict` or
:meth:`interp.judges.explain.Explanation.to_dict` gives, with at least ``latent``.
JSON lines keep every field. netCDF (via xarray) needs rows with ``latent``
and ``scorer``: numeric fields become variables on (``scorer``, ``latent``)
with ``nan`` where a scorer did not report a metric, and ``explanation``
(when present) a string variable on ``latent``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SUFFIXES = (".jsonl", ".nc")
_TEXT_FIELDS = ("explanation",)


def _as_row(row: Any) -> dict[str, Any]:
    data = row.to_dict() if hasattr(row, "to_dict") else dict(row)
    if "latent" not in data:
        raise ValueError(f"result rows need a 'latent' field, got keys {sorted(data)}")
    return data


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no nan
    if isinstance(value, np.generic):
        return _json_value(value.item())
    return value


def save_results(rows: Iterable[Any], path: str | Path) -> Path:
    """Write result rows to ``.jsonl`` or ``.nc`` (chosen by the suffix).

    Parameters
    ----------
    rows : iterable of dict or objects with ``to_dict()``
        One row per latent (and scorer).
    path : str or Path
        Output file; parent folders are created.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: results are written as .jsonl or .nc, not '{path.suffix}'")
    data = [_as_row(r) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in data:
                handle.write(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n")
        return path
    to_dataset(data).to_netcdf(path, engine="h5netcdf")
    return path


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Read rows written by :func:`save_results` (``.jsonl``; ``nan`` comes back as ``None``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    if path.suffix != ".jsonl":
        raise ValueError(f"{path}: read netCDF results with xarray.open_dataset")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from None
        if not isinstance(row, dict) or "latent" not in row:
            raise ValueError(f"{path}:{number}: a result row needs a 'latent' field")
        rows.append(row)
    return rows


def load_explanations(path: str | Path) -> dict[int, str]:
    """Read ``{latent: explanation}`` from a ``.jsonl`` written by ``interp explain``.

    Rows whose explanation is missing (the judge failed) are skipped.
    """
    out: dict[int, str] = {}
    for row in load_results(path):
        text = row.get("explanation")
        if isinstance(text, str) and text:
            out[int(row["latent"])] = text
    if not out:
        raise ValueError(f"{path} holds no explanations")
    return out


def to_dataset(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Arrange rows with ``latent`` and ``scorer`` as an :class:`xarray.Dataset`.

    Returns
    -------
    xarray.Dataset
        Dimensions ``scorer`` and ``latent``; one float variable per numeric
        field; ``explanation`` on ``latent`` when present.
    """
    import xarray as xr

    if not rows:
        raise ValueError("no result rows to write")
    for row in rows:
        if "scorer" not in row:
            raise ValueError("netCDF results need a 'scorer' field in every row; use .jsonl")
    latents = sorted({int(r["latent"]) for r in rows})
    scorers = list(dict.fromkeys(str(r["scorer"]) for r in rows))
    numeric = [
        k
        for k in dict.fromkeys(k for r in rows for k in r)
        if k not in ("latent", "scorer")
        and all(
            isinstance(r.get(k), (int, float, np.number, type(None)))
            and not isinstance(r.get(k), bool)
            for r in rows
        )
        and any(r.get(k) is not None for r in rows)
    ]
    li = {k: i for i, k in enumerate(latents)}
    si = {k: i for i, k in enumerate(scorers)}
    arrays = {k: np.full((len(scorers), len(latents)), np.nan) for k in numeric}
    for row in rows:
        for k in numeric:
            value = row.get(k)
            if value is not None:
                arrays[k][si[str(row["scorer"])], li[int(row["latent"])]] = float(value)
    ds = xr.Dataset(
        {k: (("scorer", "latent"), v) for k, v in arrays.items()},
        coords={"scorer": scorers, "latent": np.array(latents, dtype=np.int64)},
    )
    for field in _TEXT_FIELDS:
        texts = {int(r["latent"]): r.get(field) for r in rows if r.get(field)}
        if texts:
            ds[field] = ("latent", np.array([texts.get(k, "") for k in latents], dtype=object))
    scored_by = sorted({str(r["scored_by"]) for r in rows if r.get("scored_by")})
    if scored_by:
        ds.attrs["scored_by"] = ", ".join(scored_by)
    ds.attrs["producer"] = "interp.scorers.results"
    return ds
