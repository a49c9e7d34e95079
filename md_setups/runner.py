"""Restrained windows: minimise, equilibrate (pulling the target), produce, resume.

Layout of a run directory::

    RUN/build/                       system.pdb, system.xml, build.json
    RUN/voltage_+0.000V/window_03.h5     CV samples (nanopore.windows format)
    RUN/voltage_+0.000V/window_03.chk    last checkpoint (while running): OpenMM's binary
    RUN/voltage_+0.000V/window_03.chk.json   checkpoint and its JSON record (md_setups.checkpoint)
    RUN/voltage_+0.000V/window_03.lock   held while a process runs the window
    RUN/voltage_+0.000V/window_03.xml    final state (start of the next window)
    RUN/run.log                      one line per window: what ran where, ns/day

Resuming. Samples are appended to the window file and flushed; at every
checkpoint the samples so far are flushed first and the checkpoint (OpenMM's
binary checkpoint, which carries positions, velocities and the integrator's
random state, and a JSON record with the number of samples it belongs to; no
pickle) is then written to temporary files and renamed. A restarted window
truncates the window file to the checkpoint's sample count and carries on from
there, so it loses and duplicates nothing. A window marked complete is skipped.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform as _platform
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from md_setups.builder import BuiltSystem, ensure_build
from md_setups.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from md_setups.forces import (
    KAPPA,
    TARGET,
    VOLTAGE,
    add_barostat,
    add_cv_restraint,
    add_field,
    sync_box_height,
    voltage_parameter,
)
from md_setups.platforms import choose_platform
from md_setups.setup import Setup
from nanopore.safe_io import FileLock, atomic_write_text
from nanopore.windows import WindowFile, is_complete


def pressure_every(setup: Setup) -> int:
    """CV samples between readings of P_zz: ``pressure_stride`` in whole CV strides."""
    stride = int(setup["run"]["cv_stride"])
    return max(1, -(-int(setup["run"]["pressure_stride"]) // stride))


@dataclass(frozen=True)
class WindowTask:
    """One restrained simulation: a voltage and a window index."""

    voltage: float
    index: int

    def label(self) -> str:
        """Short name used in logs and progress bars."""
        return f"V={self.voltage:+.3f} V window {self.index:02d}"


def voltage_directory(out: str | os.PathLike, voltage: float) -> Path:
    """Directory of one voltage's windows."""
    return Path(out) / f"voltage_{voltage:+.3f}V"


def window_path(out: str | os.PathLike, task: WindowTask, suffix: str = ".h5") -> Path:
    """Path of a window's sample file (``.h5``), checkpoint (``.chk``) or final state (``.xml``)."""
    return voltage_directory(out, task.voltage) / f"window_{task.index:02d}{suffix}"


def default_run_directory(setup: Setup) -> Path:
    """Default output directory: ``./nanopore_run_<setup name>``."""
    return Path.cwd() / f"nanopore_run_{setup.name}"


def window_seed(setup: Setup, task: WindowTask) -> int:
    """Seed of a window's velocities and integrator, from the setup seed (never 0)."""
    sequence = np.random.SeedSequence(
        [setup["run"]["seed"], int(round(task.voltage * 1e6)) & 0xFFFFFFFF, task.index])
    return int(sequence.generate_state(1)[0] % (2**31 - 2)) + 1


def chain_order(setup: Setup) -> list[int]:
    """Order in which one voltage's windows run so each starts from its neighbour.

    A wet build starts at the highest target and pulls down; a dry build the reverse.
    """
    order = list(range(len(setup.targets)))
    return order[::-1] if setup["solvent"]["fill"] == "wet" else order


def neighbour(setup: Setup, task: WindowTask) -> WindowTask | None:
    """The window whose final state starts this one (None for the first of a chain)."""
    order = chain_order(setup)
    position = order.index(task.index)
    return WindowTask(task.voltage, order[position - 1]) if position > 0 else None


class WindowRunner:
    """Runs the windows of one setup in one OpenMM context.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory.
    progress : bool
        Show a progress bar with ns/day.
    extend : bool
        Continue finished windows whose production is shorter than the setup's
        from their final state (otherwise such a window is an error).
    """

    def __init__(self, setup: Setup, out: str | os.PathLike, progress: bool = True,
                 extend: bool = False):
        self.setup = setup
        self.out = Path(out)
        self.progress = progress
        self.extend = extend
        self.built: BuiltSystem = ensure_build(setup, self.out / "build")
        system = self.built.system
        self.restraint_index = add_cv_restraint(system, setup.cv, self.built.oxygen_indices)
        from openmm import unit

        built_height = self.built.topology.getPeriodicBoxVectors()[2][2].value_in_unit(
            unit.nanometer)
        add_field(system, 0.0, built_height)
        sim = setup["simulation"]
        self.barostat = None
        if sim["barostat"]:
            self.barostat = system.getForce(add_barostat(system, sim["pressure"],
                                                         sim["temperature"],
                                                         sim["barostat_interval"]))
        self.timestep = sim["timestep"]
        self.platform, self.properties = choose_platform(sim["platform"], sim["precision"],
                                                         sim["threads"])
        self.restraint = system.getForce(self.restraint_index)
        self.simulation: Any = None

    def _new_simulation(self, seed: int) -> None:
        """A fresh context whose integrator draws from ``seed``.

        OpenMM reads an integrator's seed when the context is created, so each
        window gets its own context: a window then has the same random stream
        whether it runs alone, in a chain, or on another worker.
        """
        import openmm
        from openmm import app

        sim = self.setup["simulation"]
        integrator = openmm.LangevinMiddleIntegrator(
            sim["temperature"] * openmm.unit.kelvin, sim["friction"] / openmm.unit.picosecond,
            self.timestep * openmm.unit.picoseconds)
        integrator.setRandomNumberSeed(seed)
        if self.barostat is not None:
            self.barostat.setRandomNumberSeed(seed)
        self.simulation = app.Simulation(self.built.topology, self.built.system, integrator,
                                         self.platform, self.properties)
        self.context = self.simulation.context

    # ------------------------------------------------------------------ helpers
    def collective_variable(self) -> float:
        """Current N (molecules)."""
        return float(self.restraint.getCollectiveVariableValues(self.context)[0])

    def _set_parameters(self, voltage: float, kappa: float, target: float) -> None:
        self.context.setParameter(VOLTAGE, voltage_parameter(voltage))
        sync_box_height(self.context)
        self.context.setParameter(KAPPA, kappa)
        self.context.setParameter(TARGET, target)

    def _metadata(self, task: WindowTask) -> dict[str, Any]:
        setup = self.setup
        return {
            "center": float(setup.targets[task.index]),
            "spring_constant": float(setup["windows"]["spring_constant"]),
            "voltage": float(task.voltage),
            "temperature": float(setup["simulation"]["temperature"]),
            "stride": int(setup["run"]["cv_stride"]),
            "timestep": float(self.timestep),
            "window_index": int(task.index),
            "equilibration_ps": float(setup["run"]["equilibration"]),
            "production_ps": float(setup["run"]["production"]),
            "setup": setup.source,
            "setup_digest": setup.digest(),
            "cv": setup.cv.to_dict(),
            "platform": self.platform.getName(),
            "seed": window_seed(setup, task),
            "symmetric_pore": int(setup.mirror_symmetric),
            "pressure_set_mpa": float(setup["simulation"]["pressure"]),
            "barostat": int(setup["simulation"]["barostat"]),
        }

    def _start_state(self, task: WindowTask) -> str:
        """Positions (and velocities) to start a fresh window from; returns where from."""
        import openmm

        seed = window_seed(self.setup, task)
        mode = self.setup["windows"]["start_from"]
        previous = neighbour(self.setup, task) if mode != "built" else None
        first_voltage = float(self.setup.voltages[0])
        if mode == "first_voltage" and abs(task.voltage - first_voltage) > 1e-12:
            same = WindowTask(first_voltage, task.index)
            if window_path(self.out, same, ".xml").exists():
                previous = same
        if (previous is not None and window_path(self.out, previous, ".xml").exists()):
            state = openmm.XmlSerializer.deserialize(
                window_path(self.out, previous, ".xml").read_text())
            self.context.setState(state)
            self.context.setTime(0.0)
            self.context.setStepCount(0)
            source = (f"final state of window {previous.index:02d}"
                      + (f" at {previous.voltage:+g} V" if previous.voltage != task.voltage else ""))
        else:
            self.context.setPositions(self.built.positions)
            self.context.setPeriodicBoxVectors(*self.built.topology.getPeriodicBoxVectors())
            self.context.setTime(0.0)
            self.context.setStepCount(0)
            self._set_parameters(task.voltage, 0.0, 0.0)
            openmm.LocalEnergyMinimizer.minimize(self.context, 10.0, 500)
            source = "the minimised build"
        self.context.setVelocitiesToTemperature(
            self.setup["simulation"]["temperature"] * openmm.unit.kelvin, seed)
        return source

    def _save_checkpoint(self, task: WindowTask, phase: str, step: int, n_samples: int,
                         n_start: float) -> None:
        save_checkpoint(window_path(self.out, task, ".chk"), self.context.createCheckpoint(),
                        phase, step, n_samples, n_start, self.platform.getName())
        self._reseed_barostat(task, phase, step)

    def _reseed_barostat(self, task: WindowTask, phase: str, step: int) -> None:
        """Restart the barostat's random stream from (window seed, phase, step).

        OpenMM's checkpoints carry the integrator's random state but not the
        barostat's; reseeding at every checkpoint, in the uninterrupted run and
        after a resume alike, keeps a resumed window bitwise identical.
        """
        if self.barostat is None:
            return
        sequence = np.random.SeedSequence(
            [window_seed(self.setup, task), 1 if phase == "production" else 0, int(step)])
        self.barostat.setRandomNumberSeed(int(sequence.generate_state(1)[0] % (2**31 - 2)) + 1)
        self.context.reinitialize(preserveState=True)

    def _load_checkpoint(self, task: WindowTask) -> dict[str, Any] | None:
        import openmm

        path = window_path(self.out, task, ".chk")
        loaded = load_checkpoint(path)
        if loaded is None:
            return None
        record, data = loaded
        if record.platform != self.platform.getName():
            raise RuntimeError(f"{path} was written on the {record.platform} platform and "
                               f"cannot resume on {self.platform.getName()}; set platform = "
                               f"\"{record.platform}\" or delete the checkpoint")
        try:
            self.context.loadCheckpoint(data)
        except openmm.OpenMMException as err:
            raise CheckpointError(f"{path}: OpenMM cannot load it ({str(err).splitlines()[0]}); "
                                  f"delete {path.name} and {path.name}.json to restart this "
                                  "window") from None
        return {"phase": record.phase, "step": record.step, "n_samples": record.n_samples,
                "n_start": record.n_start}

    # --------------------------------------------------------------------- run
    def run(self, task: WindowTask) -> Path:
        """Run (or resume, or skip) one window.

        Parameters
        ----------
        task : WindowTask

        Returns
        -------
        Path
            The window file.
        """
        setup = self.setup
        if not 0 <= task.index < len(setup.targets):
            raise ValueError(f"window {task.index} does not exist; the setup has windows "
                             f"0 to {len(setup.targets) - 1}")
        path = window_path(self.out, task)
        if is_complete(path) and not self._needs_extension(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        kappa = float(setup["windows"]["spring_constant"])
        target = float(setup.targets[task.index])
        stride = setup["run"]["cv_stride"]
        n_equil = setup.steps(setup["run"]["equilibration"])
        n_prod = setup.steps(setup["run"]["production"])
        every = max(stride, setup.steps(setup["run"]["checkpoint_interval"]))

        # a lock of our own: HDF5's file locking is often off on cluster file systems
        with (FileLock(window_path(self.out, task, ".lock"), what=f"{path} ({task.label()})"),
              WindowFile(path, self._metadata(task)) as window):
            if window.complete:
                if not self._needs_extension(path):
                    return path
                self._begin_extension(task, window, kappa, target)
            self._new_simulation(window_seed(setup, task))
            checkpoint = self._load_checkpoint(task)
            if checkpoint is not None:
                self._reseed_barostat(task, checkpoint["phase"], checkpoint["step"])
            started = time.perf_counter()
            if checkpoint is None:
                source = self._start_state(task)
                window.truncate(0)
                phase, step, n_start = "equilibration", 0, self.collective_variable()
            else:
                source = f"checkpoint at {checkpoint['phase']} step {checkpoint['step']}"
                phase, step, n_start = checkpoint["phase"], checkpoint["step"], checkpoint["n_start"]
                window.truncate(checkpoint["n_samples"])
            self._set_parameters(task.voltage, kappa, target)
            done_before = step if phase == "equilibration" else n_equil + step
            bar = self._progress_bar(task, n_equil + n_prod, done_before)
            try:
                if phase == "equilibration":
                    step = self._equilibrate(task, step, n_equil, n_start, target, stride,
                                             every, window, bar)
                    phase, step = "production", 0
                    self._save_checkpoint(task, phase, 0, window.n_samples, n_start)
                self._produce(task, step, n_prod, stride, every, n_start, window, bar)
            finally:
                if bar is not None:
                    bar.close()
            self._finish(task, window)
            elapsed = time.perf_counter() - started
        self._log(task, source, n_equil + n_prod - done_before, elapsed)
        return path

    def _needs_extension(self, path: Path) -> bool:
        """Whether a finished window holds less production than the setup asks for.

        Raises
        ------
        RuntimeError
            If it does and the runner was not asked to extend windows.
        """
        import h5py

        with h5py.File(path, "r") as handle:
            recorded = float(handle.attrs.get("production_ps", np.nan))
        wanted = float(self.setup["run"]["production"])
        if not np.isfinite(recorded) or recorded >= wanted - 0.5 * self.timestep:
            return False
        if not self.extend:
            raise RuntimeError(
                f"{path} is finished with {recorded:g} ps of production but the setup asks for "
                f"{wanted:g} ps; rerun with --extend to continue it from its final state, or "
                "use another output directory")
        return True

    def _begin_extension(self, task: WindowTask, window: WindowFile, kappa: float,
                         target: float) -> None:
        """Turn a finished window into one resuming at the end of its production.

        The final state (positions, velocities, box) becomes a production
        checkpoint at the recorded step, with a fresh random stream drawn from
        (window seed, recorded step); only then is the window marked unfinished,
        so a kill at any point loses none of its samples.
        """
        import openmm

        recorded_ps = float(window.attribute("production_ps"))
        step = self.setup.steps(recorded_ps)
        stride = int(self.setup["run"]["cv_stride"])
        if window.n_samples != step // stride:
            raise RuntimeError(
                f"{window.path} holds {window.n_samples} samples, not the {step // stride} of "
                f"{recorded_ps:g} ps at a stride of {stride} steps; it cannot be extended")
        final = window_path(self.out, task, ".xml")
        if not final.exists():
            raise RuntimeError(f"{window.path} cannot be extended: its final state {final} is "
                               "missing")
        sequence = np.random.SeedSequence([window_seed(self.setup, task), 2, step])
        self._new_simulation(int(sequence.generate_state(1)[0] % (2**31 - 2)) + 1)
        self.context.setState(openmm.XmlSerializer.deserialize(final.read_text()))
        self.context.setStepCount(step)
        self._set_parameters(task.voltage, kappa, target)
        n_start = float(window.series("n")[0]) if window.n_samples else target
        self._save_checkpoint(task, "production", step, window.n_samples, n_start)
        window.set_attrs({"complete": False, "extended_from_ps": recorded_ps,
                          "production_ps": float(self.setup["run"]["production"]),
                          "setup": self.setup.source, "setup_digest": self.setup.digest()})

    def _progress_bar(self, task: WindowTask, total: int, initial: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=task.label(), unit="step",
                    leave=False, dynamic_ncols=True)

    def _advance(self, steps: int, bar: Any, clock: list[float]) -> float:
        """Run ``steps`` steps, keep the field's box height current; return L_z (nm)."""
        self.simulation.step(steps)
        height = sync_box_height(self.context)
        if bar is not None:
            bar.update(steps)
            now = time.perf_counter()
            if now - clock[0] > 1.0:
                done = bar.n - clock[1]
                ns_day = done * self.timestep / (now - clock[0]) * 86400 / 1000
                bar.set_postfix(ns_day=f"{ns_day:.1f}", N=f"{self.collective_variable():.2f}",
                                Lz=f"{height:.3f}")
                clock[0], clock[1] = now, bar.n
        return height

    def _pressure_zz(self) -> float:
        """Instantaneous normal pressure P_zz (MPa) from the barostat (NaN without one)."""
        if self.barostat is None:
            return float("nan")
        from openmm import unit

        return float(self.barostat.computeCurrentPressure(self.context)[2]
                     .value_in_unit(unit.bar)) / 10.0

    def _equilibrate(self, task: WindowTask, step: int, n_equil: int, n_start: float,
                     target: float, stride: int, every: int, window: WindowFile, bar: Any) -> int:
        """Equilibrate, moving the target linearly from n_start to N_k over the first half."""
        clock = [time.perf_counter(), bar.n if bar is not None else 0]
        pull = max(1, n_equil // 2)
        while step < n_equil:
            fraction = min(1.0, step / pull)
            self.context.setParameter(TARGET, n_start + (target - n_start) * fraction)
            self._advance(stride, bar, clock)
            step += stride
            if step % every == 0 and step < n_equil:
                self._save_checkpoint(task, "equilibration", step, 0, n_start)
        self.context.setParameter(TARGET, target)
        return step

    def _produce(self, task: WindowTask, step: int, n_prod: int, stride: int, every: int,
                 n_start: float, window: WindowFile, bar: Any) -> None:
        reporter = self._trajectory_reporter(task, append=step > 0)
        pressure_stride = pressure_every(self.setup)
        clock = [time.perf_counter(), bar.n if bar is not None else 0]
        times: list[float] = []
        values: list[float] = []
        heights: list[float] = []
        pressures: list[float] = []
        try:
            while step < n_prod:
                height = self._advance(stride, bar, clock)
                step += stride
                times.append(step * self.timestep)
                values.append(self.collective_variable())
                heights.append(height)
                # a reading of P_zz costs several energy evaluations: every few samples only
                pressures.append(self._pressure_zz() if (step // stride) % pressure_stride == 0
                                 else float("nan"))
                if step % every == 0 or step >= n_prod:
                    window.append(times, values, {"box_height": (heights, "nm"),
                                                  "pressure_zz": (pressures, "MPa")})
                    times.clear()
                    values.clear()
                    heights.clear()
                    pressures.clear()
                    if step < n_prod:
                        self._save_checkpoint(task, "production", step, window.n_samples, n_start)
        finally:
            if reporter is not None:
                self.simulation.reporters.remove(reporter)

    def _trajectory_reporter(self, task: WindowTask, append: bool) -> Any:
        kind = self.setup["run"]["trajectory"]
        if kind == "none":
            return None
        from openmm import app

        path = window_path(self.out, task, f".{kind}")
        stride = self.setup["run"]["trajectory_stride"]
        append = append and path.exists()
        if kind == "dcd":
            reporter = app.DCDReporter(str(path), stride, append=append)
        else:
            reporter = app.XTCReporter(str(path), stride, append=append)
        self.simulation.reporters.append(reporter)
        return reporter

    def _finish(self, task: WindowTask, window: WindowFile) -> None:
        import openmm

        state = self.context.getState(getPositions=True, getVelocities=True,
                                      enforcePeriodicBox=False)
        atomic_write_text(window_path(self.out, task, ".xml"), openmm.XmlSerializer.serialize(state))
        window.set_attrs(_pressure_summary(window))
        window.mark_complete()
        remove_checkpoint(window_path(self.out, task, ".chk"))

    def _log(self, task: WindowTask, source: str, steps: int, elapsed: float) -> None:
        ns_day = steps * self.timestep / max(elapsed, 1e-9) * 86400 / 1000
        line = (f"{_dt.datetime.now().isoformat(timespec='seconds')}  {task.label()}  "
                f"N_k={self.setup.targets[task.index]:g}  from {source}  "
                f"{steps} steps in {elapsed:.1f} s ({ns_day:.1f} ns/day)  "
                f"{self.platform.getName()} on {socket.gethostname()} "
                f"(Python {_platform.python_version()})\n")
        with open(self.out / "run.log", "a") as handle:
            handle.write(line)


def _pressure_summary(window: WindowFile) -> dict[str, float]:
    """Mean box height (nm) and normal pressure (MPa) with block errors, as window attributes."""
    summary: dict[str, float] = {}
    for name, key in (("box_height", "box_height_nm"), ("pressure_zz", "pressure_zz_mpa")):
        values = window.series(name)
        if values is None:
            continue
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        blocks = min(10, values.size)
        means = np.array([chunk.mean() for chunk in np.array_split(values, blocks)])
        summary[key] = float(values.mean())
        summary[key + "_error"] = float(means.std(ddof=1) / np.sqrt(blocks)) if blocks > 1 else float("nan")
    return summary


def run_windows(setup: Setup, out: str | os.PathLike, voltages: Iterable[float] | None = None,
                windows: Iterable[int] | None = None, progress: bool = True,
                extend: bool = False) -> list[Path]:
    """Run windows in chain order, voltage by voltage; skip finished ones.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory.
    voltages : iterable of float, optional
        Voltages (V) to run; default all of the setup's.
    windows : iterable of int, optional
        Window indices; default all.
    progress : bool
        Show progress bars.
    extend : bool
        Continue finished windows that hold less production than the setup asks for.

    Returns
    -------
    list of Path
        Window files, in the order run.
    """
    runner = WindowRunner(setup, out, progress=progress, extend=extend)
    chosen_voltages = list(setup.voltages if voltages is None else voltages)
    chosen = set(range(len(setup.targets)) if windows is None else windows)
    paths = []
    for voltage in chosen_voltages:
        for index in chain_order(setup):
            if index in chosen:
                paths.append(runner.run(WindowTask(float(voltage), index)))
    return paths
