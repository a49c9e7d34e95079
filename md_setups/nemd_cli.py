"""``nanopore md conductance`` and ``nanopore md piston``: currents and pressure cycles in MD."""

from __future__ import annotations

from pathlib import Path

import click


def _errors():
    from md_setups.cli import _user_errors

    return _user_errors()


@click.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--voltage", "-V", "voltages", type=float, multiple=True, required=True,
              help="Applied voltage (V); repeat for several (G is the slope through the origin).")
@click.option("--duration", type=float, required=True, help="Sampling per state and voltage (ps).")
@click.option("--equilibration", type=float, default=2.0, show_default=True,
              help="Pulling and equilibration before sampling (ps).")
@click.option("--wet", type=float, default=None,
              help="Restraint target of the wet state (molecules) [default: the last window's].")
@click.option("--dry", type=float, default=None,
              help="Restraint target of the dry state (molecules) [default: the first window's].")
@click.option("--kappa", type=float, default=None,
              help="Restraint spring constant (kJ/mol/molecule^2) [default: the windows'].")
@click.option("--blocks", type=click.IntRange(min=2), default=5, show_default=True,
              help="Blocks of the error estimate.")
@click.option("--seed", type=int, default=None, help="Seed [default: from the setup].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def conductance(setup_file: str, voltages: tuple[float, ...], duration: float, equilibration: float,
                wet: float | None, dry: float | None, kappa: float | None, blocks: int,
                seed: int | None, out: Path | None, progress: bool) -> None:
    """Ionic current of the pore held wet and dry: G_wet and G_dry (nS) -> OUT/conductance.nc.

    Three estimators per run (charge displacement from velocities and from
    displacements, and ion crossings of the pore), with block errors.
    `nanopore hysteresis --conductance-from OUT/conductance.nc` and the pipeline
    (OUT/md/conductance.nc) use the result.
    """
    from md_setups.cli import _load, _out
    from md_setups.current import measure_conductance

    with _errors():
        setup = _load(setup_file)
        directory = _out(setup, out)
        path = measure_conductance(setup, directory, voltages, duration, equilibration, wet=wet,
                                   dry=dry, spring_constant=kappa, n_blocks=blocks, seed=seed,
                                   progress=progress)
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        for state in ds["state"].values:
            row = ds.sel(state=state)
            click.echo(f"{state}: N = {float(row['n_mean'].mean()):.2f}, G = "
                       f"{float(row['conductance']):.3g} +- {float(row['conductance_error']):.2g} nS")
            for v in ds["voltage"].values:
                cell = row.sel(voltage=v)
                click.echo(f"  V = {v:+.3f} V: I = {float(cell['current_displacement']):.3g} +- "
                           f"{float(cell['current_displacement_error']):.2g} nA (displacement), "
                           f"{float(cell['current_velocity']):.3g} +- "
                           f"{float(cell['current_velocity_error']):.2g} (velocity), "
                           f"{float(cell['current_crossings']):.3g} +- "
                           f"{float(cell['current_crossings_error']):.2g} (crossings: "
                           f"{int(cell['crossings_cation'])} cation, {int(cell['crossings_anion'])} anion)")
    click.echo(f"wrote {path}")


@click.command()
@click.argument("setup_file", metavar="SETUP")
@click.option("--pressures", nargs=2, type=float, required=True, metavar="LOW HIGH",
              help="Pressure range of the triangular ramp (MPa).")
@click.option("--rate", type=float, required=True, help="Ramp rate |dP/dt| (MPa/ps).")
@click.option("--hold", type=float, default=2.0, show_default=True,
              help="Time at the low pressure before the ramp (ps).")
@click.option("--replicas", type=click.IntRange(min=1), default=3, show_default=True,
              help="Independent runs (seeds SEED, SEED+1, ...).")
@click.option("--gap", type=float, default=1.5, show_default=True,
              help="Vacuum added behind the plates (nm).")
@click.option("--relaxation", type=float, default=2.0, show_default=True,
              help="Piston relaxation time (ps).")
@click.option("--seed", type=int, default=None, help="First seed [default: from the setup].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: ./nanopore_run_<setup>].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def piston(setup_file: str, pressures: tuple[float, float], rate: float, hold: float, replicas: int,
           gap: float, relaxation: float, seed: int | None, out: Path | None, progress: bool) -> None:
    """Unrestrained MD under a piston pressure ramp, LOW -> HIGH -> LOW: N(t) cycles.

    Writes OUT/piston_cycle.nc; `nanopore compare PROFILE.nc OUT/piston_cycle.nc`
    sets its intrusion and extrusion pressures beside the kinetic model's.
    """
    from md_setups.cli import _load, _out
    from md_setups.piston import PressureRamp, run_piston

    with _errors():
        setup = _load(setup_file)
        ramp = PressureRamp(pressures[0], pressures[1], rate, hold)
        path = run_piston(setup, _out(setup, out), ramp, replicas=replicas, gap=gap,
                          relaxation=relaxation, seed=seed, progress=progress)
    click.echo(f"wrote {path}")
