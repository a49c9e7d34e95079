"""The pipeline: SLURM scripts, Dask windows, resuming a killed run, the demos."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from md_setups.runner import WindowTask, run_windows, window_path
from md_setups.setup import load_setup, validate_setup
from md_setups.slurm import SlurmOptions, write_slurm_scripts
from nanopore.cli import main
from nanopore.windows import is_complete, read_window

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "pore": {"radius": 0.5, "length": 0.9},
    "wall": {"epsilon": 0.3},
    "solvent": {"full_pore_equilibration": 0.0},
    "box": {"lateral": 1.9, "reservoir": 0.8},
    "simulation": {"nonbonded": "pme", "cutoff": 0.8, "platform": "CPU", "threads": 1},
    "windows": {"targets": [1.0, 3.0, 5.0], "spring_constant": 4.0},
    "run": {"voltages": [0.0, 1.0], "equilibration": 0.02, "production": 0.1, "cv_stride": 5,
            "checkpoint_interval": 0.02, "seed": 5},
}


def tiny_setup(tmp_path: Path, **changes: dict):
    raw = copy.deepcopy(TINY)
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    path = tmp_path / "tiny.toml"
    path.write_text(_toml(raw))
    return validate_setup(raw, source=str(path))


def _toml(raw: dict) -> str:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ SLURM
def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_slurm_array_covers_every_window_once_with_valid_commands(tmp_path):
    setup = tiny_setup(tmp_path, run={"voltages": [-0.5, 0.0, 1.0]})
    paths = write_slurm_scripts(setup, tmp_path / "run",
                                SlurmOptions(partition="gpu", gpus=1, time="2-00:00:00"))
    script = paths["windows"].read_text()
    n_tasks = 3 * 3
    assert f"#SBATCH --array=0-{n_tasks - 1}\n" in script
    assert "#SBATCH --gpus-per-task=1" in script and "#SBATCH --partition=gpu" in script
    for path in paths.values():
        assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "nanopore", 'printf "%s\\n" "$@" > "$RECORD"')
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    seen = []
    md_group = main.get_command(None, "md")
    for task in range(n_tasks):
        record = tmp_path / f"task{task}.txt"
        result = subprocess.run(["bash", str(paths["windows"])], capture_output=True, text=True, check=False,
                                env=dict(env, SLURM_ARRAY_TASK_ID=str(task), RECORD=str(record)))
        assert result.returncode == 0, result.stderr
        args = record.read_text().splitlines()
        assert args[:2] == ["md", "run"]
        # the arguments parse as the real command's options
        context = md_group.get_command(None, "run").make_context("run", args[2:])
        seen.append((context.params["voltage"][0], context.params["window"][0]))
        assert context.params["out"] == (tmp_path / "run" / "md").resolve()
    assert sorted(seen) == sorted((v, k) for v in (-0.5, 0.0, 1.0) for k in range(3))

    _stub(bin_dir, "sbatch", 'echo "$@" >> "$RECORD"; echo 4242')
    record = tmp_path / "sbatch.txt"
    result = subprocess.run(["bash", str(paths["submit"])], capture_output=True, text=True, check=False,
                            env=dict(env, RECORD=str(record)))
    assert result.returncode == 0, result.stderr
    calls = record.read_text().splitlines()
    assert calls[0] == "--parsable windows.sbatch"
    assert calls[1] == "--parsable --dependency=afterok:4242 gather.sbatch"
    gather = paths["gather"].read_text().splitlines()[-1].split()
    assert gather[:2] == ["nanopore", "pipeline"]
    main.get_command(None, "pipeline").make_context("pipeline", [a.strip("'") for a in gather[2:]])


def test_slurm_cli_and_bad_time(tmp_path):
    setup = tiny_setup(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["md", "slurm", setup.source, "--out", str(tmp_path / "r"),
                                  "--per-voltage", "--gpus", "0", "--max-parallel", "4"])
    assert result.exit_code == 0, result.output
    script = (tmp_path / "r" / "slurm" / "windows.sbatch").read_text()
    assert "#SBATCH --array=0-1%4" in script and "--all" in script and "gpus" not in script
    result = runner.invoke(main, ["md", "slurm", setup.source, "--time", "tomorrow"])
    assert result.exit_code == 1 and "not a SLURM time" in result.output


# ------------------------------------------------------------------------- Dask
def test_dask_local_cluster_gives_the_sequential_windows(tmp_path):
    pytest.importorskip("dask.distributed")
    from md_setups.distributed import make_client, run_windows_dask

    # the Reference platform: the CPU platform's runs of this system (field expression with
    # periodicdistance, barostat) were not bitwise equal across processes here, and the
    # scheduling is what this test is about
    # (windows of 20 steps: the order of the chains is tested, not the sampling)
    setup = tiny_setup(tmp_path, simulation={"platform": "Reference"},
                       run={"equilibration": 0.01, "production": 0.04})
    sequential = run_windows(setup, tmp_path / "sequential", progress=False)
    # the Dask run starts from the sequential run's build instead of building it again
    import shutil

    shutil.copytree(tmp_path / "sequential" / "build", tmp_path / "dask" / "build")
    client = make_client("local", workers=2)
    try:
        distributed = run_windows_dask(setup, tmp_path / "dask", client)
    finally:
        client.close()
    assert len(distributed) == len(sequential) == 6
    for voltage in (0.0, 1.0):
        for index in range(3):
            task = WindowTask(voltage, index)
            a = read_window(window_path(tmp_path / "sequential", task))
            b = read_window(window_path(tmp_path / "dask", task))
            assert a.complete and b.complete
            np.testing.assert_array_equal(a.time, b.time)
            np.testing.assert_array_equal(a.n, b.n)


# ------------------------------------------------------------- kill and resume
def test_pipeline_killed_mid_stage_resumes_without_redoing_windows(tmp_path):
    setup = tiny_setup(tmp_path, run={"production": 0.4})
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "nanopore", "pipeline", setup.source, "--out", str(out),
               "--stage", "md", "--no-progress"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    first = window_path(out / "md", WindowTask(0.0, 2))   # the chain starts at the top window
    second = window_path(out / "md", WindowTask(0.0, 1))
    deadline = time.time() + 180
    while time.time() < deadline and process.poll() is None:
        if is_complete(first) and window_path(out / "md", WindowTask(0.0, 1), ".chk").exists():
            process.kill()
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode != 0, "the pipeline finished before it could be killed"
    stamp = first.stat().st_mtime_ns
    assert not is_complete(second)
    manifest = json.loads((out / "manifest.json").read_text())
    assert "md" not in manifest["stages"]

    refused = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "--resume" in refused.stderr  # an existing run
    command.append("--resume")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert first.stat().st_mtime_ns == stamp  # the finished window was not redone
    log = (out / "md" / "run.log").read_text().splitlines()
    labels = [line.split("  ")[1] for line in log]
    assert len(labels) == len(set(labels)) == 6  # every window ran exactly once
    for voltage in (0.0, 1.0):
        for index in range(3):
            window = read_window(window_path(out / "md", WindowTask(voltage, index)))
            assert window.complete and window.n.size == 40  # 0.4 ps every 5 steps of 2 fs
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["md"]["status"] == "done"
    assert manifest["software"]["openmm"] and manifest["seeds"]["md"] == 5
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert "[md] up to date" in rerun.stdout


# ------------------------------------------------------------------------ demos
def test_reference_demo_runs_the_downstream_stages(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--reference", "--out", str(tmp_path / "demo"),
                                  "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "demo"
    for name in ("voltage_model.nc", "rates.nc", "rates.png", "loops.nc", "loops.png",
                 "cycles.nc", "cycles.png", "report.md", "report.html", "manifest.json"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert "k_wet = k_dry at" in report and "held-out 1 V" in report
    # rerunning over it is refused, and changes nothing
    profile = (out / "profile.nc").read_bytes()
    result = runner.invoke(main, ["demo", "--reference", "--out", str(out), "--no-progress"])
    assert result.exit_code == 1 and "--resume" in result.output and "--force" in result.output
    assert (out / "profile.nc").read_bytes() == profile
    # resuming redoes nothing
    result = runner.invoke(main, ["demo", "--reference", "--out", str(out), "--resume",
                                  "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.output.count("up to date") == 5


@pytest.mark.parametrize("options, dask_installed, cores, scheduler, note", [
    ([], True, 2, "local", False),        # the two voltages' chains side by side
    ([], True, 1, "sequential", False),   # one core: no cluster
    (["--workers", "1"], True, 4, "sequential", False),
    ([], False, 2, "sequential", True),   # without the cluster extra: in process, with a note
])
def test_demo_chooses_where_its_windows_run(tmp_path, monkeypatch, options, dask_installed,
                                            cores, scheduler, note):
    import importlib.util

    import nanopore.demo
    import nanopore.pipeline

    calls = []
    monkeypatch.setattr(nanopore.pipeline, "run_pipeline",
                        lambda setup, out, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(nanopore.demo.os, "cpu_count", lambda: cores)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(nanopore.demo.importlib.util, "find_spec",
                        lambda name, *args: None if name == "distributed" and not dask_installed
                        else real_find_spec(name, *args))
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo"), "--no-progress",
                                       *options])
    assert result.exit_code == 0, result.output
    assert calls[0]["scheduler"] == scheduler
    assert ("Dask is not installed" in result.output) == note
    if scheduler == "local":
        assert calls[0]["workers"] == 2


def _demo_run(tmp_path: Path) -> Path:
    """A finished quick demo: the README set-up line's own run, resumed, or a fresh one.

    The README's set-up line runs ``nanopore demo`` in the repository root; its run
    folder is copied and resumed here (every stage is then up to date unless the
    code or the inputs changed, in which case the stale stages run again).
    Without it the demo runs from scratch (about 5 minutes on 2 CPU cores).
    """
    import shutil

    runner = CliRunner()
    out = tmp_path / "demo"
    readme_run = Path(__file__).resolve().parents[1] / "nanopore_demo"
    if (readme_run / "manifest.json").exists() and (readme_run / "report.md").exists():
        shutil.copytree(readme_run, out)
        result = runner.invoke(main, ["demo", "--out", str(out), "--resume", "--no-progress"])
    else:
        result = runner.invoke(main, ["demo", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_quick_demo_shows_electrowetting_beyond_its_errors(tmp_path):
    """The demo's physics, read from its outputs: dry at 0 V, wet favoured at 2 V, k_wet rising."""
    import xarray as xr

    out = _demo_run(tmp_path)
    for name in ("profile.nc", "fes.png", "rates.nc", "loops.nc", "loops.png", "report.html"):
        assert (out / name).stat().st_size > 0, name
    setup = load_setup("quick")
    assert len(list((out / "md").rglob("window_*.h5"))) == len(setup.targets) * len(setup.voltages)
    build = json.loads((out / "md" / "build" / "build.json").read_text())
    n_full = build["full_pore"]["n_full"]
    assert setup.targets.max() > n_full  # the windows cover the full pore
    with xr.open_dataset(out / "profile.nc", engine="h5netcdf") as profile:
        profile = profile.load()
    n = profile["n"].values
    volts = profile["voltage"].values
    low, high = float(volts.min()), float(volts.max())
    assert low == 0.0 and high >= 2.0

    def state(voltage: float) -> tuple[float, float, float, float]:
        """Dry state: the lowest Omega of the emptier half; wet state: Omega of the full pore.

        (At 0 V the filled pore is no minimum at all, so "the wet state" is the pore
        holding the full-pore count measured in the wet build.)
        """
        row = profile.sel(voltage=voltage)
        omega, error = row["free_energy"].values, row["free_energy_error"].values
        dry_region = n < 0.5 * n_full
        dry = int(np.flatnonzero(dry_region)[np.argmin(omega[dry_region])])
        wet = int(np.argmin(np.abs(n - n_full)))
        return omega[dry], error[dry], omega[wet], error[wet]

    dry0, dry0_err, wet0, wet0_err = state(low)
    dry2, dry2_err, wet2, wet2_err = state(high)
    # dry at 0 V: the full pore lies above the dry state by more than twice the errors
    assert wet0 - dry0 > 2.0 * np.hypot(wet0_err, dry0_err), (wet0, dry0, wet0_err, dry0_err)
    # the voltage lowers the wet state (relative to the dry one) by more than the errors
    shift = (wet2 - dry2) - (wet0 - dry0)
    shift_error = np.sqrt(wet0_err ** 2 + dry0_err ** 2 + wet2_err ** 2 + dry2_err ** 2)
    assert shift < -2.0 * shift_error, (shift, shift_error)
    # k_wet rises with voltage: the pipeline's rates are the rates of filling the pore,
    # from the dry minimum at 0 V to the full pore measured in the wet build (basins of
    # the profiles of 15 ps windows can be noise dips that make k_wet jump).
    with xr.open_dataset(out / "rates.nc", engine="h5netcdf") as rates:
        k_wet = rates["k_wet"].values
        scan = rates["voltage"].values
        n_wet = rates["n_wet"].values
        lower, upper = rates["k_wet_lower"].values, rates["k_wet_upper"].values
    assert np.all(np.isfinite(k_wet)) and np.all(k_wet > 0)
    # with 95 % intervals (the voltage model refitted to resampled profiles) that
    # separate the ends of the scan: the rise is beyond the profiles' errors
    assert np.all((lower > 0) & (lower < upper)), (lower, upper)
    ends = np.argsort(scan)[[0, -1]]
    assert lower[ends[1]] > upper[ends[0]], (lower[ends], upper[ends])
    assert np.all(np.abs(n_wet - n_full) <= 0.5 * (n[1] - n[0]) + 1e-9), (n_wet, n_full)
    order = np.argsort(scan)
    # the rise holds as far as the errors can tell: near the top of the scan the barrier
    # is gone and k_wet flattens; noise in the profiles there can make an estimate dip a
    # little (a CI demo: 9.1e9 at 1.8 V, 8.1e9 at 2 V) or put it below its own basic
    # interval (roughness slows every resampled profile; the interval corrects for it).
    # A significant fall, an interval lying wholly below that of a lower voltage, is not
    # allowed, and the estimates rank with the voltage.
    assert np.all(upper[order] >= np.maximum.accumulate(lower[order])), (lower[order],
                                                                         upper[order])
    assert stats.spearmanr(scan, k_wet).statistic > 0.9, k_wet[order]
    assert k_wet[order][-1] > 100.0 * k_wet[order][0], k_wet[order]


def test_dask_langevin_rates_equal_the_sequential_ensemble():
    pytest.importorskip("dask.distributed")
    from langevin.distributed import rate_arrays_dask
    from langevin.rates import basins_for_rows, rate_arrays
    from md_setups.distributed import make_client
    from nanopore.synthetic import quartic_double_well

    n = np.linspace(0.0, 10.0, 201)
    free_energy = np.array([quartic_double_well(n, 2.0, 8.0, 4.0, tilt) for tilt in (-1.0, 0.0, 1.0)])
    diffusion = np.full_like(n, 2.0)
    basins = basins_for_rows(n, free_energy)
    sequential = rate_arrays(n, free_energy, diffusion, basins, method="langevin",
                             n_trajectories=40, seed=3)
    client = make_client("local", workers=2)
    try:
        distributed = rate_arrays_dask(client, n, free_energy, diffusion, basins,
                                       n_trajectories=40, seed=3)
    finally:
        client.close()
    for key in ("k_wet", "k_dry", "k_wet_error", "k_dry_error"):
        np.testing.assert_array_equal(distributed[key], sequential[key])
    assert np.all(np.isfinite(sequential["k_wet"]))


def test_downstream_stages_choose_basins_when_profiles_show_one_state(tmp_path):
    """Short windows can give profiles with one basin per voltage: the kinetics still run."""
    from md_setups.setup import load_setup
    from nanopore.pipeline import run_pipeline
    from nanopore.profile import make_profile, save_profile

    n = np.linspace(0.0, 9.0, 46)
    slope = 2.0 * n  # dry favoured at 0 V, a straight rise with no second basin
    free_energy = np.array([slope, slope - 3.0 * n])  # at 2 V the wet end is lowest
    # the quick setup's voltages (0 and 2 V), so that its loops stay in the fitted range
    save_profile(make_profile(n, free_energy, 1.0, 300.0, voltage=np.array([0.0, 2.0])),
                 tmp_path / "profile.nc")
    lines: list[str] = []
    manifest = run_pipeline(load_setup("quick"), tmp_path,
                            stages=("voltage_model", "rates", "loops", "report"),
                            progress=False, echo=lines.append)
    notes = manifest.stage("rates")["notes"]
    assert any("using the dry state at N = 0.00" in note and "wet state at N = 9.00" in note
               for note in notes)
    for name in ("rates.nc", "loops.nc", "report.html"):
        assert (tmp_path / name).stat().st_size > 0


def test_pipeline_rates_fill_the_measured_full_pore_past_a_noise_dip(tmp_path):
    """With a measured full pore, k_wet is the rate of filling it, not of reaching a dip.

    The 0 V profile rises to the full pore (N = 8) with a shallow dip at N = 3 (the kind
    of noise that 15 ps windows leave); the 2 V one tilts towards the full pore. The
    profiles' own basins would put "the wet state" at the dip at low voltage and make
    k_wet jump; the filling rate must rise at every voltage of the scan and equal the
    first-passage rate from the dry minimum to N = 8 computed directly.
    """
    import xarray as xr

    from langevin.rates import rates_dataset
    from md_setups.setup import load_setup, validate_setup
    from nanopore.pipeline import run_pipeline
    from nanopore.profile import load_profile, make_profile, save_profile
    from nanopore.voltage_model import VoltageModel

    n = np.linspace(0.0, 10.0, 51)
    rest = 2.5 * n - 2.0 * np.exp(-((n - 3.0) / 0.3) ** 2) + 0.3 * (n - 1.0) ** 2
    free_energy = np.array([rest, rest - 4.0 * n])
    save_profile(make_profile(n, free_energy, 1.0, 300.0, voltage=np.array([0.0, 2.0])),
                 tmp_path / "profile.nc")
    build = tmp_path / "md" / "build"
    build.mkdir(parents=True)
    build.joinpath("build.json").write_text(json.dumps({
        "n_atoms": 783, "n_water": 194, "n_potassium": 3, "n_wall": 195,
        "full_pore": {"n_full": 8.0, "n_full_error": 0.2, "wet_plateau_ps": 9.0, "voltage": 2.0}}))
    setup = load_setup("quick")
    manifest = run_pipeline(setup, tmp_path, stages=("voltage_model", "rates", "loops", "report"),
                            progress=False, echo=lambda line: None)
    # the loops' wet/dry threshold comes from the same states
    assert any("wet N = 8" in note for note in manifest.stage("loops")["notes"])
    report = (tmp_path / "report.md").read_text()
    # the report's free energies and rates say at which N they are taken
    assert "kT at N = 8.00 (full pore)" in report
    assert "(between N = 0.00 and 8.00)" in report
    with xr.open_dataset(tmp_path / "rates.nc", engine="h5netcdf") as rates:
        k_wet, scan = rates["k_wet"].values, rates["voltage"].values
    assert np.all(np.diff(np.log(k_wet)) > 0), k_wet
    model = VoltageModel.fit(load_profile(tmp_path / "profile.nc"), symmetric=True)
    dry = float(n[np.argmin(np.where(n < 4.0, model.free_energy(0.0, warn=False), np.inf))])
    direct = rates_dataset(model.n, model.free_energy(scan), model.diffusion_at(scan), scan,
                           dry=dry, wet=8.0)["k_wet"].values
    np.testing.assert_allclose(k_wet, direct, rtol=1e-9)
    # the profiles' basins instead: the dip at N = 3 is "the wet state" somewhere in the scan
    raw = validate_setup({**{k: dict(v) for k, v in setup.values.items()},
                          "pipeline": {**setup["pipeline"], "rate_states": "basins"}},
                         source=setup.source)
    other = tmp_path / "basins"
    (other / "md" / "build").mkdir(parents=True)
    for name in ("profile.nc", "md/build/build.json"):
        (other / name).write_bytes((tmp_path / name).read_bytes())
    run_pipeline(raw, other, stages=("voltage_model", "rates"), progress=False,
                 echo=lambda line: None)
    with xr.open_dataset(other / "rates.nc", engine="h5netcdf") as rates:
        np.testing.assert_allclose(rates["n_wet"].values[0], 3.0)  # the dip
        assert rates["k_wet"].values[0] > 1.0e6 * k_wet[0]
