"""``nanopore pulses``: conductance of the pore under trains of voltage pulses."""

from __future__ import annotations

import click
import numpy as np

from langevin.cli import _friendly_errors, _show_warnings, with_basin_options
from nanopore.profile import load_profile, write_dataset


@click.command()
@click.argument("profile_path", metavar="PROFILE.nc", type=click.Path(dir_okay=False))
@click.option("--amplitude", "-a", type=float, required=True, help="Pulse voltage (V).")
@click.option("--width", "-w", type=click.FloatRange(min=0, min_open=True), required=True,
              help="Pulse width (s).")
@click.option("--interval", "-i", "intervals", type=click.FloatRange(min=0), multiple=True,
              required=True, help="Rest at 0 V between pulses (s); repeat for several trains.")
@click.option("--count", "-n", type=click.IntRange(min=1), default=10, show_default=True,
              help="Pulses per train.")
@click.option("--g-wet", type=float, default=1.0, show_default=True, help="Wet-pore conductance (nS).")
@click.option("--g-dry", type=float, default=0.0, show_default=True, help="Dry-pore conductance (nS).")
@click.option("--symmetric/--asymmetric", default=None,
              help="Impose a(N) = 0 in the voltage model or fit it (default: from the evidence).")
@click.option("--extrapolate", is_flag=True, help="Allow an amplitude outside the fitted |V| range.")
@with_basin_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Pulse dataset to write (.nc).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Figure of the trains (.png/.pdf).")
@_friendly_errors
@_show_warnings
def pulses(profile_path, amplitude, width, intervals, count, g_wet, g_dry, symmetric, extrapolate,
           dry, wet, barrier, output, plot):
    """Conductance after each pulse of voltage pulse trains for the pore in PROFILE.nc.

    Pulses of AMPLITUDE (V) and WIDTH (s) follow each other after rests of INTERVAL
    (s) at 0 V; the two-state master equation with exact rates gives P_wet, and
    G = G_dry + (G_wet - G_dry) P_wet. Rests shorter than the drying time let the
    conductance grow from pulse to pulse (learning); longer ones let it relax
    (forgetting). The profile needs two or more voltages.
    """
    from langevin.conductance import ConductanceModel
    from langevin.plots import format_table
    from langevin.pulses import plot_pulses, pulse_response
    from nanopore.voltage_model import VoltageModel

    ds = load_profile(profile_path)
    model = VoltageModel.fit(ds, symmetric=symmetric, extrapolate=extrapolate)
    result = pulse_response(model, amplitude, width, intervals, count,
                            ConductanceModel(g_dry * 1e-9, g_wet * 1e-9),
                            inputs=[str(profile_path)], dry=dry, wet=wet, barrier=barrier)
    click.echo(f"drying time at 0 V: {result.attrs['drying_time']:.3g} s; relaxation time at 0 V: "
               f"{result.attrs['relaxation_time']:.3g} s, during pulses: "
               f"{result.attrs['pulse_relaxation_time']:.3g} s")
    g = result["conductance"].values
    rows = [[t, g[k, 0], g[k, -1], g[k, -1] / g[k, 0] if g[k, 0] > 0 else float("nan")]
            for k, t in enumerate(result["interval"].values)]
    click.echo(format_table(["interval (s)", "G pulse 1 (nS)", f"G pulse {count} (nS)",
                             "ratio"], rows))
    if output:
        write_dataset(result, output)
        click.echo(f"wrote {output}")
    if plot:
        plot_pulses(result, plot)
        click.echo(f"wrote {plot}")
    if not np.all(np.isfinite(g)):
        raise click.ClickException("the conductance is not finite; check the profile and rates")
