"""Memristor I-V loops of a pore driven by V(t) = V0 sin(2 pi f t).

The pore's conductance follows its wetting: G(t) = G_dry + (G_wet - G_dry) P_wet(t)
(or the average of a G(N) over p(N, t)), and I = G V. Loops are computed over
several periods from equilibrium at V = 0 and the last period is reported, with
its normalised area, pinch and switching voltages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from langevin.conductance import ConductanceModel
from langevin.driven import (
    DrivenLandscape,
    fokker_planck_response,
    langevin_response,
    master_response,
)
from langevin.langevin import uniform_grid
from langevin.loops import crossing, normalised_loop_area, pinch
from nanopore.provenance import annotate, provenance_attrs
from nanopore.voltage_model import VoltageModel

MODELS = ("master", "fokker-planck", "langevin")


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
    grid, basis, diffusion = uniform_grid(
        model.n, model.basis(), model.diffusion_at(amplitude / np.sqrt(2.0))
    )
    return DrivenLandscape(
        grid=grid,
        basis=basis,
        coefficients=model.coefficient_matrix,
        diffusion=diffusion,
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
    n_periods: int = 3,
    steps_per_period: int = 400,
    n_trajectories: int = 2000,
    seed: int = 0,
    time_step: float | None = None,
    progress: bool = False,
    inputs: list[str] | None = None,
    **basins,
) -> xr.Dataset:
    """I-V loops at several drive frequencies.

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
        Periods simulated; the last one is reported.
    steps_per_period : int, optional
        Time steps (samples) per period.
    n_trajectories, seed, time_step : optional
        Langevin settings (dt in ps).
    progress : bool, optional
        Progress bar over frequencies.
    inputs : list of str, optional
        Provenance.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        Dims (``frequency``, ``phase``): ``time`` (s), ``voltage`` (V), ``current`` (A),
        ``conductance`` (S), ``p_wet``; along ``frequency``: ``loop_area``, ``pinch``,
        ``wetting_voltage``, ``drying_voltage`` (V, where P_wet crosses 1/2 on the
        rising and falling part of the positive half-wave), ``periodic_error``
        (max change of P_wet between the last two periods).
    """
    if method not in MODELS:
        raise ValueError(f"unknown model '{method}'; choose one of {', '.join(MODELS)}")
    if amplitude <= 0:
        raise ValueError("the amplitude must be positive (V)")
    frequencies = np.atleast_1d(np.asarray(frequencies, dtype=float))
    if np.any(frequencies <= 0):
        raise ValueError("frequencies must be positive (Hz)")
    conductance = conductance or ConductanceModel()
    landscape = voltage_landscape(model, amplitude, **basins)
    reference = landscape.reference_basins((0.0, amplitude))
    n_dry, threshold, n_wet = reference.positions(landscape.grid)
    g_of_n = conductance.on_grid(landscape.grid, n_dry, threshold, n_wet)
    use_g_of_n = conductance.form != "two-level"
    n_samples = steps_per_period * n_periods
    series = {name: [] for name in ("time", "voltage", "current", "conductance", "p_wet")}
    metrics = {name: [] for name in ("loop_area", "pinch", "wetting_voltage", "drying_voltage", "periodic_error")}
    for frequency in tqdm(frequencies, disable=not progress, desc=f"loops ({method})"):
        period = 1.0 / frequency
        drive = lambda t, f=frequency: amplitude * np.sin(2.0 * np.pi * f * t)  # noqa: E731
        if method == "master":
            response = master_response(landscape, drive, n_periods * period, n_samples)
        elif method == "fokker-planck":
            response = fokker_planck_response(
                landscape, drive, n_periods * period, n_samples, threshold,
                g_of_n if use_g_of_n else None,
            )
        else:
            response = langevin_response(
                landscape, drive, n_periods * period, n_samples, threshold,
                n_trajectories, seed, time_step, g_of_n if use_g_of_n else None,
            )
        last = slice(n_samples - steps_per_period, n_samples + 1)
        before = slice(n_samples - 2 * steps_per_period, n_samples - steps_per_period + 1)
        p_wet = response.p_wet[last]
        if use_g_of_n and response.mean_conductance is not None:
            g = response.mean_conductance[last]
        else:
            g = conductance.from_wet_probability(p_wet)
        v = response.drive[last]
        current = g * v
        half = steps_per_period // 2
        series["time"].append(response.time[last] - response.time[last][0])
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
        metrics["periodic_error"].append(
            float(np.max(np.abs(response.p_wet[last] - response.p_wet[before])))
            if n_periods > 1 else float("nan")
        )
    phase = np.linspace(0.0, 1.0, steps_per_period + 1)
    dims = ("frequency", "phase")
    ds = xr.Dataset(
        {name: (dims, np.vstack(values)) for name, values in series.items()}
        | {name: (("frequency",), np.asarray(values)) for name, values in metrics.items()},
        coords={"frequency": frequencies, "phase": phase},
    )
    annotations = {
        "frequency": ("Hz", "drive frequency"),
        "phase": ("1", "fraction of the last period"),
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
    }
    annotate(ds, annotations)
    ds.attrs.update(provenance_attrs(
        f"langevin.hysteresis (model={method})", inputs,
        {"amplitude_V": amplitude, "model": method, "n_periods": n_periods,
         "steps_per_period": steps_per_period, "g_dry_S": conductance.g_dry,
         "g_wet_S": conductance.g_wet, "conductance_form": conductance.form,
         "n_trajectories": n_trajectories if method == "langevin" else None,
         "seed": seed if method == "langevin" else None,
         "wet_threshold_molecules": threshold},
    ))
    ds.attrs["amplitude"] = float(amplitude)
    ds.attrs["temperature"] = float(model.temperature)
    return ds
