"""Non-equilibrium runs: the pore under a voltage ramp or a sinusoidal voltage.

Unrestrained MD of the built system with the field updated every ``field_stride``
steps, recording N(t) and V(t) at the setup's CV stride. These runs validate the
kinetics: the wetting and drying seen here should match the Langevin and
Fokker-Planck predictions made from the equilibrium profiles.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from md_setups.forces import VOLTAGE, sync_box_height, voltage_parameter
from md_setups.runner import WindowRunner, WindowTask
from md_setups.setup import Setup
from nanopore.profile import write_dataset
from nanopore.provenance import annotate, provenance_attrs


@dataclass(frozen=True)
class VoltageProtocol:
    """Voltage as a function of time.

    Attributes
    ----------
    kind : {"ramp", "sine"}
    start, stop : float
        Ramp: voltage at t = 0 and at the end (V).
    amplitude : float
        Sine: amplitude (V); V(t) = offset + amplitude sin(2 pi f t).
    frequency : float
        Sine: frequency (1/ps).
    offset : float
        Sine: constant part (V).
    """

    kind: str
    start: float = 0.0
    stop: float = 0.0
    amplitude: float = 0.0
    frequency: float = 0.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("ramp", "sine"):
            raise ValueError(f"unknown voltage protocol {self.kind!r}: use ramp or sine")
        if self.kind == "sine" and self.frequency <= 0:
            raise ValueError("a sinusoidal drive needs a positive frequency (1/ps)")

    def voltage(self, time_ps: float, duration_ps: float) -> float:
        """V(t) (V) at time ``time_ps`` of a run lasting ``duration_ps``."""
        if self.kind == "ramp":
            return self.start + (self.stop - self.start) * min(1.0, time_ps / duration_ps)
        return self.offset + self.amplitude * math.sin(2.0 * math.pi * self.frequency * time_ps)


def run_drive(setup: Setup, out: str | os.PathLike, protocol: VoltageProtocol,
              duration_ps: float, field_stride: int = 100, seed: int | None = None,
              progress: bool = True) -> Path:
    """Run the unrestrained pore under a time-dependent voltage.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory (the build is shared with the windows).
    protocol : VoltageProtocol
    duration_ps : float
        Length of the run (ps).
    field_stride : int
        Steps between field updates; a multiple of the CV stride is used.
    seed : int, optional
        Seed of velocities and integrator; default from the setup.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``OUT/drive_<kind>.nc`` with ``n`` (molecules) and ``voltage`` (V) over ``time`` (ps).
    """
    import openmm

    if duration_ps <= 0:
        raise ValueError(f"drive duration must be positive (ps), got {duration_ps}")
    runner = WindowRunner(setup, out, progress=progress)
    stride = setup["run"]["cv_stride"]
    field_stride = max(stride, int(math.ceil(field_stride / stride)) * stride)
    task = WindowTask(protocol.voltage(0.0, duration_ps), 0)
    runner._new_simulation(seed if seed is not None else setup["run"]["seed"] + 7919)
    runner.context.setPositions(runner.built.positions)
    runner.context.setPeriodicBoxVectors(*runner.built.topology.getPeriodicBoxVectors())
    openmm.LocalEnergyMinimizer.minimize(runner.context, 10.0, 500)
    runner.context.setVelocitiesToTemperature(
        setup["simulation"]["temperature"] * openmm.unit.kelvin,
        seed if seed is not None else setup["run"]["seed"])
    total = setup.steps(duration_ps)
    times, counts, voltages = [], [], []
    bar = runner._progress_bar(task, total, 0)
    started = time.perf_counter()
    step = 0
    try:
        while step < total:
            if step % field_stride == 0:
                volts = protocol.voltage(step * runner.timestep, duration_ps)
                runner.context.setParameter(VOLTAGE, voltage_parameter(volts))
            runner.simulation.step(stride)
            sync_box_height(runner.context)
            if bar is not None:
                bar.update(stride)
            step += stride
            times.append(step * runner.timestep)
            counts.append(runner.collective_variable())
            voltages.append(volts)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    import xarray as xr

    ds = xr.Dataset({"n": ("time", np.array(counts)), "voltage": ("time", np.array(voltages))},
                    coords={"time": np.array(times)})
    annotate(ds, {"time": ("ps", "time"), "n": ("molecules", "water molecules in the pore"),
                  "voltage": ("V", "applied voltage")})
    ds.attrs.update(provenance_attrs(
        "md_setups.drive", inputs=setup.source,
        parameters={"protocol": protocol.__dict__, "duration_ps": duration_ps,
                    "field_stride": field_stride, "platform": runner.platform.getName(),
                    "ns_per_day": total * runner.timestep / elapsed * 86.4}))
    ds.attrs["temperature"] = setup["simulation"]["temperature"]
    path = Path(out) / f"drive_{protocol.kind}.nc"
    write_dataset(ds, path)
    return path


def protocol_from_options(ramp: tuple[float, float] | None,
                          sine: tuple[float, float] | None, offset: float = 0.0) -> VoltageProtocol:
    """Protocol from the command-line options ``--ramp V0 V1`` or ``--sine AMPLITUDE FREQUENCY``."""
    if (ramp is None) == (sine is None):
        raise ValueError("give exactly one of --ramp V_START V_END or --sine AMPLITUDE FREQUENCY")
    if ramp is not None:
        return VoltageProtocol("ramp", start=ramp[0], stop=ramp[1])
    assert sine is not None
    return VoltageProtocol("sine", amplitude=sine[0], frequency=sine[1], offset=offset)

