"""Provenance attributes attached to every dataset the toolkit writes."""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Mapping, Sequence
from typing import Any

from nanopore._version import __version__


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if hasattr(value, "tolist"):
            return value.tolist()
        return str(value)


def provenance_attrs(
    producer: str,
    inputs: Sequence[str] | str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Build the provenance attributes of a dataset.

    Parameters
    ----------
    producer : str
        What produced the data, e.g. ``"langevin.rates (method=exact)"``.
    inputs : sequence of str or str, optional
        Files or datasets the data were computed from.
    parameters : mapping, optional
        Settings of the computation; stored as a JSON string.

    Returns
    -------
    dict of str to str
        Attributes ``producer``, ``inputs``, ``parameters``, ``created`` (UTC,
        ISO 8601), ``software`` (toolkit and Python versions).
    """
    if inputs is None:
        inputs_list: list[str] = []
    elif isinstance(inputs, str):
        inputs_list = [inputs]
    else:
        inputs_list = [str(item) for item in inputs]
    params = {str(k): _jsonable(v) for k, v in (parameters or {}).items()}
    return {
        "producer": producer,
        "inputs": json.dumps(inputs_list),
        "parameters": json.dumps(params, sort_keys=True),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "software": f"nanopore-toolkit {__version__}; Python {platform.python_version()}",
    }


def annotate(ds, annotations: Mapping[str, tuple[str, str]]) -> None:
    """Set ``units`` and ``long_name`` of the dataset's variables in place.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset to annotate.
    annotations : mapping of str to (str, str)
        Variable name -> (units, long name); names absent from ``ds`` are skipped.
    """
    for name, (unit, long_name) in annotations.items():
        if name in ds.variables:
            ds[name].attrs.update(units=unit, long_name=long_name)
