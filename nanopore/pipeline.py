"""``nanopore pipeline``: from a setup file to hysteresis plots, stage by stage.

Stages, each writing into the run directory and recorded in ``manifest.json``:

1. ``md``: restrained windows at every voltage (``md/``), sequentially or as Dask
   tasks; finished windows are skipped and partial ones resume from their checkpoint.
2. ``fes``: the profile dataset from the windows (``profile.nc``, ``fes.png``).
3. ``voltage_model``: Omega(N; V) = Omega_0 + a V + b V^2 fitted to the profiles
   (``voltage_model.nc``), with the held-out error when three or more voltages ran.
4. ``rates``: wetting and drying rates over a voltage scan (``rates.nc``, ``rates.png``).
5. ``loops``: memristor I-V loops over a frequency grid (``loops.nc``, ``loops.png``).
6. ``cycles``: intrusion/extrusion cycles, when ``[pipeline] pressures`` is set.
7. ``report``: ``report.md`` and ``report.html`` with the figures and a summary.

A stage is skipped when the manifest says it finished with the same inputs (the
content of its input files, every window file included, and its settings) and
its outputs still hold what it wrote, so rerunning a killed pipeline redoes only
what was unfinished or changed. Temporary files left by killed processes are
removed at the start.
The packages of the stages are imported when their stage runs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nanopore.manifest import Manifest, file_digest
from nanopore.safe_io import clean_stale_temp_files, probe_directory

STAGES = ("md", "fes", "voltage_model", "rates", "loops", "cycles", "report")


@dataclass
class PipelineContext:
    """What every stage sees.

    Attributes
    ----------
    setup : md_setups.setup.Setup
    out : Path
        Run directory.
    manifest : Manifest
    progress : bool
        Show progress bars.
    echo : callable
        Prints a line for the user.
    scheduler : str
        ``sequential``, ``local``, ``slurm``, ``pbs`` or a scheduler address.
    workers : int
        Dask workers.
    summary : dict
        Numbers the report shows, filled by the stages.
    """

    setup: Any
    out: Path
    manifest: Manifest
    progress: bool = True
    echo: Callable[[str], None] = print
    scheduler: str = "sequential"
    workers: int = 2
    summary: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        """A file in the run directory."""
        return self.out / name


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return file_digest(path)


def _windows_digest(directory: Path) -> str:
    """Digest of the content of every window file under a folder (names included)."""
    if not directory.is_dir():
        return "missing"
    return _digest({str(path.relative_to(directory)): file_digest(path)
                    for path in sorted(directory.glob("**/*.h5"))})


class RunExistsError(ValueError):
    """A run directory that already holds a run, given without --resume or --force."""


def check_run_directory(out: str | Path, resume: bool = False, force: bool = False,
                        marker: tuple[str, ...] = ("manifest.json",)) -> None:
    """Refuse to write into an existing run unless asked to resume it or start over.

    Parameters
    ----------
    out : path-like
        The run directory.
    resume : bool
        Continue the run there (finished stages are kept).
    force : bool
        Rerun every stage there, replacing its outputs.
    marker : tuple of str
        Files whose presence makes the directory a run.

    Raises
    ------
    RunExistsError
        When the directory holds a run and neither flag is given.
    OutputError
        When the directory cannot be written.
    """
    out = Path(out)
    if resume and force:
        raise RunExistsError("give --resume or --force, not both")
    found = [name for name in marker if (out / name).exists()]
    if found and not (resume or force):
        done = []
        manifest = out / "manifest.json"
        if manifest.exists():
            try:
                stages = json.loads(manifest.read_text()).get("stages", {})
                done = [name for name, record in stages.items() if record.get("status") == "done"]
            except (OSError, ValueError, AttributeError):
                done = []
        what = f"a run (stages done: {', '.join(done)})" if done else f"a run ({found[0]})"
        raise RunExistsError(f"{out} already holds {what}; add --resume to continue it, --force to "
                             "rerun every stage over it, or choose another --out")
    probe_directory(out, "--out")


# ------------------------------------------------------------------------ stages
def stage_md(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Run every restrained window (resuming partial ones)."""
    from md_setups.capacity import check_targets
    from md_setups.runner import run_windows

    setup = ctx.setup
    check_targets(setup)
    out = ctx.path("md")
    if ctx.scheduler == "sequential":
        paths = run_windows(setup, out, progress=ctx.progress)
    else:
        from md_setups.distributed import make_client, run_windows_dask

        client = make_client(ctx.scheduler, ctx.workers)
        try:
            paths = run_windows_dask(setup, out, client, progress=ctx.progress)
        finally:
            client.close()
    outputs = [str(p.relative_to(ctx.out)) for p in paths]
    log = out / "run.log"
    notes = [f"{len(paths)} windows in {out.name}/ (log {log.name})"]
    return outputs, notes, {"scheduler": ctx.scheduler}


def stage_fes(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Profiles from the windows."""
    import warnings

    from analysis.errors import AnalysisError
    from analysis.fes import compute_profile
    from analysis.plots import plot_fes
    from analysis.readers import load_windows
    from nanopore.profile import save_profile

    setup = ctx.setup
    windows = load_windows(ctx.path("md"))
    notes: list[str] = []
    # short windows can leave a bin empty between neighbours: widen the bins, and say so
    for bin_width in (None, 0.25, 0.5, 1.0):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the notes are kept below
                result = compute_profile(
                    windows, method=setup["pipeline"]["fes_method"], bin_width=bin_width,
                    n_bootstrap=setup["pipeline"]["bootstrap"], seed=setup["run"]["seed"],
                    progress=ctx.progress,
                    detect_equilibration=setup["pipeline"]["detect_equilibration"],
                    inputs=[str(ctx.path("md"))])
            break
        except AnalysisError as err:
            if "gap" not in str(err) or bin_width == 1.0:
                raise
            notes.append(f"{err}; retried with bins of "
                         f"{0.25 if bin_width is None else 2 * bin_width:g} molecules")
    save_profile(result.profile, ctx.path("profile.nc"))
    plot_fes(result, ctx.path("fes.png"))
    return ["profile.nc", "fes.png"], notes + list(result.warnings), {}


def _voltage_model(ctx: PipelineContext):
    from nanopore.profile import load_profile
    from nanopore.voltage_model import VoltageModel

    profile = load_profile(ctx.path("profile.nc"))
    if "voltage" not in profile.dims or profile.sizes["voltage"] < 2:
        raise ValueError("the voltage model needs profiles at two or more voltages; add "
                         "voltages to [run] voltages")
    # the builder's pores are mirror-symmetric slabs: no intrinsic dipole, a(N) = 0
    return profile, VoltageModel.fit(profile, symmetric=True)


def stage_voltage_model(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Fit a(N), b(N); report the held-out error of each inner voltage."""
    from nanopore.profile import save_profile
    from nanopore.voltage_model import VoltageModel

    profile, model = _voltage_model(ctx)
    voltages = profile["voltage"].values
    notes, holdout = [], {}
    if len(voltages) >= 3:
        for voltage in voltages[1:-1]:
            partial = VoltageModel.fit(profile, exclude=float(voltage), symmetric=True)
            holdout[f"{voltage:g}"] = partial.holdout_error(profile, float(voltage))
            notes.append(f"fitted without {voltage:g} V, the model predicts it within "
                         f"{holdout[f'{voltage:g}']:.2f} kT (rms)")
    grid = np.linspace(min(voltages.min(), 0.0), voltages.max(), 11)
    save_profile(model.to_profile(grid), ctx.path("voltage_model.nc"))
    return ["voltage_model.nc"], notes, {"holdout_rms_kT": holdout}


def _basins(ctx: PipelineContext, model: Any) -> tuple[dict[str, float], list[str]]:
    """Basin positions for the kinetics: found in the profiles, or chosen when they are not.

    Short windows can give profiles in which no voltage shows both a dry and a wet
    basin (one is a shoulder). The states are then taken as the free-energy minimum
    over the lower half of the grid at 0 V (dry) and over the upper half at the
    largest voltage (wet), and a note says so.
    """
    from langevin.basins import BasinError
    from langevin.rates import basins_for_rows

    volts = np.linspace(*ctx.setup["pipeline"]["rate_voltages"][:2],
                        ctx.setup["pipeline"]["rate_points"])
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            basins_for_rows(model.n, model.free_energy(volts, warn=False))
        return {}, []
    except BasinError as err:
        n = model.n
        half = n.size // 2
        high = float(max(abs(volts[0]), abs(volts[-1]), np.max(np.abs(ctx.setup.voltages))))
        dry = float(n[np.argmin(model.free_energy(0.0, warn=False)[:half])])
        wet = float(n[half + np.argmin(model.free_energy(high, warn=False)[half:])])
        note = (f"{err}: using the dry state at N = {dry:.2f} (minimum of the lower half at 0 V) "
                f"and the wet state at N = {wet:.2f} (minimum of the upper half at {high:g} V)")
        return {"dry": dry, "wet": wet}, [note]


def _measured_full_pore(ctx: PipelineContext) -> float | None:
    """Full-pore water count measured in the wet build (molecules), or None."""
    import json

    build = ctx.path("md") / "build" / "build.json"
    if not build.exists():
        return None
    n_full = (json.loads(build.read_text()).get("full_pore") or {}).get("n_full")
    if n_full is None or not np.isfinite(n_full) or n_full <= 0:
        return None
    return float(n_full)


def _rate_states(ctx: PipelineContext, model: Any, low: float,
                 high: float) -> tuple[dict[str, float], list[str]] | None:
    """States of the rate scan: the dry minimum at 0 V and the measured full pore.

    Basins found in profiles of windows a few ps long can be noise (a shallow dip
    taken for the wet state at one voltage and not at the next), which makes k_wet
    jump between voltages. The physical question is how fast the pore fills: from
    the dry minimum (the lowest free energy below half the full-pore count, at the
    voltage of the scan closest to 0 V) to the pore holding the full-pore count
    measured by the build's unrestrained wet run. None when the setup asks for the
    profiles' basins or the build measured no full pore.
    """
    if ctx.setup["pipeline"]["rate_states"] != "full_pore":
        return None
    n_full = _measured_full_pore(ctx)
    n = model.n
    if n_full is None or n_full > n[-1]:
        return None
    rest = float(np.clip(0.0, low, high))
    emptier = n < 0.5 * n_full
    if emptier.sum() < 1 or np.sum((n > n[emptier][-1]) & (n <= n_full)) < 2:
        return None
    omega = model.free_energy(rest, warn=False)
    dry = float(n[np.flatnonzero(emptier)[np.argmin(omega[emptier])]])
    note = (f"states of the rates: dry N = {dry:.3g} (the lowest free energy below half the full "
            f"pore at {rest:g} V) and wet N = {n_full:.3g} (the full pore measured in the wet "
            "build): k_wet is the rate of filling the pore ([pipeline] rate_states)")
    return {"dry": dry, "wet": n_full}, [note]


def stage_rates(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Exact rates over the voltage scan, with confidence intervals when the profile has errors."""
    import warnings

    from langevin.plots import plot_rates
    from langevin.uncertainty import profile_rows, rates_for_profile
    from nanopore.profile import write_dataset

    profile, model = _voltage_model(ctx)
    first, last = ctx.setup["pipeline"]["rate_voltages"][:2]
    low, high = model.fitted_range()
    basins, notes = _rate_states(ctx, model, low, high) or _basins(ctx, model)
    if first < low - 1e-12 or last > high + 1e-12:  # the voltage model does not extrapolate
        notes.append(f"rate voltages {first:g} to {last:g} V limited to the range the voltage "
                     f"model was fitted on: {max(first, low):g} to {min(last, high):g} V")
        first, last = max(first, low), min(last, high)
    volts = np.linspace(first, last, ctx.setup["pipeline"]["rate_points"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the voltage model refitted to every resampled profile gives the intervals
        rows = profile_rows(profile, voltages=volts, symmetric=True)
        rates = rates_for_profile(profile, rows, inputs=["profile.nc"],
                                  seed=int(ctx.setup["run"]["seed"]), **basins)
    write_dataset(rates, ctx.path("rates.nc"))
    plot_rates(rates, ctx.path("rates.png"))
    notes += sorted({str(w.message).splitlines()[0] for w in caught})
    return ["rates.nc", "rates.png"], notes, {}


def _loop_settings(ctx: PipelineContext) -> tuple[float, np.ndarray]:
    import xarray as xr

    settings = ctx.setup["pipeline"]
    amplitude = settings["loop_amplitude"] or float(np.max(np.abs(ctx.setup.voltages)))
    frequencies = np.array(settings["loop_frequencies"], dtype=float)
    if np.all(frequencies == 0):
        with xr.open_dataset(ctx.path("rates.nc"), engine="h5netcdf") as rates:
            near = rates.sel(voltage=amplitude, method="nearest")
            rest = rates.sel(voltage=0.0, method="nearest")
            scale = [float(near["k_wet"]), float(rest["k_dry"])]
        scale = [k for k in scale if np.isfinite(k) and k > 0] or [1.0e6]
        centre = np.exp(np.mean(np.log(scale)))
        frequencies = centre * np.logspace(-3, 3, 13)
    return amplitude, frequencies


def _conduction_radius(ctx: PipelineContext) -> tuple[float, str]:
    """Radius (nm) of the open-pore conductance: the water-accessible one when measured."""
    import json

    build = ctx.path("md") / "build" / "build.json"
    nominal = float(ctx.setup["pore"]["radius"])
    if build.exists():
        full_pore = json.loads(build.read_text()).get("full_pore") or {}
        radius = full_pore.get("accessible_radius_nm")
        if radius is not None and np.isfinite(radius) and radius > 0:
            return float(radius), (f"open-pore conductance from the water-accessible radius "
                                   f"{radius:.3f} nm measured in the wet build (lining radius "
                                   f"{nominal:g} nm)")
    return nominal, (f"open-pore conductance from the lining radius {nominal:g} nm (no measured "
                     "water-accessible radius in md/build/build.json)")


def stage_loops(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Memristor I-V loops over frequency."""
    import warnings

    from langevin.hysteresis import memristor_loops
    from langevin.plots import plot_loops
    from nanopore.pore_conductance import conductance_model
    from nanopore.profile import write_dataset

    _, model = _voltage_model(ctx)
    # the same states as the rates: P_wet counts the pore as wet beyond the barrier
    # between the dry minimum and the measured full pore
    basins, basin_notes = _rate_states(ctx, model, *model.fitted_range()) or _basins(ctx, model)
    amplitude, frequencies = _loop_settings(ctx)
    pore = ctx.setup["pore"]
    measured = ctx.path("md") / "conductance.nc"  # from `nanopore md conductance SETUP --out RUN/md`
    if measured.exists():
        from langevin.conductance import ConductanceModel
        from md_setups.current import read_conductance

        g_wet, g_dry = read_conductance(measured)
        conductance = ConductanceModel(g_dry * 1e-9, g_wet * 1e-9)
        basin_notes = basin_notes + [f"G_wet = {g_wet:.3g} nS and G_dry = {g_dry:.3g} nS measured "
                                     "in MD (md/conductance.nc)"]
    else:
        radius, radius_note = _conduction_radius(ctx)
        conductance = conductance_model(radius, pore["length"],
                                        ctx.setup["pipeline"]["conductivity"])
        basin_notes = basin_notes + [radius_note]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loops = memristor_loops(model, amplitude, frequencies,
                                method=ctx.setup["pipeline"]["loop_method"],
                                conductance=conductance, n_periods=4, progress=ctx.progress,
                                seed=ctx.setup["run"]["seed"], inputs=["profile.nc"], **basins)
    write_dataset(loops, ctx.path("loops.nc"))
    plot_loops(loops.isel(frequency=slice(None, None, 2)), ctx.path("loops.png"))
    best = int(np.argmax(loops["loop_area"].values))
    notes = basin_notes + sorted({str(w.message).splitlines()[0] for w in caught})
    extra = {"amplitude_V": amplitude, "largest_area": float(loops["loop_area"][best]),
             "largest_area_frequency_Hz": float(loops["frequency"][best])}
    return ["loops.nc", "loops.png"], notes, extra


def stage_cycles(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """Intrusion/extrusion cycles at 0 V, when pressures are set."""
    from langevin.intrusion import intrusion_cycles
    from langevin.plots import plot_cycles
    from nanopore.profile import (
        load_profile,
        profile_arrays,
        select_voltage,
        write_dataset,
    )

    settings = ctx.setup["pipeline"]
    pressures = settings["pressures"]
    if len(pressures) < 2 or pressures[0] == pressures[1]:
        return [], ["no [pipeline] pressures = [low, high] (MPa): cycles skipped"], {"skipped": True}
    profile = load_profile(ctx.path("profile.nc"))
    rest = select_voltage(profile, 0.0) if "voltage" in profile.dims else profile
    n, free_energy, diffusion = profile_arrays(rest)
    cycles = intrusion_cycles(n, free_energy, diffusion, float(profile.attrs["temperature"]),
                              float(pressures[0]), float(pressures[1]), settings["ramp_rates"],
                              progress=ctx.progress, inputs=["profile.nc"])
    write_dataset(cycles, ctx.path("cycles.nc"))
    plot_cycles(cycles, ctx.path("cycles.png"))
    return ["cycles.nc", "cycles.png"], [], {}


def stage_report(ctx: PipelineContext) -> tuple[list[str], list[str], dict[str, Any]]:
    """report.md and report.html."""
    from nanopore.report import write_report

    paths = write_report(ctx.out, ctx.setup, ctx.manifest)
    return [p.name for p in paths], [], {}


_STAGE_FUNCTIONS: dict[str, Callable[[PipelineContext], tuple[list[str], list[str], dict]]] = {
    "md": stage_md,
    "fes": stage_fes,
    "voltage_model": stage_voltage_model,
    "rates": stage_rates,
    "loops": stage_loops,
    "cycles": stage_cycles,
    "report": stage_report,
}


def _stage_inputs(ctx: PipelineContext, name: str) -> str:
    """Digest of what a stage depends on: its settings and its upstream files."""
    setup = ctx.setup
    if name == "md":
        return _digest(setup.digest(("pore", "wall", "solvent", "box", "simulation", "cv",
                                     "windows", "run")))
    if name == "fes":
        # the content of every window file, so a deleted, rerun or replaced window counts
        return _digest(_windows_digest(ctx.path("md")), setup["pipeline"]["fes_method"],
                       setup["pipeline"]["bootstrap"], setup["pipeline"]["detect_equilibration"])
    upstream = _file_digest(ctx.path("profile.nc"))
    if name == "report":
        return _digest({k: [v.get("inputs_digest"), v.get("output_digests")]
                        for k, v in ctx.manifest.data["stages"].items() if k != "report"})
    measured = ctx.path("md") / "conductance.nc"
    extra = [_file_digest(measured)] if name == "loops" and measured.exists() else []
    if name == "loops":  # the loop frequencies can come from the rates
        extra.append(_file_digest(ctx.path("rates.nc")))
    return _digest(upstream, setup["pipeline"], setup["pore"], *extra)


def run_pipeline(setup: Any, out: str | Path, *, stages: tuple[str, ...] = STAGES,
                 scheduler: str | None = None, workers: int | None = None, progress: bool = True,
                 echo: Callable[[str], None] = print, force: bool = False) -> Manifest:
    """Run (or resume) the pipeline of a setup.

    Parameters
    ----------
    setup : md_setups.setup.Setup
    out : path-like
        Run directory.
    stages : tuple of str
        Stages to run, in :data:`STAGES` order; the others are left as they are.
    scheduler : str, optional
        Overrides ``[pipeline] scheduler``.
    workers : int, optional
        Overrides ``[pipeline] workers``.
    progress : bool
        Progress bars.
    echo : callable
        Prints status lines.
    force : bool
        Rerun the chosen stages even where the manifest says they are done
        (finished windows of the same setup are still reused).

    Returns
    -------
    Manifest

    Notes
    -----
    The command line refuses an existing run directory unless ``--resume`` or
    ``--force`` is given (:func:`check_run_directory`); this function resumes.
    """
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; stages are {', '.join(STAGES)}")
    out = Path(out)
    probe_directory(out, "--out")
    for leftover in clean_stale_temp_files(out):
        echo(f"removed {leftover.relative_to(out)}, a temporary file left by a killed run")
    manifest = Manifest(out)
    manifest.set_inputs(setup={"source": setup.source, "digest": setup.digest(),
                               "values": setup.to_dict()},
                        seeds={"md": setup["run"]["seed"], "bootstrap": setup["run"]["seed"],
                               "loops": setup["run"]["seed"]})
    ctx = PipelineContext(setup, out, manifest, progress, echo,
                          scheduler or setup["pipeline"]["scheduler"],
                          workers or setup["pipeline"]["workers"])
    for name in STAGES:
        if name not in stages:
            continue
        digest = _stage_inputs(ctx, name)
        if not force and manifest.is_done(name, digest):
            echo(f"[{name}] up to date")
            continue
        echo(f"[{name}] running")
        started = time.perf_counter()
        outputs, notes, extra = _STAGE_FUNCTIONS[name](ctx)
        wall = time.perf_counter() - started
        manifest.record(name, digest, outputs, wall, notes, **extra)
        for note in notes[:5]:
            echo(f"  note: {note}")
        echo(f"[{name}] done in {wall:.1f} s")
    return manifest
