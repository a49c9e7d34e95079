"""Memristor I-V loops of a pore driven by a periodic voltage.

V(t) = V0 sin(2 pi f t) or a triangle wave of the same amplitude and period. The
pore's conductance follows its wetting: G(t) = G_dry + (G_wet - G_dry) P_wet(t)
(or the average of a G(N) over p(N, t)), and I = G V. Each loop is the periodic
steady state, run until P_wet changes by less than a tolerance from one period to
the next (:func:`langevin.driven.periodic_response`); the output records the change
reached. Frequencies above the limit of the static profile
(:mod:`langevin.validity`) are flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from langevin.conductance import ConductanceModel
from langevin.driven import (
    DrivenLandscape,
    periodic_response,
    refined_landscape,
    warn_unconverged,
)
from langevin.landscape import INTERPOLANT
from langevin.loops import crossing, normalised_loop_area, pinch
from langevin.validity import static_limit_frequency
from nanopore.provenance import annotate, provenance_attrs
from nanopore.voltage_model import VoltageModel

MODELS = ("master", "fokker-planck", "langevin")
WAVEFORMS = ("sine", "triangle")


def waveform_function(name: str, amplitude: float) -> Callable[[np.ndarray], np.ndarray]:
    """Drive value as a function of the phase (fraction of a period), starting at 0 and rising.

    Parameters
    ----------
    name : {"sine", "triangle"}
        Wave shape.
    amplitude : float
        V0 (V).

    Returns
    -------
    callable
        phase -> voltage (V).
    """
    if name == "sine":
        return lambda phase: amplitude * np.sin(2.0 * np.pi * np.asarray(phase))
    if name == "triangle":
        def triangle(phase):
            x = np.mod(np.asarray(phase, dtype=float) + 0.25, 1.0)
            return amplitude * (1.0 - 4.0 * np.abs(x - 0.5))

        return triangle
    raise ValueError(f"unknown waveform '{name}'; choose one of {', '.join(WAVEFORMS)}")


def voltage_landscape(model: VoltageModel, amplitude: float, **basins) -> DrivenLandscape:
    """Driven landscape of a voltage model over a sine of amplitude ``amplitude``.

    D(N) is held at its value interpolated at the drive's rms voltage V0 / sqrt(2).

    Parameters
    ----------
    model : VoltageModel
        Fitted voltage dependence.
    amplitude : float
        V0 (V); a warning is raised if the model is extrapolated.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    DrivenLandscape
    """
    model.check_range(np.array([-amplitude, amplitude]))
    return DrivenLandscape(
        grid=np.asarray(model.n, dtype=float),
        basis=model.basis(),
        coefficients=model.coefficient_matrix,
        diffusion=model.diffusion_at(amplitude / np.sqrt(2.0)),
        drive_name="voltage",
        drive_units="V",
        basins_override={k: v for k, v in basins.items() if v is not None},
    )


def memristor_loops(
    model: VoltageModel,
    amplitude: float,
    frequencies: Sequence[float],
    method: str = "master",
    conductance: ConductanceModel | None = None,
    n_periods: int = 2,
    steps_per_period: int = 400,
    n_trajectories: int = 2000,
    seed: int = 0,
    time_step: float | None = None,
    progress: bool = False,
    inputs: list[str] | None = None,
    waveform: str = "sine",
    tolerance: float = 1e-3,
    max_periods: int = 400,
    static_limit: float | None = None,
    **basins,
) -> xr.Dataset:
    """I-V loops in the periodic steady state at several drive frequencies.

    Parameters
    ----------
    model : VoltageModel
        Voltage dependence of the profile.
    amplitude : float
        V0 (V).
    frequencies : sequence of float
        Drive frequencies (Hz).
    method : {"master", "fokker-planck", "langevin"}
        Kinetic model.
    conductance : ConductanceModel, optional
        Default: two-level, G_dry = 0, G_wet = 1 nS.
    n_periods : int, optional
        Fewest periods simulated (Fokker-Planck, Langevin).
    steps_per_period : int, optional
        Time steps (samples) per period.
    n_trajectories, seed, time_step : optional
        Langevin settings (dt in ps).
    progress : bool, optional
        Progress bar over frequencies.
    inputs : list of str, optional
        Provenance.
    waveform : {"sine", "triangle"}, optional
        Shape of V(t).
    tolerance : float, optional
        Largest accepted change of P_wet from one period to the next.
    max_periods : int, optional
        Most periods simulated per frequency.
    static_limit : float, optional
        Highest frequency (Hz) at which the static profile is trusted; default from
        :func:`langevin.validity.static_limit_frequency`.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        Dims (``frequency``, ``phase``): ``time`` (s), ``voltage`` (V), ``current`` (A),
        ``conductance`` (S), ``p_wet``; along ``frequency``: ``loop_area``, ``pinch``,
        ``wetting_voltage``, ``drying_voltage`` (V, where P_wet crosses 1/2 on the
        rising and falling part of the positive half-wave), ``periodic_error``
        (max change of P_wet between the last two periods), ``periods`` (simulated),
        ``converged`` and ``beyond_static_limit`` (1 where f exceeds the attribute
        ``static_limit_frequency``).
    """
    if method not in MODELS:
        raise ValueError(f"unknown model '{method}'; choose one of {', '.join(MODELS)}")
    if amplitude <= 0:
        raise ValueError("the amplitude must be positive (V)")
    frequencies = np.atleast_1d(np.asarray(frequencies, dtype=float))
    if np.any(frequencies <= 0):
        raise ValueError("frequencies must be positive (Hz)")
    if steps_per_period < 4 or steps_per_period % 2:
        raise ValueError("--steps must be an even number of at least 4 per period")
    wave = waveform_function(waveform, amplitude)
    conductance = conductance or ConductanceModel()
    landscape = refined_landscape(voltage_landscape(model, amplitude, **basins),
                                  (-amplitude, amplitude))
    reference = landscape.reference_basins((0.0, amplitude))
    n_dry, threshold, n_wet = reference.positions(landscape.grid)
    landscape = landscape.with_threshold(threshold)
    g_of_n = conductance.on_grid(landscape.grid, n_dry, threshold, n_wet)
    use_g_of_n = conductance.form != "two-level"
    if static_limit is None:
        coexistence = landscape.free_energy(
            np.array([reference_drive(landscape, (0.0, amplitude))]))[0]
        static_limit, static_source = static_limit_frequency(
            landscape.grid, coexistence, landscape.diffusion, reference, float(model.temperature))
    else:
        static_source = "given"
    series = {name: [] for name in ("time", "voltage", "current", "conductance", "p_wet")}
    metrics = {name: [] for name in ("loop_area", "pinch", "wetting_voltage", "drying_voltage",
                                     "periodic_error", "periods", "converged")}
    responses = []
    half = steps_per_period // 2
    for frequency in tqdm(frequencies, disable=not progress, desc=f"loops ({method})"):
        response = periodic_response(
            landscape, wave, float(frequency), method, steps_per_period, threshold,
            tolerance=tolerance, min_periods=n_periods, max_periods=max_periods,
            conductance=g_of_n if use_g_of_n else None, n_trajectories=n_trajectories,
            seed=seed, time_step=time_step,
        )
        responses.append(response)
        p_wet = response.p_wet
        if use_g_of_n and response.mean_conductance is not None:
            g = response.mean_conductance
        else:
            g = conductance.from_wet_probability(p_wet)
        v = response.drive
        current = g * v
        series["time"].append(response.time)
        series["voltage"].append(v)
        series["current"].append(current)
        series["conductance"].append(g)
        series["p_wet"].append(p_wet)
        metrics["loop_area"].append(normalised_loop_area(v, current, amplitude))
        metrics["pinch"].append(pinch(v, current))
        wet_at, wet_index = crossing(v[: half + 1], p_wet[: half + 1], 0.5, rising=True)
        dry_at, _ = crossing(v[wet_index:], p_wet[wet_index:], 0.5, rising=False)
        metrics["wetting_voltage"].append(wet_at)
        metrics["drying_voltage"].append(dry_at)
        metrics["periodic_error"].append(response.periodic_error)
        metrics["periods"].append(response.periods)
        metrics["converged"].append(int(response.converged))
    warn_unconverged("loop(s)", responses, tolerance)
    beyond = frequencies > static_limit
    phase = np.linspace(0.0, 1.0, steps_per_period + 1)
    dims = ("frequency", "phase")
    ds = xr.Dataset(
        {name: (dims, np.vstack(values)) for name, values in series.items()}
        | {name: (("frequency",), np.asarray(values)) for name, values in metrics.items()}
        | {"beyond_static_limit": (("frequency",), beyond.astype(np.int8))},
        coords={"frequency": frequencies, "phase": phase},
    )
    annotations = {
        "frequency": ("Hz", "drive frequency"),
        "phase": ("1", "fraction of the reported period"),
        "time": ("s", "time since the start of the reported period"),
        "voltage": ("V", "applied voltage"),
        "current": ("A", "ionic current"),
        "conductance": ("S", "pore conductance"),
        "p_wet": ("1", "probability that the pore is wet"),
        "loop_area": ("1", "(|lobe 1| + |lobe 2|) / (I_max V0)"),
        "pinch": ("1", "|I| at V = 0 over I_max"),
        "wetting_voltage": ("V", "voltage where P_wet rises through 1/2"),
        "drying_voltage": ("V", "voltage where P_wet falls through 1/2"),
        "periodic_error": ("1", "max |change of P_wet| between the last two periods"),
        "periods": ("1", "periods simulated to reach the periodic state"),
        "converged": ("1", "1 where periodic_error met the tolerance"),
        "beyond_static_limit": ("1", ("1 where f exceeds static_limit_frequency: the static "
                                      "profile does not describe the pore there")),
    }
    annotate(ds, annotations)
    ds.attrs.update(provenance_attrs(
        f"langevin.hysteresis (model={method})", inputs,
        {"amplitude_V": amplitude, "model": method, "waveform": waveform,
         "min_periods": n_periods, "max_periods": max_periods, "tolerance": tolerance,
         "steps_per_period": steps_per_period, "g_dry_S": conductance.g_dry,
         "g_wet_S": conductance.g_wet, "conductance_form": conductance.form,
         "n_trajectories": n_trajectories if method == "langevin" else None,
         "seed": seed if method == "langevin" else None,
         "wet_threshold_molecules": threshold},
    ))
    ds.attrs["amplitude"] = float(amplitude)
    ds.attrs["waveform"] = waveform
    ds.attrs["periodic_tolerance"] = float(tolerance)
    ds.attrs["static_limit_frequency"] = float(static_limit)
    ds.attrs["static_limit_source"] = static_source
    ds.attrs["interpolant"] = INTERPOLANT
    ds.attrs["temperature"] = float(model.temperature)
    return ds


def reference_drive(landscape: DrivenLandscape, drive_range: tuple[float, float],
                    samples: int = 101) -> float:
    """Drive value in a range where k_wet and k_dry are closest (the coexistence drive)."""
    drive = np.linspace(drive_range[0], drive_range[1], samples)
    log_k_wet, log_k_dry, _ = landscape.rate_table(drive)
    return float(drive[int(np.argmin(np.abs(log_k_wet - log_k_dry)))])
