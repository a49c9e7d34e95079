"""MD cycles beside the kinetic model's cycles on the same pore's profile.

The intrusion/extrusion paper validated its Langevin model against
nonequilibrium MD under pressure ramps; this module makes that comparison for a
pore of the toolkit:

* pressure: ``piston_cycle.nc`` of ``nanopore md piston`` (N(t) in several
  replicas under a triangular P(t)) against :func:`langevin.intrusion.intrusion_cycles`
  at the same ramp rate and pressure range (master equation and Fokker-Planck);
* voltage: ``drive_sine.nc`` files of ``nanopore md drive --sine`` against
  :func:`langevin.hysteresis.memristor_loops` at the same amplitude and frequency.

The switching point of an MD trajectory is where its water count, smoothed over
``smooth_ps``, first crosses the model's wet/dry threshold (the barrier top at
coexistence, the same threshold the model's P_wet uses) on the rising and on
the falling branch of the drive. MD numbers are means over replicas (or drive
periods) with their standard errors; trajectories that never cross are counted
and left out. The MD run is a single cycle from the build, the model's is the
periodic steady state: for a fast ramp the first MD cycle may differ by its
initial condition, which the figure shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from nanopore.profile import ProfileError, load_profile, profile_arrays, select_voltage
from nanopore.provenance import annotate, provenance_attrs


class CompareError(ValueError):
    """MD data and a profile that cannot be compared."""


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples (shrinking at the ends)."""
    values = np.asarray(values, dtype=float)
    if width <= 1:
        return values.copy()
    kernel = np.ones(width)
    total = np.convolve(values, kernel, mode="same")
    count = np.convolve(np.ones_like(values), kernel, mode="same")
    return total / count


def first_crossing(drive: np.ndarray, state: np.ndarray, level: float, rising: bool) -> float:
    """Drive value where ``state`` first crosses ``level`` upwards (or downwards); NaN if never.

    Parameters
    ----------
    drive, state : ndarray
        Samples along one branch of the drive.
    level : float
        Threshold of the state.
    rising : bool
        Upward crossing if True.

    Returns
    -------
    float
    """
    s = np.asarray(state, dtype=float) - level
    for k in range(s.size - 1):
        if (rising and s[k] < 0 <= s[k + 1]) or (not rising and s[k] > 0 >= s[k + 1]):
            w = s[k] / (s[k] - s[k + 1])
            return float((1 - w) * drive[k] + w * drive[k + 1])
    return float("nan")


def mean_and_error(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error and count of the finite values (NaN error for fewer than 2)."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    error = float(finite.std(ddof=1) / np.sqrt(finite.size)) if finite.size > 1 else float("nan")
    return float(finite.mean()), error, int(finite.size)


# --------------------------------------------------------------------- pressure
def md_switching_pressures(md: xr.Dataset, threshold: float, smooth_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """Intrusion and extrusion pressure (MPa) of each replica of a piston run.

    Parameters
    ----------
    md : xarray.Dataset
        ``piston_cycle.nc``: ``n`` and ``pressure`` along (``replica``, ``time``).
    threshold : float
        Wet/dry threshold of N (molecules).
    smooth_ps : float
        Width of the moving average of N (ps).

    Returns
    -------
    tuple of ndarray
        (intrusion, extrusion) per replica; NaN where N never crossed.
    """
    time = np.asarray(md["time"].values, dtype=float)
    dt = float(np.median(np.diff(time))) if time.size > 1 else 1.0
    width = max(1, int(round(smooth_ps / dt)))
    hold = float(md.attrs.get("hold_ps", 0.0))
    top = hold + (float(md.attrs["pressure_high"]) - float(md.attrs["pressure_low"])) / float(
        md.attrs["ramp_rate_MPa_per_ps"])
    rising = (time >= hold) & (time <= top)
    falling = time >= top
    intrusion, extrusion = [], []
    for r in range(md.sizes["replica"]):
        n = smooth(md["n"].values[r], width)
        p = md["pressure"].values[r]
        intrusion.append(first_crossing(p[rising], n[rising], threshold, True))
        extrusion.append(first_crossing(p[falling], n[falling], threshold, False))
    return np.array(intrusion), np.array(extrusion)


def compare_pressure(md: xr.Dataset, profile: xr.Dataset, reference_pressure: float = 0.0,
                     methods: Sequence[str] = ("master", "fokker-planck"), voltage: float | None = None,
                     smooth_ps: float = 1.0, inputs: list[str] | None = None,
                     **basins) -> xr.Dataset:
    """MD intrusion/extrusion pressures beside the model's at the same ramp.

    Parameters
    ----------
    md : xarray.Dataset
        ``piston_cycle.nc`` of ``nanopore md piston``.
    profile : xarray.Dataset
        The pore's profile (a voltage row is picked if it has several).
    reference_pressure : float
        Pressure at which the profile was computed, P0 (MPa).
    methods : sequence of str
        Kinetic models (``master``, ``fokker-planck``).
    voltage : float, optional
        Profile voltage (V); default the one nearest 0.
    smooth_ps : float
        Moving-average width of the MD water count (ps).
    inputs : list of str, optional
        Provenance.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        ``md_intrusion_pressure``, ``md_extrusion_pressure`` (per ``replica``);
        ``md_*_mean``, ``md_*_error``, ``md_*_count``; ``model_intrusion_pressure``,
        ``model_extrusion_pressure`` (per ``method``); the model's ``model_n`` over
        (``method``, ``phase``) with ``model_pressure``; the MD ``n`` and ``pressure``.
    """
    from langevin.intrusion import intrusion_cycles, pressure_landscape
    from nanopore.units import WATER_MOLECULAR_VOLUME_NM3

    for name in ("n", "pressure"):
        if name not in md:
            raise CompareError(f"the MD dataset has no '{name}': give a piston_cycle.nc of "
                               "`nanopore md piston`")
    low, high = float(md.attrs["pressure_low"]), float(md.attrs["pressure_high"])
    rate = float(md.attrs["ramp_rate_MPa_per_ps"]) * 1.0e12  # MPa/s
    if "voltage" in profile["free_energy"].dims:
        if voltage is None:
            voltage = float(profile["voltage"].values[np.argmin(np.abs(profile["voltage"].values))])
        profile = select_voltage(profile, voltage)
    n, free_energy, diffusion = profile_arrays(profile)
    temperature = float(profile.attrs["temperature"])
    landscape = pressure_landscape(n, free_energy, diffusion, temperature, temperature,
                                   reference_pressure, **basins)
    n_dry, threshold, n_wet = landscape.reference_basins((low, high)).positions(landscape.grid)
    intrusion, extrusion = md_switching_pressures(md, threshold, smooth_ps)
    model_int, model_ext, model_n, model_p = [], [], [], []
    for method in methods:
        cycles = intrusion_cycles(n, free_energy, diffusion, temperature, low, high, [rate],
                                  method=method, reference_pressure=reference_pressure, **basins)
        model_int.append(float(cycles["intrusion_pressure"].values.ravel()[0]))
        model_ext.append(float(cycles["extrusion_pressure"].values.ravel()[0]))
        if method == "master":
            mean_n = n_dry + (n_wet - n_dry) * cycles["p_wet"].values.reshape(-1, cycles.sizes["phase"])[0]
        else:
            mean_n = cycles["intruded_volume"].values.reshape(-1, cycles.sizes["phase"])[0] / \
                WATER_MOLECULAR_VOLUME_NM3
        model_n.append(mean_n)
        model_p.append(cycles["pressure"].values.reshape(-1, cycles.sizes["phase"])[0])
    stats = {}
    for name, values in (("intrusion", intrusion), ("extrusion", extrusion)):
        mean, error, count = mean_and_error(values)
        stats[f"md_{name}_pressure_mean"] = mean
        stats[f"md_{name}_pressure_error"] = error
        stats[f"md_{name}_pressure_count"] = count
    ds = xr.Dataset(
        {"md_intrusion_pressure": ("replica", intrusion),
         "md_extrusion_pressure": ("replica", extrusion),
         "model_intrusion_pressure": ("method", np.array(model_int)),
         "model_extrusion_pressure": ("method", np.array(model_ext)),
         "model_n": (("method", "phase"), np.array(model_n)),
         "model_pressure": (("method", "phase"), np.array(model_p)),
         "md_n": (("replica", "time"), md["n"].values),
         "md_pressure": (("replica", "time"), md["pressure"].values)}
        | {key: ((), value) for key, value in stats.items()},
        coords={"replica": md["replica"].values, "method": list(methods), "time": md["time"].values,
                "phase": np.linspace(0.0, 1.0, len(model_n[0]))},
    )
    annotate(ds, {name: ("MPa", name.replace("_", " ")) for name in ds.data_vars
                  if "pressure" in name and not name.endswith("count")})
    annotate(ds, {"model_n": ("molecules", "mean water count of the model over the cycle"),
                  "md_n": ("molecules", "MD water count"), "time": ("ps", "MD time")})
    ds.attrs.update(provenance_attrs("nanopore.compare (pressure)", inputs,
                                     {"reference_pressure_MPa": reference_pressure,
                                      "ramp_rate_MPa_per_s": rate, "smooth_ps": smooth_ps,
                                      "threshold_molecules": threshold, "n_dry": n_dry,
                                      "n_wet": n_wet, "profile_voltage_V": voltage}))
    ds.attrs["drive"] = "pressure"
    ds.attrs["threshold"] = float(threshold)
    ds.attrs["temperature"] = temperature
    return ds


# ---------------------------------------------------------------------- voltage
def _sine_protocol(md: xr.Dataset) -> dict[str, float]:
    try:
        protocol = json.loads(md.attrs["parameters"])["protocol"]
    except (KeyError, ValueError, TypeError):
        raise CompareError("the MD dataset does not record its drive; give a drive_sine.nc of "
                           "`nanopore md drive --sine`") from None
    if protocol.get("kind") != "sine":
        raise CompareError("comparison of voltage drives needs a sinusoidal drive "
                           "(`nanopore md drive --sine AMPLITUDE FREQUENCY`)")
    return protocol


def md_switching_voltages(runs: Sequence[xr.Dataset], threshold: float,
                          smooth_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """Wetting and drying voltage of every full period of every sinusoidal drive run.

    The wetting voltage is where the smoothed N rises through the threshold in
    the positive half-wave, the drying voltage where it next falls through it.

    Returns
    -------
    tuple of ndarray
        (wetting, drying) per period (V); NaN where N did not cross.
    """
    wetting, drying = [], []
    for md in runs:
        protocol = _sine_protocol(md)
        time = np.asarray(md["time"].values, dtype=float)
        dt = float(np.median(np.diff(time)))
        n = smooth(md["n"].values, max(1, int(round(smooth_ps / dt))))
        period = 1.0 / float(protocol["frequency"])
        # the exact drive at the sample times (the run holds V for field_stride steps)
        volts = float(protocol.get("offset", 0.0)) + float(protocol["amplitude"]) * np.sin(
            2.0 * np.pi * time / period)
        for k in range(int(time[-1] // period)):
            inside = (time >= k * period) & (time < (k + 1) * period)
            phase = (time[inside] - k * period) / period
            positive = phase <= 0.5
            up = first_crossing(volts[inside][positive], n[inside][positive], threshold, True)
            wetting.append(up)
            if np.isfinite(up):  # the next fall through the threshold in the same period
                index = np.flatnonzero(inside)
                start = int(np.argmax(n[index] >= threshold))
                drying.append(first_crossing(volts[index][start:], n[index][start:], threshold, False))
            else:
                drying.append(float("nan"))
    return np.array(wetting), np.array(drying)


def compare_voltage(runs: Sequence[xr.Dataset], profile: xr.Dataset,
                    methods: Sequence[str] = ("master", "fokker-planck"), smooth_ps: float = 1.0,
                    inputs: list[str] | None = None, **basins) -> xr.Dataset:
    """MD wetting/drying voltages beside the model's loops at the same sine drive.

    Parameters
    ----------
    runs : sequence of xarray.Dataset
        ``drive_sine.nc`` datasets (replicas) at one amplitude and frequency.
    profile : xarray.Dataset
        Profile with two or more voltages.
    methods : sequence of str
        Kinetic models of :func:`langevin.hysteresis.memristor_loops`.
    smooth_ps : float
        Moving-average width of the MD water count (ps).
    inputs : list of str, optional
        Provenance.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        ``md_wetting_voltage``, ``md_drying_voltage`` per ``period``, their means,
        errors and counts; ``model_wetting_voltage``, ``model_drying_voltage`` per
        ``method``.
    """
    from langevin.hysteresis import memristor_loops, voltage_landscape
    from nanopore.voltage_model import VoltageModel

    protocols = [_sine_protocol(md) for md in runs]
    amplitude, frequency = protocols[0]["amplitude"], protocols[0]["frequency"]
    if any(p["amplitude"] != amplitude or p["frequency"] != frequency for p in protocols):
        raise CompareError("the MD runs differ in amplitude or frequency; compare one drive at a time")
    model = VoltageModel.fit(profile)
    landscape = voltage_landscape(model, float(amplitude), **basins)
    n_dry, threshold, n_wet = landscape.reference_basins((0.0, float(amplitude))).positions(landscape.grid)
    wetting, drying = md_switching_voltages(runs, threshold, smooth_ps)
    model_wet, model_dry = [], []
    for method in methods:
        loops = memristor_loops(model, float(amplitude), [float(frequency) * 1.0e12], method=method,
                                **basins)
        model_wet.append(float(loops["wetting_voltage"].values[0]))
        model_dry.append(float(loops["drying_voltage"].values[0]))
    stats = {}
    for name, values in (("wetting", wetting), ("drying", drying)):
        mean, error, count = mean_and_error(values)
        stats[f"md_{name}_voltage_mean"] = mean
        stats[f"md_{name}_voltage_error"] = error
        stats[f"md_{name}_voltage_count"] = count
    ds = xr.Dataset(
        {"md_wetting_voltage": ("period", wetting), "md_drying_voltage": ("period", drying),
         "model_wetting_voltage": ("method", np.array(model_wet)),
         "model_drying_voltage": ("method", np.array(model_dry))}
        | {key: ((), value) for key, value in stats.items()},
        coords={"period": np.arange(wetting.size), "method": list(methods)},
    )
    annotate(ds, {name: ("V", name.replace("_", " ")) for name in ds.data_vars
                  if not name.endswith("count")})
    ds.attrs.update(provenance_attrs("nanopore.compare (voltage)", inputs,
                                     {"amplitude_V": amplitude, "frequency_per_ps": frequency,
                                      "smooth_ps": smooth_ps, "threshold_molecules": threshold,
                                      "n_dry": n_dry, "n_wet": n_wet}))
    ds.attrs["drive"] = "voltage"
    ds.attrs["threshold"] = float(threshold)
    return ds


# ------------------------------------------------------------------------ files
def compare_files(profile_path: str | os.PathLike, md_paths: Sequence[str | os.PathLike],
                  **options) -> xr.Dataset:
    """Compare MD cycle files with the model on a profile file (pressure or voltage, from the files).

    Parameters
    ----------
    profile_path : path-like
    md_paths : sequence of path-like
        One ``piston_cycle.nc``, or one or more ``drive_sine.nc``.
    **options
        Passed to :func:`compare_pressure` or :func:`compare_voltage`.

    Returns
    -------
    xarray.Dataset
    """
    profile = load_profile(profile_path)
    runs = []
    for path in md_paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} does not exist")
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            runs.append(ds.load())
    inputs = [str(profile_path)] + [str(p) for p in md_paths]
    if all(run.attrs.get("drive") == "pressure" for run in runs):
        if len(runs) != 1:
            raise CompareError("give one piston_cycle.nc (its replicas are compared together)")
        voltage_option = {k: v for k, v in options.items() if k != "reference_pressure"}
        return compare_pressure(runs[0], profile, options.get("reference_pressure", 0.0),
                                inputs=inputs, **voltage_option)
    if any(run.attrs.get("drive") == "pressure" for run in runs):
        raise CompareError("compare either one piston cycle or voltage drives, not both")
    if "voltage" not in profile["free_energy"].dims:
        raise ProfileError("comparing voltage drives needs a profile with two or more voltages")
    options = {k: v for k, v in options.items() if k not in ("reference_pressure", "voltage")}
    return compare_voltage(runs, profile, inputs=inputs, **options)


def comparison_table(result: xr.Dataset) -> tuple[list[str], list[list[object]]]:
    """Header and rows of the printed comparison (MD mean +- error and the model's values)."""
    quantity = (("intrusion", "extrusion", "pressure", "MPa") if result.attrs["drive"] == "pressure"
                else ("wetting", "drying", "voltage", "V"))
    first, second, kind, unit = quantity
    header = ["", f"{first} ({unit})", f"{second} ({unit})"]
    rows: list[list[object]] = []
    md = []
    for name in (first, second):
        mean = float(result[f"md_{name}_{kind}_mean"])
        error = float(result[f"md_{name}_{kind}_error"])
        count = int(result[f"md_{name}_{kind}_count"])
        md.append(f"{mean:.4g} +- {error:.2g} (n={count})")
    rows.append(["MD"] + md)
    for k, method in enumerate(result["method"].values):
        rows.append([str(method), float(result[f"model_{first}_{kind}"][k]),
                     float(result[f"model_{second}_{kind}"][k])])
    return header, rows


def plot_comparison(result: xr.Dataset, path: str | os.PathLike) -> Path:
    """Figure: MD trajectories and the model's cycle (pressure), and the switching values side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    pressure = result.attrs["drive"] == "pressure"
    first, second, kind, unit = (("intrusion", "extrusion", "pressure", "MPa") if pressure
                                 else ("wetting", "drying", "voltage", "V"))
    if pressure:
        time = result["time"].values
        dt = float(np.median(np.diff(time))) if time.size > 1 else 1.0
        for r in range(result.sizes["replica"]):
            left.plot(result["md_pressure"].values[r],
                      smooth(result["md_n"].values[r], max(1, int(round(1.0 / dt)))),
                      color="0.6", lw=0.8, label="MD replicas" if r == 0 else None)
        for k, method in enumerate(result["method"].values):
            left.plot(result["model_pressure"].values[k], result["model_n"].values[k], lw=2,
                      label=f"model ({method})")
        left.axhline(result.attrs["threshold"], color="k", ls=":", lw=0.8, label="threshold")
        left.set_xlabel("pressure (MPa)")
        left.set_ylabel("N (water molecules in the pore)")
        left.legend(fontsize=8)
    else:
        for name, marker in ((first, "^"), (second, "v")):
            values = result[f"md_{name}_{kind}"].values
            left.plot(np.arange(values.size), values, marker, label=f"MD {name}")
        left.set_xlabel("drive period")
        left.set_ylabel(f"switching {kind} ({unit})")
        left.legend(fontsize=8)
    labels = ["MD"] + [str(m) for m in result["method"].values]
    for offset, name in ((-0.1, first), (0.1, second)):
        values = [float(result[f"md_{name}_{kind}_mean"])] + list(result[f"model_{name}_{kind}"].values)
        errors = [float(result[f"md_{name}_{kind}_error"])] + [0.0] * result.sizes["method"]
        right.errorbar(np.arange(len(labels)) + offset, values, yerr=np.nan_to_num(errors), fmt="o",
                       capsize=3, label=name)
    right.set_xticks(np.arange(len(labels)), labels)
    right.set_ylabel(f"{kind} ({unit})")
    right.legend(fontsize=8)
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
