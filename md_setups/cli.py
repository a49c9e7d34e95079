"""``nanopore md``: build model pore systems and run restrained or driven MD."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from md_setups.capacity import check_targets
from nanopore.cli_types import VOLTAGE


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into one-line click errors (finished windows stay on disk)."""
    from md_setups.builder import BuildError
    from md_setups.setup import SetupError
    from nanopore.windows import WindowError

    try:
        yield
    except (SetupError, BuildError, WindowError, FileNotFoundError, ValueError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None
    except OSError as err:
        from nanopore.safe_io import describe_os_error

        raise click.ClickException(describe_os_error(err, action=None)) from None


def _prepare_directory(directory: Path) -> None:
    """Check a run directory can be written and remove temporary files of killed runs."""
    from nanopore.safe_io import clean_stale_temp_files, probe_directory

    probe_directory(directory, "--out")
    for leftover in clean_stale_temp_files(directory):
        click.echo(f"removed {leftover}, a temporary file left by a killed run")


def _load(setup_file: str):
    from md_setups.setup import load_setup

    return load_setup(setup_file)


def _out(setup, out: Path | None) -> Path:
    from md_setups.runner import default_run_directory

    return out if out is not None else default_run_directory(setup)


@click.group()
def md() -> None:
    """Model pore systems and restrained MD in OpenMM.

    SETUP is a TOML setup file or the name of a bundled one (quick, production).
    """


@md.command()
@click.argument("setup_file", metavar="SETUP")
def check(setup_file: str) -> None:
    """Validate a setup file and print what it describes."""
    with _user_errors():
        setup = _load(setup_file)
        check_targets(setup)
    targets = setup.targets
    click.echo(f"{setup.source}: valid")
    click.echo(f"  box {setup.box_edges.round(3).tolist()} nm, pore R = {setup['pore']['radius']} nm, "
               f"L = {setup['pore']['length']} nm, {setup['solvent']['water_model']}, "
               f"{setup['solvent']['salt_concentration']} M KCl")
    click.echo(f"  {len(targets)} windows N_k = {targets.round(3).tolist()}, kappa = "
               f"{setup['windows']['spring_constant']} kJ/mol/molecule^2")
    click.echo(f"  voltages {setup.voltages.tolist()} V; {setup['run']['equilibration']} ps "
               f"equilibration + {setup['run']['production']} ps production per window")


@md.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
def build(setup_file: str, out: Path | None) -> None:
    """Build and check the pore system (system.pdb, system.xml, build.json)."""
    from md_setups.builder import ensure_build

    with _user_errors():
        setup = _load(setup_file)
        directory = _out(setup, out) / "build"
        _prepare_directory(directory)
        built = ensure_build(setup, directory)
    info = built.info
    click.echo(f"built {info['n_atoms']} atoms: {info['n_water']} waters, {info['n_potassium']} K+, "
               f"{info['n_chloride']} Cl-, {info['n_wall']} wall sites; N at build = "
               f"{info['checks']['n_pore_at_build']:.2f}")
    click.echo(f"wrote {directory}")


@md.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--voltage", "-V", type=VOLTAGE, multiple=True,
              help="Voltage to run, in V or with a unit (0.5, 500mV); repeat for several "
                   "[default: all of the setup's].")
@click.option("--window", "-w", type=int, multiple=True,
              help="Window index to run; repeat for several.")
@click.option("--all", "run_all", is_flag=True, help="Run every window at every chosen voltage.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
@click.option("--platform", default=None,
              type=click.Choice(["auto", "CUDA", "OpenCL", "CPU", "Reference"]),
              help="Override the setup's OpenMM platform.")
@click.option("--extend", is_flag=True,
              help="Continue finished windows from their final state up to the setup's "
                   "(longer) production.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def run(setup_file: str, voltage: tuple[float, ...], window: tuple[int, ...], run_all: bool,
        out: Path | None, platform: str | None, extend: bool, progress: bool) -> None:
    """Run restrained windows: minimise, equilibrate (pulling), produce.

    Finished windows are skipped; a killed window resumes from its last checkpoint.
    After raising ``production`` in the setup, ``--extend`` continues finished
    windows from their final state; the samples they hold are kept.
    """
    from md_setups.runner import run_windows
    from md_setups.setup import validate_setup

    if not run_all and not window:
        raise click.UsageError("choose windows with --window K (repeatable) or run them all with --all")
    with _user_errors():
        setup = _load(setup_file)
        if platform is not None:
            values = setup.to_dict()
            values["simulation"]["platform"] = platform
            setup = validate_setup(values, source=setup.source)
        n_windows = len(setup.targets)
        missing = sorted({k for k in window if not 0 <= k < n_windows})
        if missing:
            raise ValueError(f"window {', '.join(map(str, missing))} does not exist: {setup.source} "
                             f"has windows 0 to {n_windows - 1} (N_k = "
                             f"{', '.join(f'{t:g}' for t in setup.targets)})")
        check_targets(setup)
        unknown = [v for v in voltage if not any(abs(v - s) < 1e-9 for s in setup.voltages)]
        if unknown:
            click.echo(f"note: voltages {unknown} V are not in the setup; running them anyway")
        directory = _out(setup, out)
        _prepare_directory(directory)
        paths = run_windows(setup, directory, voltages=voltage or None,
                            windows=None if run_all else window, progress=progress,
                            extend=extend)
    click.echo(f"{len(paths)} windows finished in {directory} (log: {directory / 'run.log'})")


@md.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--ramp", nargs=2, type=float, default=None, metavar="V_START V_END",
              help="Linear voltage ramp over the run (V).")
@click.option("--sine", nargs=2, type=float, default=None, metavar="AMPLITUDE FREQUENCY",
              help="Sinusoidal voltage: amplitude (V) and frequency (1/ps).")
@click.option("--offset", type=float, default=0.0, show_default=True,
              help="Constant voltage added to --sine (V).")
@click.option("--duration", type=float, required=True, help="Length of the run (ps).")
@click.option("--field-stride", type=int, default=100, show_default=True,
              help="Steps between field updates.")
@click.option("--seed", type=int, default=None, help="Seed [default: from the setup].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def drive(setup_file: str, ramp, sine, offset: float, duration: float, field_stride: int,
          seed: int | None, out: Path | None, progress: bool) -> None:
    """Unrestrained MD under a voltage ramp or a sinusoidal voltage, recording N(t)."""
    from md_setups.drive import protocol_from_options, run_drive

    with _user_errors():
        setup = _load(setup_file)
        protocol = protocol_from_options(ramp, sine, offset)
        _prepare_directory(_out(setup, out))
        path = run_drive(setup, _out(setup, out), protocol, duration, field_stride, seed, progress)
    click.echo(f"wrote {path}")


@md.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory on a shared file system [default: ./nanopore_run_<setup>].")
@click.option("--partition", default=None, help="SLURM partition.")
@click.option("--account", default=None, help="SLURM account.")
@click.option("--time", "time_limit", default="24:00:00", show_default=True,
              help="Wall time per array task.")
@click.option("--gather-time", default="01:00:00", show_default=True,
              help="Wall time of the gather job.")
@click.option("--gpus", type=int, default=1, show_default=True,
              help="GPUs per task (0: CPU tasks).")
@click.option("--cpus", type=int, default=4, show_default=True, help="CPU cores per task.")
@click.option("--mem", "memory", default="8G", show_default=True, help="Memory per task.")
@click.option("--max-parallel", type=int, default=0, show_default=True,
              help="At most this many array tasks at once (0: no limit).")
@click.option("--per-voltage", is_flag=True,
              help="One task per voltage with chained windows, instead of one per window.")
@click.option("--setup-line", "setup_lines", multiple=True,
              help="Shell line run before each job's command (repeatable), "
                   "e.g. 'module load cuda' or 'source venv/bin/activate'.")
def slurm(setup_file: str, out: Path | None, partition: str | None, account: str | None,
          time_limit: str, gather_time: str, gpus: int, cpus: int, memory: str,
          max_parallel: int, per_voltage: bool, setup_lines: tuple[str, ...]) -> None:
    """Write a SLURM job array (one task per voltage and window) and a gather job."""
    from md_setups.slurm import SlurmOptions, write_slurm_scripts

    with _user_errors():
        setup = _load(setup_file)
        options = SlurmOptions(partition=partition, time=time_limit, gather_time=gather_time,
                               gpus=gpus, cpus=cpus, memory=memory, account=account,
                               max_parallel=max_parallel, setup_lines=setup_lines)
        paths = write_slurm_scripts(setup, _out(setup, out), options, per_voltage=per_voltage)
    click.echo(f"wrote {paths['windows']}, {paths['gather'].name} and {paths['submit'].name}")
    click.echo(f"submit with: bash {paths['submit']}")


@md.command("contact-angle")
@click.argument("setup_file", metavar="SETUP")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output directory [default: ./nanopore_contact_angle_<setup>].")
@click.option("--duration", type=float, default=100.0, show_default=True,
              help="Production time analysed (ps).")
@click.option("--equilibration", type=float, default=20.0, show_default=True,
              help="Time before the analysed part (ps).")
@click.option("--waters", type=int, default=600, show_default=True,
              help="Water molecules in the droplet.")
@click.option("--width", type=float, default=0.0, show_default=True,
              help="Box edge along x (nm); 0 sizes it for a droplet down to 60 degrees.")
@click.option("--epsilon", type=float, default=None,
              help="Wall-oxygen LJ epsilon (kJ/mol) [default: the setup's].")
@click.option("--frame-interval", type=float, default=0.2, show_default=True,
              help="Time between analysed frames (ps).")
@click.option("--bin", "bin_width", type=float, default=0.1, show_default=True,
              help="Cell edge of the density map (nm).")
@click.option("--blocks", type=int, default=4, show_default=True,
              help="Blocks of the run for the error.")
@click.option("--exclude", type=float, default=0.6, show_default=True,
              help="Contour points lower than this above the wall sites are not fitted (nm).")
@click.option("--seed", type=int, default=None, help="Seed [default: from the setup].")
@click.option("--platform", default=None,
              type=click.Choice(["auto", "CUDA", "OpenCL", "CPU", "Reference"]),
              help="Override the setup's OpenMM platform.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Image of the density map with the fitted circle (.png/.pdf/.svg).")
@click.option("--refit", is_flag=True,
              help="Fit the density maps of the finished run in --out again (e.g. with another "
                   "--exclude) instead of running MD.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def contact_angle(setup_file: str, out: Path | None, duration: float, equilibration: float,
                  waters: int, width: float, epsilon: float | None, frame_interval: float,
                  bin_width: float, blocks: int, exclude: float, seed: int | None,
                  platform: str | None, figure: Path | None, refit: bool, progress: bool) -> None:
    """Contact angle of the setup's wall: a cylindrical water droplet on a flat slab of it.

    Same lattice, lattice constant, thickness and wall-oxygen sigma/epsilon as the
    setup's pore wall, same water model and nonbonded settings; NVT MD; a circle
    fitted to the half-density contour of the time-averaged density map (degrees,
    with a block error). Writes contact_angle.nc and contact_angle.json and prints
    the `nanopore design` command for the same angle.
    """
    from md_setups.contact_angle import (
        DropletSettings,
        refit_contact_angle,
        run_contact_angle,
        summary_lines,
    )
    from md_setups.setup import validate_setup

    with _user_errors():
        setup = _load(setup_file)
        if platform is not None:
            values = setup.to_dict()
            values["simulation"]["platform"] = platform
            setup = validate_setup(values, source=setup.source)
        directory = out if out is not None else Path.cwd() / f"nanopore_contact_angle_{setup.name}"
        if refit:
            result = refit_contact_angle(setup, directory, exclude, figure=figure)
        else:
            settings = DropletSettings(waters=waters, width=width, duration=duration,
                                       equilibration=equilibration, frame_interval=frame_interval,
                                       bin_width=bin_width, blocks=blocks, exclude=exclude,
                                       epsilon=epsilon, seed=seed)
            result = run_contact_angle(setup, directory, settings, figure=figure,
                                       progress=progress)
    for line in summary_lines(result, setup):
        click.echo(line)
    click.echo(f"wrote {result.paths['json']} and {result.paths['nc'].name}"
               + (f", {result.paths['figure']}" if "figure" in result.paths else ""))


from md_setups.nemd_cli import conductance, piston  # noqa: E402  (commands in their own module)

md.add_command(conductance)
md.add_command(piston)
