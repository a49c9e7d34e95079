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
