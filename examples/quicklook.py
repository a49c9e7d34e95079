"""Quick-look figures of any result datasets with the toolkit's own plotting functions.

Recognises loop (``nanopore hysteresis``), rates (``nanopore rates``) and cycle
(``nanopore cycle``) datasets by their variables and draws each with
:mod:`langevin.plots`, next to the dataset (``NAME.png``) or into ``--out``.

    python examples/quicklook.py loops.nc rates.nc cycles.nc --out figures/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import xarray as xr

from langevin.plots import plot_cycles, plot_loops, plot_rates


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="+", type=Path)
    p.add_argument("--out", type=Path, help="folder for the figures [default: next to each dataset]")
    p.add_argument("--format", default="png", help="image format  [default: png]")
    args = p.parse_args(argv)
    for path in args.datasets:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        folder = args.out or path.parent
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}.{args.format}"
        if "loop_area" in ds:
            plot_loops(ds, target)
        elif "k_wet" in ds and "voltage" in ds.dims:
            plot_rates(ds, target)
        elif "intrusion_pressure" in ds:
            plot_cycles(ds, target)
        else:
            raise SystemExit(f"{path}: not a loop, rates (with voltages) or cycle dataset")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
