"""Nothing runs code, nothing is overwritten or lost by surprise, no silent wrong answer.

Checkpoints that cannot run code; the per-window lock; atomic writes and write
failures in one line; outputs that are inputs; existing runs; stage digests;
refused silent no-ops; SLURM values; MBAR's analytic errors and the fast
bootstraps; a command line that starts without importing the stages.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analysis.cli import write_window
from analysis.data import UmbrellaData
from analysis.synthetic import synthetic_windows
from md_setups.checkpoint import (
    CheckpointError,
    load_checkpoint,
    record_path,
    save_checkpoint,
)
from md_setups.setup import load_setup, validate_setup
from md_setups.slurm import SlurmOptions, write_slurm_scripts
from nanopore.cli import SHORT_HELP, SUBCOMMANDS, main
from nanopore.cli_types import parse_voltage
from nanopore.manifest import Manifest
from nanopore.pipeline import (
    PipelineContext,
    RunExistsError,
    _stage_inputs,
    check_run_directory,
)
from nanopore.safe_io import (
    FileLock,
    LockError,
    OutputError,
    atomic_path,
    clean_stale_temp_files,
    temp_path,
)
from nanopore.synthetic import quartic_double_well

ROOT = Path(__file__).resolve().parents[1]
PROFILE = partial(quartic_double_well, dry=2.0, wet=8.0, barrier_height=4.0, tilt=1.0)
CENTERS = np.arange(0.0, 10.01, 0.5)
TINY = {
    "pore": {"radius": 0.5, "length": 0.9},
    "wall": {"epsilon": 0.3},
    "solvent": {"salt_concentration": 1.0, "full_pore_equilibration": 0.0},
    "box": {"lateral": 1.9, "reservoir": 0.8},
    "simulation": {"nonbonded": "pme", "cutoff": 0.8, "platform": "Reference"},
    "windows": {"targets": [2.0, 4.0], "spring_constant": 4.0},
    "run": {"voltages": [0.0], "equilibration": 0.01, "production": 0.1, "cv_stride": 5,
            "checkpoint_interval": 0.01, "seed": 11},
}


def tiny_toml(tmp_path: Path, **changes: dict) -> Path:
    raw = json.loads(json.dumps(TINY))
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    path = tmp_path / "tiny.toml"
    path.write_text("".join(f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in
                                                      values.items()) for section, values in raw.items()))
    return path


def one_line_error(result) -> str:
    """The message of a refused command: exit 1, one 'Error:' line, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def window_directory(tmp_path: Path, samples: int = 300, complete: bool = True) -> Path:
    folder = tmp_path / "windows"
    for j, window in enumerate(synthetic_windows(PROFILE, CENTERS, 5.0, samples, seed=3)):
        metadata = {"center": window.center, "spring_constant": window.spring_constant,
                    "temperature": 300.0, "voltage": 0.0}
        write_window(folder / f"window_{j:02d}.h5", window.time, window.n, metadata)
    return folder


# ----------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_and_a_changed_binary_is_refused(tmp_path):
    path = tmp_path / "window_00.chk"
    save_checkpoint(path, b"openmm checkpoint bytes", "production", 40, 8, 3.5, "CPU")
    record, data = load_checkpoint(path)
    assert data == b"openmm checkpoint bytes"
    assert (record.phase, record.step, record.n_samples, record.n_start) == ("production", 40, 8, 3.5)
    path.write_bytes(b"openmm checkpoint bytez")
    with pytest.raises(CheckpointError, match="does not match its record") as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value) and "delete window_00.chk" in str(caught.value)


def test_pickle_checkpoint_of_an_older_version_is_refused_unread(tmp_path):
    path = tmp_path / "window_00.chk"
    path.write_bytes(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.")  # a pickle stream
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)


@pytest.mark.parametrize("record", ["{not json", json.dumps({"format": "other/1"}),
                                    json.dumps({"format": "nanopore-checkpoint/2", "phase": "x"})])
def test_unknown_or_corrupt_checkpoint_record_is_refused(tmp_path, record):
    path = tmp_path / "window_00.chk"
    path.write_bytes(b"bytes")
    record_path(path).write_text(record)
    with pytest.raises(CheckpointError, match="delete window_00.chk and window_00.chk.json"):
        load_checkpoint(path)


def test_md_run_with_a_corrupt_checkpoint_stops_in_one_line(tmp_path):
    setup = tiny_toml(tmp_path)
    folder = tmp_path / "run" / "voltage_+0.000V"
    folder.mkdir(parents=True)
    (folder / "window_00.chk").write_bytes(b"\x80\x04junk")
    result = CliRunner().invoke(main, ["md", "run", str(setup), "--window", "0", "--out",
                                       str(tmp_path / "run"), "--no-progress"])
    assert "pickle" in one_line_error(result)


def test_no_pickle_or_unsafe_loader_in_the_sources():
    unsafe = re.compile(r"import pickle|pickle\.load|allow_pickle\s*=\s*True|dill|joblib\.load")
    found = []
    for folder in ("nanopore", "md_setups", "analysis", "langevin", "interp", "benchmarks",
                   "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if unsafe.search(text):
                found.append(str(path))
            for call in re.findall(r"torch\.load\([^)]*\)", text):
                if "weights_only=True" not in call:
                    found.append(f"{path}: {call}")
    assert not found


# ------------------------------------------------------------------------ lock
def test_second_runner_of_a_window_is_refused_with_hdf5_locking_off(tmp_path, monkeypatch):
    from md_setups.runner import WindowTask, run_windows, window_path

    monkeypatch.setenv("HDF5_USE_FILE_LOCKING", "FALSE")
    setup = validate_setup(TINY, source="tiny")
    lock = window_path(tmp_path, WindowTask(0.0, 0), ".lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from nanopore.safe_io import FileLock
            FileLock({str(lock)!r}).acquire()
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockError, match=f"process {holder.pid} on") as caught:
            run_windows(setup, tmp_path, windows=[0], progress=False)
        assert "delete the lock file" in str(caught.value)
        assert not window_path(tmp_path, WindowTask(0.0, 0)).exists()  # nothing was written
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    path = tmp_path / "window_00.lock"
    host = FileLock(path)._record()["host"]
    path.write_text(json.dumps({"pid": int(finished.stdout), "host": host, "time": "earlier"}))
    said = []
    with FileLock(path, what="window 0", echo=said.append) as lock:
        assert json.loads(path.read_text())["pid"] == os.getpid() and lock.held
    assert not path.exists()
    assert len(said) == 1 and "took over the lock of window 0" in said[0]


def test_lock_held_here_or_on_another_host_is_refused(tmp_path):
    path = tmp_path / "window_00.lock"
    with FileLock(path), pytest.raises(LockError, match=f"process {os.getpid()}"):
        FileLock(path).acquire()
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "time": "now"}))
    with pytest.raises(LockError, match="on elsewhere"):
        FileLock(path).acquire()
    assert json.loads(path.read_text())["host"] == "elsewhere"  # left alone


# ---------------------------------------------------------------------- writes
def test_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "profile.nc"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_disk_full_during_a_netcdf_write_is_one_line_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.nc"
    target.write_text("the old profile")
    script = textwrap.dedent("""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        from nanopore.cli import main
        main(["profile", "example", "-o", sys.argv[1]])
    """)
    result = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "File too large" in result.stderr and str(target) in result.stderr
    assert target.read_text() == "the old profile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nc"]


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    folder = window_directory(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["fes", str(folder), "-o", str(blocker / "p.nc")])
    message = one_line_error(result)
    assert message.startswith("Error: -o: cannot write") and "is a file, not a folder" in message
    assert "V (V)" not in result.output  # no table: nothing was computed


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    live = temp_path(tmp_path / "profile.nc")
    dead = tmp_path / live.name.replace(f".{os.getpid()}.", f".{int(finished.stdout)}.")
    dead.write_text("left by a killed process")
    assert clean_stale_temp_files(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


# ---------------------------------------------------- outputs that are inputs
@pytest.mark.parametrize("command", [
    ["rates", "{p}", "-o", "{p}"],
    ["hysteresis", "{p}", "-a", "0.5", "-f", "1e6", "--plot", "{p}"],
    ["cycle", "{p}", "--pressure-high", "10", "--pressure-rate", "1", "-o", "{p}"],
    ["fes", "{p}", "-o", "{p}"],
    ["cv", "{p}", "{p}", "--pore", "0.5,0,1", "-o", "{p}"],
])
def test_output_equal_to_an_input_is_refused_and_the_input_kept(tmp_path, command):
    from nanopore.profile import save_profile
    from nanopore.synthetic import model_pore_profile

    path = tmp_path / "p.nc"
    save_profile(model_pore_profile(), path)
    before = path.read_bytes()
    result = CliRunner().invoke(main, [arg.format(p=path) for arg in command])
    assert "is also an input" in one_line_error(result)
    assert path.read_bytes() == before


# ------------------------------------------------------ existing runs, digests
def test_existing_run_is_refused_unless_resumed_or_forced(tmp_path):
    check_run_directory(tmp_path / "new")  # a new folder is fine (and created)
    (tmp_path / "new" / "manifest.json").write_text(json.dumps(
        {"stages": {"md": {"status": "done"}}}))
    with pytest.raises(RunExistsError, match=r"stages done: md\); add --resume"):
        check_run_directory(tmp_path / "new")
    check_run_directory(tmp_path / "new", resume=True)
    check_run_directory(tmp_path / "new", force=True)
    with pytest.raises(RunExistsError, match="not both"):
        check_run_directory(tmp_path / "new", resume=True, force=True)
    with pytest.raises(OutputError, match="is a file"):
        check_run_directory(tmp_path / "new" / "manifest.json", force=True)


def test_fes_stage_digest_follows_the_content_of_every_window(tmp_path):
    ctx = PipelineContext(load_setup("quick"), tmp_path, Manifest(tmp_path))
    folder = window_directory(tmp_path)
    (tmp_path / "md").mkdir()
    folder.rename(tmp_path / "md" / "voltage_+0.000V")
    first = _stage_inputs(ctx, "fes")
    window = tmp_path / "md" / "voltage_+0.000V" / "window_03.h5"
    content = window.read_bytes()
    window.unlink()
    assert _stage_inputs(ctx, "fes") != first  # a deleted window
    window.write_bytes(content)
    assert _stage_inputs(ctx, "fes") == first
    window.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    assert _stage_inputs(ctx, "fes") != first  # a changed window


def test_a_stage_whose_output_was_replaced_is_not_up_to_date(tmp_path):
    manifest = Manifest(tmp_path)
    (tmp_path / "profile.nc").write_text("from the windows")
    manifest.record("fes", "abc", ["profile.nc"], 1.0)
    assert Manifest(tmp_path).is_done("fes", "abc")
    (tmp_path / "profile.nc").write_text("copied over by another command")
    assert not Manifest(tmp_path).is_done("fes", "abc")


# ------------------------------------------------------ silent no-ops refused
def test_md_run_of_a_window_that_does_not_exist_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["md", "run", "quick", "--window", "99", "--out",
                                       str(tmp_path / "run")])
    assert "window 99 does not exist" in one_line_error(result)
    assert not (tmp_path / "run").exists()  # refused before building anything


def test_target_beyond_what_the_pore_holds_is_refused(tmp_path):
    setup = tiny_toml(tmp_path, windows={"targets": [2.0, 900.0]})
    for command in (["md", "check", str(setup)],
                    ["md", "run", str(setup), "--all", "--out", str(tmp_path / "run")]):
        message = one_line_error(CliRunner().invoke(main, command))
        assert "[900.0] exceed what the counting region can hold" in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command, option", [
    (["hysteresis", "{p}", "-a", "0.5", "-f", "1e6", "--steps", "0"], "--steps"),
    (["hysteresis", "{p}", "-a", "0.5", "-f", "1e6", "--periods", "0"], "--periods"),
    (["cycle", "{p}", "--pressure-high", "10", "--pressure-rate", "1", "--temperature", "-10"],
     "--temperature"),
    (["cycle", "{p}", "--pressure-high", "10", "--pressure-rate", "1", "--steps", "0"], "--steps"),
    (["rates", "{p}", "--voltages", "0.1,200mA"], "--voltages"),
])
def test_kinetics_values_that_give_nan_or_nothing_are_refused(tmp_path, model_profile, command,
                                                              option):
    from nanopore.profile import save_profile

    path = save_profile(model_profile, tmp_path / "p.nc")
    result = CliRunner().invoke(main, [arg.format(p=path) for arg in command])
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output


def test_voltage_units_are_read_or_refused():
    assert parse_voltage("0.5") == parse_voltage("0.5 V") == parse_voltage("500mV") == 0.5
    assert parse_voltage("-250 mV") == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="did you mean mV"):
        parse_voltage("500 mv")
    with pytest.raises(ValueError, match="unknown voltage unit 'A'"):
        parse_voltage("3 A")


def test_fes_voltage_in_millivolts_labels_the_profile_in_volts(tmp_path):
    lines = []
    for j, window in enumerate(synthetic_windows(PROFILE, CENTERS, 5.0, 200, seed=1)):
        np.savetxt(tmp_path / f"w{j}.dat", np.column_stack([window.time, window.n]))
        lines.append(f"w{j}.dat {window.center} {window.spring_constant} 300")
    (tmp_path / "meta.txt").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["fes", str(tmp_path / "meta.txt"), "-o",
                                       str(tmp_path / "p.nc"), "--voltage", "300mV",
                                       "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    from nanopore.profile import load_profile

    assert load_profile(tmp_path / "p.nc").attrs["voltage"] == pytest.approx(0.3)


def test_cv_takes_the_pore_axis_from_build_json(tmp_path):
    mda = pytest.importorskip("MDAnalysis")
    inside = np.array([[1.2, 1.3, 1.0], [1.3, 1.2, 1.5], [1.25, 1.25, 2.0]])
    outside = np.array([[0.8, 0.8, 1.5], [1.25, 0.6, 1.5]])
    universe = mda.Universe.empty(5, trajectory=True, atom_resindex=np.arange(5), n_residues=5)
    universe.add_TopologyAttr("name", ["OW"] * 5)
    universe.add_TopologyAttr("resname", ["SOL"] * 5)
    universe.atoms.positions = np.vstack([inside, outside]) * 10.0  # Angstrom
    universe.dimensions = [25.0, 25.0, 30.0, 90, 90, 90]
    folder = tmp_path / "build"
    folder.mkdir()
    universe.atoms.write(folder / "system.pdb")
    command = ["cv", str(folder / "system.pdb"), str(folder / "system.pdb"), "--pore", "0.3,0.5,2.5",
               "-o", str(tmp_path / "n.dat")]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0 and "x = y = 0" in result.output
    assert np.loadtxt(tmp_path / "n.dat", ndmin=2)[0, 1] < 0.01
    (folder / "build.json").write_text(json.dumps({"cv": {"center_x": 1.25, "center_y": 1.25}}))
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0 and "from " + str(folder / "build.json") in result.output
    assert np.loadtxt(tmp_path / "n.dat", ndmin=2)[0, 1] == pytest.approx(3.0, abs=0.05)


def test_fes_refuses_windows_far_from_their_restraint_centres(tmp_path):
    folder = window_directory(tmp_path)
    window = synthetic_windows(PROFILE, [5.0], 5.0, 300, seed=9)[0]
    # samples near N = 5 filed under a centre of 40: wrong units, an unreachable target
    write_window(folder / "window_99.h5", window.time, window.n,
                 {"center": 40.0, "spring_constant": window.spring_constant, "temperature": 300.0,
                  "voltage": 0.0})
    result = CliRunner().invoke(main, ["fes", str(folder), "-o", str(tmp_path / "p.nc")])
    message = one_line_error(result)
    assert "window_99.h5 (N_k = 40" in message and "--max-offset" in message
    assert not (tmp_path / "p.nc").exists()


def test_fes_accepts_a_window_held_in_the_empty_pore_by_a_steep_flank():
    """A window on the dry flank of a hydrophobic pore sits at N = 0 with almost no spread.

    Its offset is a physical mean force (kappa times 2.5 molecules), not a unit error;
    measured against the samples' own spread it would look thousands of deviations off.
    """
    from analysis.decorrelation import decorrelate_all
    from analysis.fes import check_offsets
    from nanopore.windows import Window

    rng = np.random.default_rng(3)
    n = np.abs(rng.normal(0.0, 1e-3, 2000))
    dry_flank = Window(np.arange(n.size) * 0.02, n, center=2.5, spring_constant=2.5,
                       temperature=300.0)
    check_offsets(decorrelate_all([dry_flank], detect=False))
    wrong_units = Window(np.arange(n.size) * 0.02, n + 5.0, center=40.0, spring_constant=2.5,
                         temperature=300.0)
    with pytest.raises(Exception, match="far from their restraint centre"):
        check_offsets(decorrelate_all([wrong_units], detect=False))


def test_fes_names_unfinished_windows(tmp_path):
    from nanopore.profile import load_profile
    from nanopore.windows import WindowFile

    folder = window_directory(tmp_path)
    window = synthetic_windows(PROFILE, [5.25], 5.0, 300, seed=4)[0]
    with WindowFile(folder / "window_50.h5", {"center": 5.25, "voltage": 0.0, "temperature": 300.0,
                                              "spring_constant": window.spring_constant}) as out:
        out.append(window.time, window.n)  # never marked complete
    result = CliRunner().invoke(main, ["fes", str(folder), "-o", str(tmp_path / "p.nc"),
                                       "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "1 unfinished window(s)" in result.output and "window_50.h5" in result.output
    assert load_profile(tmp_path / "p.nc").attrs["unfinished_windows"].endswith("window_50.h5")


def test_fes_range_sets_the_grid_and_a_range_beyond_the_data_is_refused(tmp_path):
    from nanopore.profile import load_profile

    folder = window_directory(tmp_path)
    result = CliRunner().invoke(main, ["fes", str(folder), "-o", str(tmp_path / "p.nc"),
                                       "--range", "2,8", "--bins", "24", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    n = load_profile(tmp_path / "p.nc")["n"].values
    np.testing.assert_allclose(n, 2.125 + 0.25 * np.arange(24))
    result = CliRunner().invoke(main, ["fes", str(folder), "-o", str(tmp_path / "q.nc"),
                                       "--range", "-20,8"])
    assert "reaches beyond the N sampled" in one_line_error(result)


def test_fes_takes_the_cv_name_and_units_from_the_input(tmp_path):
    from nanopore.profile import load_profile

    paths = []
    for j, window in enumerate(synthetic_windows(PROFILE, CENTERS, 5.0, 300, seed=2)):
        kappa = window.spring_constant
        bias = 0.5 * kappa * (window.n - window.center) ** 2
        rows = "\n".join(f"{t:.3f} {x:.6f} {b:.8f}" for t, x, b in zip(window.time, window.n, bias))
        path = tmp_path / f"COLVAR.{j}"
        path.write_text(f"#! FIELDS time d1 restraint.bias\n{rows}\n")
        paths.append(str(path))
    result = CliRunner().invoke(main, ["fes", *paths, "--temperature", "300", "--cv-units", "nm",
                                       "-o", str(tmp_path / "p.nc"), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    profile = load_profile(tmp_path / "p.nc")
    assert profile["n"].attrs["long_name"] == "d1" and profile["n"].attrs["units"] == "nm"
    assert "grid points of d1" in result.output


# ---------------------------------------------------------------------- SLURM
@pytest.mark.parametrize("options, message", [
    ({"partition": "gpu\n#SBATCH --wrap=rm"}, "--partition"),
    ({"account": "lab; rm -rf ~"}, "--account"),
    ({"memory": "8G\necho"}, "--mem"),
    ({"memory": "$(reboot)"}, "--mem"),
    ({"setup_lines": ("module load cuda\nrm -rf ~",)}, "line break"),
])
def test_slurm_values_that_could_inject_lines_are_refused(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SlurmOptions(**options)


def test_slurm_paths_and_names_cannot_break_the_scripts(tmp_path):
    setup_file = tiny_toml(tmp_path)
    named = tmp_path / "my pore;x.toml"
    named.write_text(setup_file.read_text())
    setup = load_setup(named)
    paths = write_slurm_scripts(setup, tmp_path / "run", SlurmOptions(partition="gpu,debug"))
    script = paths["windows"].read_text()
    assert "#SBATCH --job-name=my_pore_x-windows" in script
    assert "'" + str(named.resolve()) + "'" in script  # the setup path is shell-quoted
    for path in paths.values():
        assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    with pytest.raises(ValueError, match="--output"):
        write_slurm_scripts(setup, tmp_path / "a run", SlurmOptions())
    assert not (tmp_path / "a run").exists()


# ---------------------------------------------------------- estimators, speed
def _small_data(samples: int = 400):
    windows = synthetic_windows(PROFILE, np.arange(0.0, 10.01, 1.0), 2.0, samples, seed=5)
    return UmbrellaData.from_windows(windows), np.linspace(0.5, 9.5, 19)


def test_mbar_analytic_error_equals_pymbar_analytical():
    import warnings

    from analysis.mbar import MBARProfile

    data, edges = _small_data()
    estimator = MBARProfile(edges)
    fit = estimator.fit(data)
    mine = estimator.analytic_error(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymbar import FES

        x, _ = data.concatenated()
        fes = FES(data.reduced_bias(x), data.counts, mbar_options={"verbose": False})
        bins = np.concatenate([[min(x.min(), edges[0]) - 1e-9], edges,
                               [max(x.max(), edges[-1]) + 1e-9]])
        fes.generate_fes(np.zeros(x.size), x, fes_type="histogram",
                         histogram_parameters={"bin_edges": bins})
        centers = 0.5 * (edges[1:] + edges[:-1])
        reference = fes.get_fes(centers, reference_point="from-specified",
                                fes_reference=centers[4], uncertainty_method="analytical")
    np.testing.assert_allclose(mine, reference["df_i"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.free_energy - fit.free_energy[4],
                               reference["f_i"] + np.log(np.diff(edges)) - np.log(np.diff(edges))[4],
                               atol=1e-6)


def test_wham_multinomial_bootstrap_matches_the_resampling_bootstrap():
    from analysis.bootstrap import bootstrap_error, bootstrap_profiles
    from analysis.resampling import histogram_bootstrap_profiles
    from analysis.wham import WHAM

    data, edges = _small_data(600)
    estimator = WHAM(edges)
    fast = histogram_bootstrap_profiles(estimator, data, 300, np.random.default_rng(1))
    slow = bootstrap_profiles(estimator, data, 300, np.random.default_rng(2))
    fast_error, slow_error = bootstrap_error(fast, 3), bootstrap_error(slow, 3)
    inner = np.arange(fast_error.size) != 3
    # two independent estimates of one standard error from 300 replicates: within ~15 %
    np.testing.assert_allclose(fast_error[inner], slow_error[inner], rtol=0.2)


def test_parallel_bootstrap_does_not_depend_on_the_thread_count():
    from analysis.mbar import MBARProfile
    from analysis.resampling import parallel_bootstrap_profiles

    data, edges = _small_data(200)
    one = parallel_bootstrap_profiles(MBARProfile(edges), data, 4, np.random.default_rng(7), jobs=1)
    two = parallel_bootstrap_profiles(MBARProfile(edges), data, 4, np.random.default_rng(7), jobs=2)
    np.testing.assert_array_equal(one, two)


def test_help_starts_without_importing_the_stages():
    script = ("import sys\nfrom nanopore.cli import main\n"
              "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
              "heavy = ('numpy', 'scipy', 'xarray', 'pymbar', 'openmm', 'h5py', 'analysis',"
              " 'langevin', 'md_setups', 'torch')\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    assert result.stderr.strip() == "[]"
    assert "fes" in result.stdout and "pipeline" in result.stdout


def test_short_help_of_every_command_matches_the_command():
    import click

    assert set(SHORT_HELP) == set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        command = main.get_command(click.Context(main), name)
        for limit in (40, 70):
            assert click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit) == \
                command.get_short_help_str(limit), name



def test_subsample_indices_equal_pymbars_own():
    import contextlib
    import io
    import warnings

    from analysis.decorrelation import subsample_indices

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from pymbar import timeseries
    rng = np.random.default_rng(0)
    for size in (1, 2, 17, 1000, 20001):
        for g in [1.0, 1.5, 2.5, 3.0, *rng.uniform(1.0, 40.0, 20)]:
            expected = timeseries.subsample_correlated_data(np.zeros(size), g=float(g))
            assert list(subsample_indices(size, float(g))) == list(expected), (size, g)


def test_netcdf_bytes_equal_xarray_to_netcdf():
    import io

    import xarray as xr

    from nanopore.safe_io import netcdf_bytes

    ds = xr.Dataset({"free_energy": (("voltage", "n"), np.arange(6.0).reshape(2, 3),
                                     {"units": "kT"}),
                     "flag": (("voltage",), np.array([0, 1], dtype=np.int64))},
                    coords={"voltage": ("voltage", [0.0, 2.0], {"units": "V"}),
                            "n": [0.0, 1.0, 2.0]},
                    attrs={"method": "wham", "bootstrap": 20, "parameters": "{\"a\": 1}"})
    ours = xr.open_dataset(io.BytesIO(netcdf_bytes(ds)), engine="h5netcdf").load()
    theirs = xr.open_dataset(io.BytesIO(bytes(ds.to_netcdf(engine="h5netcdf"))),
                             engine="h5netcdf").load()
    assert ours.identical(theirs) and ours.identical(ds)
    assert ours["flag"].dtype == np.int64
    # what the store refuses still gets xarray's own message
    with pytest.raises((TypeError, ValueError)):
        netcdf_bytes(ds.assign_attrs(bad={"nested": "dict"}))
