"""``nanopore profile``: inspect, check and create profile datasets."""

from __future__ import annotations

import click
import numpy as np

from nanopore.profile import ProfileError, load_profile, save_profile


@click.group()
def profile() -> None:
    """Inspect, check and create profile datasets (netCDF4)."""


@profile.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Validate PATH against the profile contract and summarise it."""
    try:
        ds = load_profile(path)
    except (ProfileError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    n = ds["n"].values
    click.echo(f"{path}: valid profile")
    click.echo(f"  n: {n.size} points from {n[0]:g} to {n[-1]:g} molecules")
    if "voltage" in ds["free_energy"].dims:
        click.echo(f"  voltages (V): {', '.join(f'{v:g}' for v in ds['voltage'].values)}")
    click.echo(f"  temperature: {float(ds.attrs['temperature']):g} K")
    click.echo(f"  free energy: {float(np.min(ds['free_energy'])):.3g} .. "
               f"{float(np.max(ds['free_energy'])):.3g} kT")
    click.echo(f"  diffusion: {float(np.min(ds['diffusion'])):.3g} .. "
               f"{float(np.max(ds['diffusion'])):.3g} molecules^2/ps")
    if "free_energy_replicates" in ds:
        click.echo(f"  uncertainty: {ds.sizes['replicate']} bootstrap replicate profiles")
    elif "free_energy_error" in ds:
        click.echo(f"  uncertainty: free_energy_error up to "
                   f"{float(np.max(ds['free_energy_error'])):.3g} kT")
    from langevin.landscape import INTERPOLANT, INTERPOLANT_DESCRIPTION

    click.echo(f"  kinetics interpolant: {INTERPOLANT} ({INTERPOLANT_DESCRIPTION})")
    click.echo(f"  producer: {ds.attrs.get('producer', 'unknown')}")


@profile.command("example")
@click.option("-o", "--output", default="model_profile.nc", show_default=True,
              type=click.Path(dir_okay=False), help="Profile file to write.")
@click.option("--voltages", default="0,0.25,0.5", show_default=True,
              help="Comma-separated voltages (V).")
def example(output: str, voltages: str) -> None:
    """Write the analytic model profile (a dry pore that wets under voltage)."""
    from nanopore.synthetic import model_pore_profile

    try:
        volts = tuple(float(v) for v in voltages.split(","))
    except ValueError:
        raise click.ClickException(f"--voltages must be numbers separated by commas, got '{voltages}'") from None
    save_profile(model_pore_profile(voltages=volts), output)
    click.echo(f"wrote {output}")


@profile.command("model")
@click.option("--radius", "radius_nm", type=float, required=True, metavar="R_NM",
              help="Radius of the water-filled pore (nm).")
@click.option("--length", "length_nm", type=float, required=True, metavar="L_NM", help="Pore length (nm).")
@click.option("--contact-angle", type=float, required=True, metavar="DEGREES",
              help="Contact angle of water on the wall (degrees, 0-180).")
@click.option("--temperature", type=float, default=300.0, show_default=True, help="Temperature (K).")
@click.option("--pressure", type=float, default=0.0, show_default=True,
              help="Excess liquid pressure over the vapour (MPa).")
@click.option("--voltages", default="0,0.5,1", show_default=True,
              help="Comma-separated voltages (V); one voltage gives a profile without a voltage dimension.")
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="Fraction of the applied voltage across the pore, in (0, 1].")
@click.option("--dipole", type=float, default=0.0, show_default=True,
              help="Axial dipole of the filled pore's water (debye); 0 for a symmetric pore.")
@click.option("--mouth-menisci", is_flag=True, help="Count the liquid-vapour discs at the dry pore's mouths.")
@click.option("--diffusion", type=float, default=1.0, show_default=True,
              help="Diffusion coefficient of N (molecules^2/ps).")
@click.option("--points", default=201, show_default=True, help="Grid points from N = 0 to the filled pore.")
@click.option("-o", "--output", default="continuum_profile.nc", show_default=True,
              type=click.Path(dir_okay=False), help="Profile file to write.")
def model(radius_nm, length_nm, contact_angle, temperature, pressure, voltages, alpha, dipole,
          mouth_menisci, diffusion, points, output) -> None:
    """Write the sharp-interface continuum profile of a cylindrical pore (see nanopore.continuum)."""
    from nanopore.continuum import ContinuumPore, continuum_profile

    try:
        volts = [float(v) for v in voltages.split(",")]
    except ValueError:
        raise click.ClickException(
            f"--voltages must be numbers separated by commas, got '{voltages}'") from None
    try:
        pore = ContinuumPore(radius_nm, length_nm, contact_angle, temperature, alpha=alpha,
                             dipole_debye=dipole, mouth_menisci=mouth_menisci)
        ds = continuum_profile(pore, volts, pressure * 1e6, points, diffusion, diffusion)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    save_profile(ds, output)
    click.echo(f"wrote {output}: {ds.sizes['n']} points up to N = {float(ds['n'][-1]):.4g}, "
               f"filled pore N_wet = {pore.n_wet:.4g}, "
               f"critical voltage {pore.critical_voltage(pressure * 1e6):.3g} V")
