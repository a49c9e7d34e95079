"""Shared figure style and helpers of the example scripts (not a public module).

Figures are sized for a journal column (3.4 in single, 7.0 in double), with 8 pt
text, and saved to every path given with ``-o`` (PNG at 300 dpi, PDF/SVG as vectors).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import xarray as xr

SINGLE = 3.4  # inches
DOUBLE = 7.0

STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.frameon": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,
    "mathtext.default": "regular",
}


def parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the ``-o/--output`` option every script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "-o", "--output", action="append", required=True, type=Path,
        help="figure to write (.png, .pdf, .svg); repeat for several formats",
    )
    return p


def figure(width: float = SINGLE, height: float = 2.6, ncols: int = 1, **kwargs):
    """A figure in the paper style and its axes."""
    plt.rcParams.update(STYLE)
    return plt.subplots(1, ncols, figsize=(width, height), constrained_layout=True, **kwargs)


def save(fig, outputs: Sequence[Path]) -> list[Path]:
    """Write ``fig`` to every path in ``outputs`` and close it."""
    written = []
    for path in outputs:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=300)
        written.append(path)
        print(f"wrote {path}")
    plt.close(fig)
    return written


def open_dataset(path: Path, needs: Sequence[str]) -> xr.Dataset:
    """Load a result dataset fully and check it holds ``needs``; exit with a message if not."""
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    missing = [name for name in needs if name not in ds.variables]
    if missing:
        raise SystemExit(f"{path}: not the expected dataset (missing {', '.join(missing)})")
    return ds


def model_label(ds: xr.Dataset, fallback: str) -> str:
    """Short label from a dataset's producer attribute, e.g. 'master' or 'exact'."""
    producer = str(ds.attrs.get("producer", ""))
    if "=" in producer:
        return producer.rsplit("=", 1)[1].rstrip(")")
    return fallback
