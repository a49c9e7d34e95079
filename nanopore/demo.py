"""``nanopore demo``: the whole pipeline on the bundled quick setup, with real MD.

``nanopore demo --reference`` runs the downstream stages (voltage model, rates,
I-V loops, pressure cycles, report) on the profiles bundled in ``data/``, which
this project made with its own longer MD runs (``data/README.md`` records how).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import click

from nanopore.safe_io import atomic_write_bytes

#: the repository's data folder (present in a source checkout / editable install)
DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE_PROFILE = DATA / "reference_profile.nc"
REFERENCE_SETUP = DATA / "reference_setup.toml"


@click.command()
@click.option("--out", "out_dir", default="nanopore_demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Run directory.")
@click.option("--reference", is_flag=True,
              help="Skip MD and free energies: use the bundled reference profiles in data/.")
@click.option("--resume", is_flag=True, help="Continue the demo run in --out (keeps its profiles).")
@click.option("--force", is_flag=True, help="Rerun every stage in --out over its outputs.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for the MD windows (a local Dask cluster, one OpenMM thread "
                   "each, the voltages' chains side by side; needs the cluster extra); 1 runs "
                   "them in this process. Default: 2 on a machine with 2 or more cores.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo(out_dir: Path, reference: bool, resume: bool, force: bool, workers: int | None,
         progress: bool) -> None:
    """Run the pipeline on the bundled quick pore and write a report.

    Without options: restrained MD of the quick setup (9 windows of 15 ps at 0 V
    and 2 V, the two voltages' chains side by side; about 7 minutes on 2 CPU
    cores), WHAM profiles, the voltage model, rates with 95 % intervals, I-V
    loops and a report. The pore is dry at 0 V and wet at 2 V; the
    short windows resolve that (their bootstrap errors are a few kT against a
    shift of tens of kT) but not finer detail. With --reference: the same
    downstream stages on the bundled profiles from 8 to 13 times longer runs at
    four voltages, in seconds. An existing run in --out is refused without
    --resume or --force.
    """
    from md_setups.cli import _user_errors
    from md_setups.setup import load_setup
    from nanopore.pipeline import check_run_directory, run_pipeline

    started = time.perf_counter()
    with _user_errors():
        check_run_directory(out_dir, resume=resume, force=force,
                            marker=("manifest.json", "profile.nc"))
        if reference:
            if not REFERENCE_PROFILE.exists():
                raise FileNotFoundError(f"{REFERENCE_PROFILE} is missing; the reference data ship "
                                        "with a source checkout of the toolkit")
            setup = load_setup(REFERENCE_SETUP)
            if force or not (out_dir / "profile.nc").exists():
                atomic_write_bytes(out_dir / "profile.nc", REFERENCE_PROFILE.read_bytes())
            stages = ("voltage_model", "rates", "loops", "cycles", "report")
            click.echo(f"reference profiles: {REFERENCE_PROFILE.name} ({REFERENCE_SETUP.name})")
        else:
            setup = load_setup("quick")
            stages = ("md", "fes", "voltage_model", "rates", "loops", "cycles", "report")
            click.echo("quick setup: restrained MD of a small hydrophobic pore, then kinetics")
        if workers is None:
            workers = 2 if (os.cpu_count() or 1) >= 2 else 1
        workers = min(workers, len(setup.voltages))
        scheduler = "local" if workers > 1 and not reference else "sequential"
        if scheduler == "local" and importlib.util.find_spec("distributed") is None:
            click.echo("  note: Dask is not installed (pip install -e '.[cluster]'): the windows "
                       "run in this process")
            scheduler = "sequential"
        run_pipeline(setup, out_dir, stages=stages, scheduler=scheduler, workers=workers,
                     progress=progress, echo=click.echo, force=force)
    elapsed = time.perf_counter() - started
    click.echo(f"finished in {elapsed:.0f} s; report: {(out_dir / 'report.html').resolve()}")
