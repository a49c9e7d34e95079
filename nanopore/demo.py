"""``nanopore demo``: the whole kinetics stage on the bundled model profile."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np


@click.command()
@click.option("--out", "out_dir", default="nanopore_demo", show_default=True,
              type=click.Path(file_okay=False), help="Folder for datasets and figures.")
def demo(out_dir: str) -> None:
    """Rates, I-V loops and pressure cycles of the bundled model pore.

    The bundled profile is the analytic model of `nanopore profile example` (a
    pore that is dry at 0 V and wets above about 0.35 V), not simulation data.
    Writes netCDF datasets and PNG figures to --out.
    """
    from langevin.conductance import ConductanceModel
    from langevin.hysteresis import memristor_loops
    from langevin.intrusion import intrusion_cycles
    from langevin.plots import format_table, plot_cycles, plot_loops, plot_rates
    from langevin.rates import rates_dataset
    from nanopore.profile import profile_arrays, save_profile, select_voltage, write_dataset
    from nanopore.synthetic import model_pore_profile
    from nanopore.voltage_model import VoltageModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    profile = model_pore_profile()
    save_profile(profile, out / "profile.nc")
    click.echo(f"profile: bundled analytic model pore at {', '.join(f'{v:g}' for v in profile['voltage'].values)} V")
    model = VoltageModel.fit(profile)
    volts = np.linspace(0.0, 0.5, 26)
    rates = rates_dataset(model.n, model.free_energy(volts), model.diffusion_at(volts), volts,
                          temperature=model.temperature, inputs=["bundled model profile"])
    write_dataset(rates, out / "rates.nc")
    plot_rates(rates, out / "rates.png")
    rows = [[v, float(rates.k_wet[k]), float(rates.k_dry[k])] for k, v in enumerate(volts) if k % 5 == 0]
    click.echo(format_table(["V (V)", "k_wet (1/s)", "k_dry (1/s)"], rows))
    frequencies = np.logspace(3, 9, 13)
    loops = memristor_loops(model, 0.45, frequencies, method="fokker-planck",
                            conductance=ConductanceModel(0.0, 1e-9), n_periods=4, progress=True,
                            inputs=["bundled model profile"])
    write_dataset(loops, out / "loops.nc")
    plot_loops(loops.isel(frequency=slice(None, None, 2)), out / "loops.png")
    best = int(np.argmax(loops["loop_area"].values))
    click.echo(f"I-V loops at 0.45 V: largest normalised area {float(loops.loop_area[best]):.3f} "
               f"at {float(loops.frequency[best]):.3g} Hz")
    n, free_energy, diffusion = profile_arrays(select_voltage(profile, 0.0))
    cycles = intrusion_cycles(n, free_energy, diffusion, model.temperature, 0.0, 60.0,
                              [1.0, 1e3, 1e6], [280.0, 300.0, 340.0], progress=True,
                              inputs=["bundled model profile"])
    write_dataset(cycles, out / "cycles.nc")
    plot_cycles(cycles, out / "cycles.png")
    click.echo(f"intrusion pressure at 300 K: "
               + ", ".join(f"{float(p):.1f} MPa" for p in cycles.intrusion_pressure.sel(temperature=300.0).values)
               + " at 1, 1e3, 1e6 MPa/s")
    click.echo(f"results and figures in {out.resolve()}")
