"""``nanopore pipeline``: one command from a setup file to a report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(["md", "fes", "voltage_model", "rates", "loops", "cycles", "report"]),
              help="Run only these stages (repeatable) [default: all].")
@click.option("--scheduler", default=None,
              help="sequential, local (Dask LocalCluster), slurm, pbs (dask-jobqueue) or a "
                   "scheduler address [default: the setup's].")
@click.option("--workers", type=int, default=None, help="Dask workers [default: the setup's].")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out: finished stages and windows are kept.")
@click.option("--force", is_flag=True,
              help="Rerun every chosen stage in --out over its outputs (finished windows of the "
                   "same setup are reused).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def pipeline(setup_file: str, out: Path | None, stages: tuple[str, ...], scheduler: str | None,
             workers: int | None, resume: bool, force: bool, progress: bool) -> None:
    """MD windows, profiles, voltage model, rates, I-V loops, cycles and a report.

    Every stage is idempotent: rerunning with --resume skips what finished and
    resumes what is partial (windows resume from their checkpoints). An existing
    run in --out is refused without --resume or --force. SETUP is a TOML setup
    file or a bundled name (quick, production).
    """
    from md_setups.cli import _user_errors
    from md_setups.runner import default_run_directory
    from md_setups.setup import load_setup
    from nanopore.pipeline import STAGES, check_run_directory, run_pipeline

    with _user_errors():
        setup = load_setup(setup_file)
        directory = out if out is not None else default_run_directory(setup)
        check_run_directory(directory, resume=resume, force=force)
        run_pipeline(setup, directory, stages=stages or STAGES, scheduler=scheduler,
                     workers=workers, progress=progress, echo=click.echo, force=force)
    click.echo(f"report: {directory / 'report.html'}")
