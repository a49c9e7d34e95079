"""Kinetics commands: ``nanopore rates``, ``nanopore hysteresis``, ``nanopore cycle``."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import click
import numpy as np

from langevin.basins import BasinError
from nanopore.cli_types import VOLTAGE, parse_voltages
from nanopore.profile import ProfileError, load_profile, profile_arrays, select_voltage, write_dataset
from nanopore.safe_io import check_outputs


def _friendly_errors(func):
    """Turn expected input errors into one-line click errors (exit code 1)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ProfileError, BasinError, FileNotFoundError, ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _show_warnings(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = func(*args, **kwargs)
        for w in caught:
            if issubclass(w.category, (UserWarning, RuntimeWarning)):
                click.echo(f"warning: {w.message}", err=True)
        return result

    return wrapper


def parse_floats(text: str | None, name: str) -> np.ndarray | None:
    """Parse a comma-separated list of numbers for option ``name``."""
    if text is None:
        return None
    try:
        if name == "--voltages":  # V or mV, never a unit misread as volts
            values = np.array(parse_voltages(text))
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError as err:
        raise click.BadParameter(f"expected numbers separated by commas, got '{text}' ({err})",
                                 param_hint=name) from None
    if values.size == 0:
        raise click.BadParameter("expected at least one number", param_hint=name)
    return values


basin_options = [
    click.option("--dry", type=float, help="N of the dry minimum (molecules); default: found."),
    click.option("--wet", type=float, help="N of the wet minimum (molecules); default: found."),
    click.option("--barrier", type=float, help="N of the barrier top (molecules); default: found."),
]


def with_basin_options(func):
    for option in reversed(basin_options):
        func = option(func)
    return func


@click.command()
@click.argument("profile_path", metavar="PROFILE.nc", type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(["exact", "kramers", "fokker-planck", "langevin"]),
              default="exact", show_default=True, help="How mean first-passage times are computed.")
@click.option("--voltages", help="Comma-separated voltages (V) at which to evaluate the fitted "
              "voltage model, e.g. 0.1,0.2,0.35; default: the profile's own voltages.")
@with_basin_options
@click.option("--trajectories", type=click.IntRange(min=1), default=500, show_default=True,
              help="Langevin: trajectories per rate.")
@click.option("--seed", default=0, show_default=True, help="Langevin: random seed.")
@click.option("--time-step", type=float, help="Langevin: time step (ps); default: chosen from the profile.")
@click.option("--max-steps", type=float, default=2e9, show_default=True,
              help="Langevin: budget of trajectory-steps; a run that needs more stops and points "
              "to --method exact.")
@click.option("--max-time", type=float, help="Langevin: wall-clock limit (s).")
@click.option("--threads", type=click.IntRange(min=1), help="Langevin: threads (default: all cores).")
@click.option("--pressures", help="Comma-separated liquid pressures (MPa) at which to shift the "
              "profile, Omega(N; P) = Omega(N; P0) - (P - P0) v_l N: rates against pressure.")
@click.option("--voltage", type=VOLTAGE, help="With --pressures: profile voltage to use (V); "
              "default: the one closest to 0.")
@click.option("--reference-pressure", type=float, default=0.0, show_default=True,
              help="With --pressures: pressure P0 of the profile (MPa).")
@click.option("--symmetric/--asymmetric", default=None, help="With --voltages: impose a(N) = 0 "
              "or fit it (default: symmetric unless the profile or a test on the fit says otherwise).")
@click.option("--extrapolate", is_flag=True, help="Allow --voltages outside the fitted |V| range.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.95, show_default=True, help="Confidence of the rate intervals (profiles "
              "with free_energy_error or replicates).")
@click.option("--resamples", default=200, show_default=True,
              help="Resampled profiles for the intervals (without replicates).")
@click.option("--error-correlation", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Correlation length (molecules) of resampled free-energy errors.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Rates dataset to write (.nc).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Plot of rates vs voltage (.png/.pdf).")
@_friendly_errors
@_show_warnings
def rates(profile_path, method, voltages, dry, wet, barrier, trajectories, seed, time_step,
          max_steps, max_time, threads, pressures, voltage, reference_pressure, symmetric,
          extrapolate, confidence, resamples, error_correlation, output, plot):
    """Wetting and drying rates k_wet, k_dry (1/s) of the pore in PROFILE.nc.

    k_wet = 1/MFPT from the dry to the wet minimum (reflecting below), k_dry = 1/MFPT
    from the wet to the dry minimum (reflecting above). With a voltage dimension the
    rates are computed at every voltage. A basin counts only where its depth stands
    out beyond the profile's error. With free_energy_error or bootstrap replicates
    in the profile, k_wet_lower ... k_dry_upper give confidence intervals.
    """
    from langevin.plots import format_table
    from langevin.uncertainty import profile_rows, rates_for_profile

    if method == "langevin":
        from langevin.langevin import set_threads

        set_threads(threads)
    check_outputs({"-o": output, "--plot": plot}, [profile_path])
    ds = load_profile(profile_path)
    rows_in = profile_rows(ds, parse_floats(voltages, "--voltages"),
                           parse_floats(pressures, "--pressures"), voltage, reference_pressure,
                           symmetric, extrapolate)
    result = rates_for_profile(
        ds, rows_in, method=method, dry=dry, wet=wet, barrier=barrier, confidence=confidence,
        n_resamples=resamples, seed=seed, correlation_length=error_correlation,
        inputs=[str(profile_path)],
        **({"n_trajectories": trajectories, "time_step": time_step,
            "progress": True, "max_steps": max_steps, "max_wall_time": max_time}
           if method == "langevin" else {}),
    )
    key = rows_in.key_name
    v = np.atleast_1d(result[key].values) if key in result.dims else [float("nan")]
    bounds = "k_wet_lower" in result
    sampled = "k_wet_error" in result  # Langevin: standard errors
    rows = []
    for k in range(len(v)):
        pick = (lambda name, k=k: float(np.atleast_1d(result[name].values)[k]))
        row = [v[k], pick("k_wet")] + ([f"{pick('k_wet_lower'):.3g}..{pick('k_wet_upper'):.3g}"]
                                        if bounds else [])
        row += [pick("k_wet_error")] if sampled else []
        row += [pick("k_dry")] + ([f"{pick('k_dry_lower'):.3g}..{pick('k_dry_upper'):.3g}"]
                                  if bounds else [])
        row += [pick("k_dry_error")] if sampled else []
        row += [pick("barrier_wetting"), pick("barrier_drying")]
        if "barrier_wetting_error" in result:
            row += [pick("barrier_wetting_error"), pick("barrier_drying_error")]
        borrowed = "basins_borrowed" in result and pick("basins_borrowed") > 0
        rows.append(row + [pick("n_dry"), f"{pick('n_wet'):.4g}" + ("*" if borrowed else "")])
    level = f"{confidence:.0%}"
    header = (["P (MPa)" if key == "pressure" else "V (V)", "k_wet (1/s)"]
              + ([f"k_wet {level}"] if bounds else []) + (["+-k_wet"] if sampled else [])
              + ["k_dry (1/s)"] + ([f"k_dry {level}"] if bounds else [])
              + (["+-k_dry"] if sampled else []) + ["dG_wet (kT)", "dG_dry (kT)"]
              + (["+-dG_wet", "+-dG_dry"] if "barrier_wetting_error" in result else [])
              + ["N_dry", "N_wet"])
    click.echo(format_table(header, rows))
    if any(str(row[-1]).endswith("*") for row in rows):
        click.echo("* no wet and dry basins of its own (one state is unstable): the basins are "
                   "the nearest row's, and its k_wet, k_dry are not rates between two states")
    if sampled:
        steps = np.atleast_1d(result["time_step"].values)
        click.echo(f"Langevin: +- one standard error; time step {steps.min():.3g}"
                   + (f"..{steps.max():.3g}" if steps.max() > steps.min() else "") + " ps")
    if output:
        write_dataset(result, output)
        click.echo(f"wrote {output}")
    if plot:
        if key not in result.dims:
            raise click.ClickException("--plot needs rates at several voltages or pressures")
        from langevin.plots import plot_rates

        plot_rates(result, plot)
        click.echo(f"wrote {plot}")


@click.command()
@click.argument("profile_path", metavar="PROFILE.nc", type=click.Path(dir_okay=False))
@click.option("--amplitude", "-a", type=float, required=True, help="Drive amplitude V0 (V).")
@click.option("--frequency", "-f", "frequencies", type=float, multiple=True, required=True,
              help="Drive frequency (Hz); repeat for several.")
@click.option("--model", type=click.Choice(["master", "fokker-planck", "langevin"]),
              default="master", show_default=True, help="Kinetic model.")
@click.option("--g-wet", type=float, default=1.0, show_default=True, help="Wet-pore conductance (nS).")
@click.option("--g-dry", type=float, default=0.0, show_default=True, help="Dry-pore conductance (nS).")
@click.option("--conductance-from", type=click.Path(dir_okay=False), default=None,
              help="conductance.nc of `nanopore md conductance`: G_wet and G_dry measured in MD "
                   "(replaces --g-wet/--g-dry).")
@click.option("--conductance", "conductance_form", type=click.Choice(["two-level", "linear"]),
              default="two-level", show_default=True, help="G from P_wet, or G(N) linear in filling.")
@click.option("--waveform", type=click.Choice(["sine", "triangle"]), default="sine",
              show_default=True, help="Shape of V(t).")
@click.option("--periods", type=click.IntRange(min=1), default=2, show_default=True,
              help="Fewest periods simulated; more are run until the response is periodic.")
@click.option("--periodic-tolerance", type=float, default=1e-3, show_default=True,
              help="Largest accepted change of P_wet from one period to the next.")
@click.option("--max-periods", type=click.IntRange(min=1), default=400, show_default=True,
              help="Most periods simulated per frequency.")
@click.option("--static-limit", type=float, help="Highest frequency (Hz) at which the static "
              "profile is trusted; default: from water's dielectric relaxation and the pore's.")
@click.option("--steps", type=click.IntRange(min=1), default=400, show_default=True,
              help="Time steps per period.")
@click.option("--symmetric/--asymmetric", default=None,
              help="Impose a(N) = 0 in the voltage model (default: from the profile).")
@with_basin_options
@click.option("--trajectories", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Langevin: ensemble size.")
@click.option("--seed", default=0, show_default=True, help="Langevin: random seed.")
@click.option("--extrapolate", is_flag=True, help="Allow an amplitude outside the fitted |V| range.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.95, show_default=True, help="Confidence of the intervals of loop areas "
              "and switching voltages (profiles with free_energy_error or replicates).")
@click.option("--resamples", type=click.IntRange(min=0), default=100, show_default=True,
              help="Resampled profiles for the intervals (0: none; replicates count instead).")
@click.option("--error-correlation", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Correlation length (molecules) of resampled free-energy errors.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Loop dataset to write (.nc).")
@click.option("--plot", type=click.Path(dir_okay=False), help="I-V loops and loop area (.png/.pdf).")
@_friendly_errors
@_show_warnings
def hysteresis(profile_path, amplitude, frequencies, model, g_wet, g_dry, conductance_from,
               conductance_form, waveform, periods, periodic_tolerance, max_periods, static_limit,
               steps, symmetric, dry, wet, barrier, trajectories, seed, extrapolate, confidence,
               resamples, error_correlation, output, plot):
    """Memristor I-V loops under V(t) = V0 sin(2 pi f t) (or a triangle wave) for PROFILE.nc.

    The profile needs two or more voltages (the voltage model is fitted to them).
    Each loop is the periodic steady state. Prints the loop area, pinch, switching
    voltages, the period-to-period change reached and the periods it took per
    frequency; frequencies above the static-profile limit are marked with '!'.
    """
    from langevin.conductance import ConductanceModel
    from langevin.hysteresis import memristor_loops
    from langevin.plots import format_table
    from nanopore.voltage_model import VoltageModel

    if conductance_from is not None:
        from md_setups.current import read_conductance

        g_wet, g_dry = read_conductance(conductance_from)
    check_outputs({"-o": output, "--plot": plot}, [profile_path])
    ds = load_profile(profile_path)
    voltage_model = VoltageModel.fit(ds, symmetric=symmetric, extrapolate=extrapolate)
    shared = dict(amplitude=amplitude, frequencies=frequencies,
                  conductance=ConductanceModel(g_dry * 1e-9, g_wet * 1e-9, conductance_form),
                  n_periods=periods, steps_per_period=steps, dry=dry, wet=wet, barrier=barrier,
                  waveform=waveform, tolerance=periodic_tolerance, max_periods=max_periods,
                  static_limit=static_limit)
    loops = memristor_loops(
        voltage_model, method=model, n_trajectories=trajectories, seed=seed,
        progress=True, inputs=[str(profile_path)], **shared,
    )
    loops.attrs.update(voltage_model.summary_attrs())
    from langevin.uncertainty import has_uncertainty, loop_intervals

    if has_uncertainty(ds) and (resamples > 0 or "free_energy_replicates" in ds):
        loops = loop_intervals(ds, voltage_model, loops, method=model, confidence=confidence,
                               n_resamples=max(resamples, 10), seed=seed,
                               correlation_length=error_correlation, progress=True, **shared)
    rows = [[f"{f:.4g}" + ("!" if beyond else ""), a, p, vw, vd, e, int(n)]
            for f, a, p, vw, vd, e, n, beyond in zip(
                loops["frequency"].values, loops["loop_area"].values, loops["pinch"].values,
                loops["wetting_voltage"].values, loops["drying_voltage"].values,
                loops["periodic_error"].values, loops["periods"].values,
                loops["beyond_static_limit"].values)]
    click.echo(format_table(["f (Hz)", "loop area", "pinch", "V_wet (V)", "V_dry (V)",
                             "periodic err", "periods"], rows))
    from nanopore.electrodrying import add_crossing_voltages

    loops = add_crossing_voltages(loops)
    click.echo("V_cross (V), where the conductance branches of rising and falling V cross (0 for a "
               "mirror-symmetric pore), per frequency: " + ", ".join(
                   f"{v:+.3g}" if np.isfinite(v) else "none" for v in loops["crossing_voltage"].values))
    if "loop_area_lower" in loops:
        span = lambda name, k: (f"{float(loops[name + '_lower'][k]):.3g}.."  # noqa: E731
                                f"{float(loops[name + '_upper'][k]):.3g}")
        level = f"{confidence:.0%}"
        click.echo(format_table(
            ["f (Hz)", f"loop area {level}", f"V_wet {level} (V)", f"V_dry {level} (V)"],
            [[f"{f:.4g}", span("loop_area", k), span("wetting_voltage", k),
              span("drying_voltage", k)] for k, f in enumerate(loops["frequency"].values)]))
    if loops["beyond_static_limit"].any():
        click.echo(f"! above {loops.attrs['static_limit_frequency']:.3g} Hz "
                   f"({loops.attrs['static_limit_source']}) the static profile does not "
                   "describe the pore: those loops are not to be trusted")
    if output:
        write_dataset(loops, output)
        click.echo(f"wrote {output}")
    if plot:
        from langevin.plots import plot_loops

        plot_loops(loops, plot)
        click.echo(f"wrote {plot}")


@click.command()
@click.argument("profile_path", metavar="PROFILE.nc", type=click.Path(dir_okay=False))
@click.option("--pressure-low", type=float, default=0.0, show_default=True, help="Lowest pressure (MPa).")
@click.option("--pressure-high", type=float, required=True, help="Highest pressure (MPa).")
@click.option("--pressure-rate", "rates_", type=float, multiple=True, required=True,
              help="Ramp rate |dP/dt| (MPa/s); repeat for several.")
@click.option("--temperature", "temperatures", type=click.FloatRange(min=0, min_open=True),
              multiple=True,
              help="Temperature (K); repeat for several; default: the profile's.")
@click.option("--reference-pressure", type=float, default=0.0, show_default=True,
              help="Pressure at which the profile was computed (MPa).")
@click.option("--voltage", type=VOLTAGE, help="Profile voltage to use (V), if it has several.")
@click.option("--model", type=click.Choice(["master", "fokker-planck"]), default="master",
              show_default=True, help="Kinetic model.")
@click.option("--steps", type=click.IntRange(min=1), default=800, show_default=True,
              help="Time steps per cycle.")
@with_basin_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Cycle dataset to write (.nc).")
@click.option("--plot", type=click.Path(dir_okay=False), help="P-V cycles and switching pressures.")
@_friendly_errors
@_show_warnings
def cycle(profile_path, pressure_low, pressure_high, rates_, temperatures, reference_pressure,
          voltage, model, steps, dry, wet, barrier, output, plot):
    """Intrusion/extrusion cycles under triangular pressure ramps for PROFILE.nc.

    Omega(N; P) = Omega(N; P0) - (P - P0) v_l N. Prints intrusion and extrusion
    pressures (MPa) per temperature and ramp rate.
    """
    from langevin.intrusion import intrusion_cycles
    from langevin.plots import format_table

    check_outputs({"-o": output, "--plot": plot}, [profile_path])
    ds = load_profile(profile_path)
    if "voltage" in ds["free_energy"].dims and voltage is None:
        voltage = float(ds["voltage"].values[np.argmin(np.abs(ds["voltage"].values))])
    grid, free_energy, diffusion = profile_arrays(select_voltage(ds, voltage))
    cycles = intrusion_cycles(
        grid, free_energy, diffusion, float(ds.attrs["temperature"]), pressure_low, pressure_high,
        rates_, temperatures or None, method=model, steps_per_cycle=steps,
        reference_pressure=reference_pressure, progress=True, inputs=[str(profile_path)],
        dry=dry, wet=wet, barrier=barrier,
    )
    rows = []
    for i, t in enumerate(cycles["temperature"].values):
        for j, r in enumerate(cycles["ramp_rate"].values):
            rows.append([t, r, float(cycles["intrusion_pressure"][i, j]),
                         float(cycles["extrusion_pressure"][i, j])])
    click.echo(format_table(["T (K)", "rate (MPa/s)", "P_int (MPa)", "P_ext (MPa)"], rows))
    if output:
        write_dataset(cycles, output)
        click.echo(f"wrote {output}")
    if plot:
        from langevin.plots import plot_cycles

        plot_cycles(cycles, Path(plot))
        click.echo(f"wrote {plot}")
