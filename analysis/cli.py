"""Free-energy commands: ``nanopore fes`` and ``nanopore cv``."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
import warnings
from pathlib import Path

import click
import numpy as np

from analysis.errors import AnalysisError
from nanopore.cli_types import VOLTAGE, NumberRange
from nanopore.cv import CVError, PoreCV
from nanopore.profile import ProfileError, save_profile, write_dataset
from nanopore.safe_io import (
    OutputError,
    check_outputs,
    probe_writable,
    refuse_overwriting_inputs,
)
from nanopore.windows import WindowError, WindowFile


def _friendly_errors(func):
    """Turn expected input errors into one-line click errors (exit code 1)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (WindowError, AnalysisError, CVError, ProfileError, OutputError,
                FileNotFoundError, ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _table(header: list[str], rows: list[list[object]]) -> str:
    from langevin.plots import format_table

    return format_table(header, rows)


@click.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Profile dataset to write (.nc).")
@click.option("--method", type=click.Choice(["wham", "mbar", "ui"]), default="wham",
              show_default=True, help="Estimator: WHAM on histograms (fast), MBAR (pymbar FES) "
              "or umbrella integration.")
@click.option("--fes-type", type=click.Choice(["histogram", "kde", "spline"]), default="histogram",
              show_default=True, help="MBAR profile type (kde needs scikit-learn).")
@click.option("--samples", type=click.Choice(["equilibrated", "independent"]),
              help="Samples for the estimate: every equilibrated sample or the decorrelated "
              "subsample. Default: equilibrated for wham and ui, independent for mbar.")
@click.option("--bin-width", type=float, help="Grid spacing (molecules); default: a third of "
              "the median window spread.")
@click.option("--bins", type=int, help="Number of grid bins instead of --bin-width.")
@click.option("--range", "n_range", type=NumberRange(), default=None,
              help="Grid from LO to HI (molecules), inside the range sampled at every voltage; "
              "default: all of that range.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=None,
              help="Bootstrap replicates for the error. Default: 50 for wham and ui; 0 for "
              "mbar, whose error is then MBAR's analytic one (bootstrap replicates of mbar run "
              "in parallel, see --jobs).")
@click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Threads of the mbar bootstrap (0: one per CPU core).")
@click.option("--seed", default=0, show_default=True, help="Random seed of the bootstrap.")
@click.option("--temperature", type=float, help="Temperature (K) of text inputs that lack one.")
@click.option("--voltage", type=VOLTAGE, help="Voltage of text inputs that lack one, in V "
              "or with a unit (0.5, 500mV; default 0); window files carry their own.")
@click.option("--column", help="COLVAR column holding N.")
@click.option("--bias-column", help="COLVAR column of the harmonic restraint energy (kJ/mol), "
              "for COLVAR files given directly; default: the one '*.bias' column.")
@click.option("--min-effective", default=50.0, show_default=True,
              help="Report windows with fewer effective samples.")
@click.option("--min-overlap", default=0.03, show_default=True,
              help="Report neighbouring windows with less overlap.")
@click.option("--min-count", default=10, show_default=True,
              help="Trim grid ends to bins with at least this many samples.")
@click.option("--no-equilibration", is_flag=True, help="Keep every sample (no equilibration "
              "detection). Windows of `nanopore md run` exclude their own equilibration; on "
              "windows that need none, detection makes the bootstrap errors too small (2x at "
              "25 effective samples per window, benchmarks/calibrate_profile_errors.py).")
@click.option("--max-offset", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Refuse windows whose mean sits more than this many standard deviations "
              "from their restraint centre ('inf' accepts any) [default: 10].")
@click.option("--cv-name", help="Name of the collective variable [default: from the inputs, "
              "else water molecules in the pore].")
@click.option("--cv-units", help="Units of the collective variable [default: from the inputs, "
              "else molecules].")
@click.option("--plot", type=click.Path(dir_okay=False), help="Figure to write (.png/.pdf): "
              "profiles with error bands, D(N), window histograms, overlap.")
@click.option("--progress/--no-progress", default=False, help="Progress bars.")
@click.option("--keep-replicates", is_flag=True, help="Keep the bootstrap replicate profiles "
              "(free_energy_replicates) for confidence intervals of rates and loops.")
@_friendly_errors
def fes(inputs, output, method, fes_type, samples, bin_width, bins, n_range, n_bootstrap, jobs,
        seed, temperature, voltage, column, bias_column, min_effective, min_overlap, min_count,
        no_equilibration, max_offset, cv_name, cv_units, plot, progress, keep_replicates):
    """Free-energy profile Omega(N) (kT) and diffusion D(N) (molecules^2/ps) from windows.

    INPUT: a directory of window files (*.h5), window files, a WHAM-style metadata
    file (lines 'path center spring_constant [temperature [voltage]]' in molecules,
    kJ/mol/molecule^2 with 0.5 k (N - N_k)^2, K, V; each path a 'time(ps) N' series
    or a COLVAR file) or PLUMED COLVAR files with a restraint bias column. Windows
    at several voltages give one profile per voltage on one grid. Omega = 0 at the
    dry (lowest-N) minimum of each voltage. Unfinished windows are named; windows
    whose samples sit far from their restraint centre are refused.
    """
    from analysis.fes import compute_profile
    from analysis.readers import load_windows

    refuse_overwriting_inputs({"-o": output, "--plot": plot}, inputs)
    probe_writable(output, "-o")
    probe_writable(plot, "--plot")
    windows = load_windows(list(inputs), temperature=temperature, voltage=voltage, column=column,
                           bias_column=bias_column)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compute_profile(
            windows, method=method, bins=bins, bin_width=bin_width, samples=samples,
            n_bootstrap=n_bootstrap, seed=seed, fes_type=fes_type, min_effective=min_effective,
            keep_replicates=keep_replicates,
            min_overlap=min_overlap, min_count=min_count,
            detect_equilibration=not no_equilibration, progress=progress,
            inputs=[str(p) for p in inputs], n_range=n_range, cv_name=cv_name,
            cv_units=cv_units, jobs=jobs,
            **({} if max_offset is None else {"max_offset": max_offset}))
    shown = {str(w.message) for w in caught if issubclass(w.category, UserWarning)}
    for note in result.warnings:
        click.echo(f"warning: {note}", err=True)
    for note in sorted(shown - set(result.warnings)):
        click.echo(f"warning: {note}", err=True)
    rows = []
    for item in result.voltages:
        for window, d in zip(item.windows, item.diffusion):
            rows.append([f"{item.voltage:g}", Path(window.name).name, window.window.center,
                         window.window.spring_constant, d.position, window.inefficiency,
                         window.n_effective, d.diffusion])
    click.echo(_table(["V (V)", "window", "N_k", "k (kJ/mol)", "<N>", "g", "N_eff",
                       "D (mol^2/ps)"], rows))
    summary = []
    n = result.profile["n"].values
    for item in result.voltages:
        error = item.error if item.error is not None else np.full(n.size, np.nan)
        conv = item.convergence.max_difference if item.convergence else float("nan")
        summary.append([f"{item.voltage:g}", len(item.windows), n[item.gauge_index],
                        float(np.max(item.free_energy)), float(np.nanmax(error)), conv])
    click.echo("")
    click.echo(_table(["V (V)", "windows", "N_dry", "max Omega (kT)", "max error (kT)",
                       "halves differ (kT)"], summary))
    save_profile(result.profile, output)
    units = result.profile["n"].attrs.get("units", "molecules")
    click.echo(f"wrote {output} ({method}, {result.profile.attrs['errors']} errors, "
               f"{n.size} grid points of {result.profile.attrs['cv_name']} from {n[0]:.4g} to "
               f"{n[-1]:.4g} {units})")
    if plot:
        from analysis.plots import plot_fes

        plot_fes(result, plot)
        click.echo(f"wrote {plot}")


def pore_axis_from_build(build: Path | None, topology: str | Path) -> tuple[tuple[float, float] | None, Path | None]:
    """The pore axis (x, y in nm) from a ``build.json``, and the file it came from.

    Parameters
    ----------
    build : Path, optional
        A ``build.json`` or the folder holding it; default: ``build.json`` beside
        the topology (where ``nanopore md build`` writes both).
    topology : path-like
        The topology file.

    Returns
    -------
    ((float, float) or None, Path or None)
    """
    candidate = Path(build) if build is not None else Path(topology).parent / "build.json"
    if candidate.is_dir():
        candidate = candidate / "build.json"
    if not candidate.is_file():
        if build is not None:
            raise click.BadParameter(f"{candidate} does not exist", param_hint="--build")
        return None, None
    try:
        cv = json.loads(candidate.read_text()).get("cv", {})
        return (float(cv["center_x"]), float(cv["center_y"])), candidate
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise click.ClickException(f"{candidate} holds no pore axis (cv.center_x, cv.center_y: "
                                   f"{err}); give the axis in --pore as R,z_lo,z_hi,smoothing,"
                                   "center_x,center_y") from None


def _gives_axis(text: str) -> bool:
    """Whether a --pore value sets the axis (center_x, center_y) itself."""
    path = Path(text)
    if path.is_file():
        values = json.loads(path.read_text())
        return {"center_x", "center_y"} <= set(values.get("cv", values))
    return len([v for v in text.split(",") if v.strip()]) == 6


def parse_pore(text: str) -> PoreCV:
    """A CV definition from ``R,z_lo,z_hi[,smoothing[,center_x,center_y]]`` (nm) or a JSON file."""
    path = Path(text)
    if path.is_file():
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise click.BadParameter(f"{path} is not JSON ({err})", param_hint="--pore") from None
        return PoreCV.from_dict(values.get("cv", values))
    try:
        numbers = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected 'R,z_lo,z_hi[,smoothing[,center_x,center_y]]' in nm or a JSON file, got "
            f"'{text}'", param_hint="--pore") from None
    if len(numbers) not in (3, 4, 6):
        raise click.BadParameter("give 3, 4 or 6 numbers: R,z_lo,z_hi[,smoothing[,center_x,"
                                 "center_y]] (nm)", param_hint="--pore")
    keys = ["radius", "z_lo", "z_hi", "smoothing", "center_x", "center_y"]
    return PoreCV(**dict(zip(keys, numbers)))


def write_series(path: str | os.PathLike, time: np.ndarray, n: np.ndarray, header: str) -> Path:
    """Write a two-column ``time(ps) N`` text series atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        np.savetxt(tmp, np.column_stack([time, n]), fmt="%.6f %.8f", header=header)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_window(path: str | os.PathLike, time: np.ndarray, n: np.ndarray, metadata: dict) -> Path:
    """Write a complete window file atomically (replacing any file there)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".h5", dir=path.parent)
    os.close(handle)
    os.remove(tmp)
    try:
        with WindowFile(tmp, metadata) as window:
            window.append(time, n)
            window.mark_complete()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


@click.command()
@click.argument("topology", metavar="TOPOLOGY", type=click.Path(exists=True, dir_okay=False))
@click.argument("trajectories", metavar="TRAJECTORY...", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--pore", required=True, help="CV region: 'R,z_lo,z_hi[,smoothing[,center_x,"
              "center_y]]' (nm; smoothing default 0.02) or a JSON file with those keys. Without "
              "center_x,center_y the pore axis comes from build.json (see --build), else x = y = 0.")
@click.option("--build", type=click.Path(path_type=Path), default=None,
              help="build.json of `nanopore md build` (or its folder), for the pore axis "
              "[default: build.json beside TOPOLOGY, when there].")
@click.option("--select", "selection", default="name OW", show_default=True,
              help="MDAnalysis selection of the water oxygens.")
@click.option("--center", type=float, help="Restraint centre N_k (molecules), for a window file.")
@click.option("--spring-constant", type=float, help="Restraint kappa (kJ/mol/molecule^2, "
              "0.5 kappa (N - N_k)^2), for a window file.")
@click.option("--temperature", type=float, help="Temperature (K), for a window file.")
@click.option("--voltage", type=VOLTAGE, default=0.0, show_default=True, help="Voltage (V, or "
              "with a unit: 500mV), for a window file.")
@click.option("--start", type=int, help="First frame.")
@click.option("--stop", type=int, help="Frame to stop before.")
@click.option("--step", type=int, help="Frame stride.")
@click.option("--slices", default=20, show_default=True, help="Slices along z for the density.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="N(t): a window file (.h5) when --center, --spring-constant and "
              "--temperature are given, else a two-column text series 'time(ps) N'.")
@click.option("--structure", type=click.Path(dir_okay=False),
              help="Also write density (molecules/nm^3), occupancy and accessible radius (nm) "
              "along z as netCDF.")
@_friendly_errors
def cv(topology, trajectories, pore, build, selection, center, spring_constant, temperature,
       voltage, start, stop, step, slices, output, structure):
    """Water count N(t) in the pore from a trajectory of any engine (MDAnalysis).

    Evaluates the toolkit's CV (the function the MD stage restrains) on every
    frame. With the restraint (--center, --spring-constant, --temperature) the
    output is a window file ready for `nanopore fes`; without it, a 'time(ps) N'
    text series that a WHAM metadata file can list.
    """
    import MDAnalysis as mda
    import xarray as xr

    from analysis.trajectory import PoreWater

    check_outputs({"-o": output, "--structure": structure}, [topology, *trajectories])
    definition = parse_pore(pore)
    if not _gives_axis(pore):
        axis, source = pore_axis_from_build(build, topology)
        if axis is not None:
            definition = dataclasses.replace(definition, center_x=axis[0], center_y=axis[1])
            click.echo(f"pore axis at x = {axis[0]:g}, y = {axis[1]:g} nm from {source}")
        else:
            click.echo("note: pore axis at x = y = 0 nm (no build.json beside the topology); give "
                       "center_x,center_y in --pore or --build if the pore is elsewhere", err=True)
    restraint = {"--center": center, "--spring-constant": spring_constant,
                 "--temperature": temperature}
    given = [k for k, v in restraint.items() if v is not None]
    if given and len(given) < 3:
        missing = [k for k, v in restraint.items() if v is None]
        raise click.ClickException(f"a window file needs the restraint: give {', '.join(missing)} "
                                   f"too (or none of them for a plain time series)")
    if not given and Path(output).suffix.lower() in (".h5", ".hdf5"):
        raise click.ClickException(
            f"{output}: a window file needs --center (molecules), --spring-constant "
            "(kJ/mol/molecule^2) and --temperature (K); give them, or name the output .dat for "
            "a plain 'time(ps) N' series")
    universe = mda.Universe(topology, *trajectories)
    oxygens = universe.select_atoms(selection)
    result = PoreWater(oxygens, definition, n_slices=slices).run(start=start, stop=stop, step=step)
    time, n = result.results.time, result.results.n
    if n.size == 0:
        raise click.ClickException("no frames selected; check --start/--stop/--step")
    if given:
        metadata = {"center": center, "spring_constant": spring_constant, "temperature": temperature,
                    "voltage": voltage, "cv": definition.to_dict(), "topology": str(topology),
                    "trajectories": [str(t) for t in trajectories], "selection": selection,
                    "producer": "nanopore cv (MDAnalysis)"}
        write_window(output, time, n, metadata)
    else:
        header = (f"time(ps) N(molecules); CV {json.dumps(definition.to_dict())}; "
                  f"{topology} {' '.join(trajectories)}")
        write_series(output, time, n, header)
    click.echo(_table(["frames", "<N>", "min N", "max N", "t0 (ps)", "t1 (ps)"],
                      [[n.size, float(n.mean()), float(n.min()), float(n.max()), float(time[0]),
                        float(time[-1])]]))
    click.echo(f"wrote {output}")
    if structure:
        from nanopore.provenance import annotate, provenance_attrs

        ds = xr.Dataset(
            {"density": ("z", result.results.density),
             "occupancy": ("z", result.results.occupancy),
             "accessible_radius": ("z", result.results.accessible_radius)},
            coords={"z": result.results.z},
            attrs=provenance_attrs("analysis.trajectory.PoreWater", [str(topology), *map(str, trajectories)],
                                   {"cv": definition.to_dict(), "selection": selection}),
        )
        annotate(ds, {"z": ("nm", "position along the pore axis from the pore centre"),
                      "density": ("molecules/nm^3", "water oxygen density near the axis"),
                      "occupancy": ("1", "fraction of frames with water in the slice"),
                      "accessible_radius": ("nm", "radius of the water-accessible region")})
        write_dataset(ds, structure)
        click.echo(f"wrote {structure}")
