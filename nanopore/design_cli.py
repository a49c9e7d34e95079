"""``nanopore design``: is a pore of given radius, length and contact angle a memristor?"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np


def _range(text: str, name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected two numbers LOW,HIGH, got '{text}'", param_hint=name) from None
    if not low < high:
        raise click.BadParameter(f"LOW must be below HIGH, got '{text}'", param_hint=name)
    return low, high


@click.command()
@click.option("--radius", "radius_nm", type=float, required=True, metavar="R_NM",
              help="Radius of the water-filled pore (nm).")
@click.option("--length", "length_nm", type=float, required=True, metavar="L_NM",
              help="Pore length (nm).")
@click.option("--contact-angle", type=float, required=True, metavar="DEGREES",
              help="Contact angle of water on the wall (degrees, 0-180; >90 hydrophobic).")
@click.option("--temperature", type=float, default=300.0, show_default=True, metavar="K",
              help="Temperature (K); sets the IAPWS surface tension and kT.")
@click.option("--pressure", type=float, default=0.0, show_default=True, metavar="MPA",
              help="Excess liquid pressure over the vapour (MPa).")
@click.option("--breakdown", type=float, default=0.5, show_default=True, metavar="V",
              help="Membrane breakdown voltage (V).")
@click.option("--frequency", type=float, default=1.0e3, show_default=True, metavar="HZ",
              help="Drive frequency (Hz).")
@click.option("--amplitude", type=float, metavar="V",
              help="Drive amplitude V0 (V); default: the breakdown voltage.")
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="Fraction of the applied voltage across the pore, in (0, 1].")
@click.option("--dipole", type=float, default=0.0, show_default=True, metavar="DEBYE",
              help="Axial dipole of the filled pore's water (debye); 0 for a symmetric pore.")
@click.option("--diffusion", type=float, default=1.0, show_default=True, metavar="D",
              help="Diffusion coefficient of the water count (molecules^2/ps); rates scale with it.")
@click.option("--conductivity", type=float, default=10.5, show_default=True, metavar="S_PER_M",
              help="Electrolyte conductivity (S/m) for the open-pore conductance (1 M KCl: 10.5).")
@click.option("--map", "map_path", type=click.Path(dir_okay=False),
              help="Write design maps over radius and contact angle to this image "
                   "(.png/.pdf/.svg) and their data next to it (.nc).")
@click.option("--map-radii", default="0.3,1.0", show_default=True, metavar="LOW,HIGH",
              help="Radius range of the maps (nm).")
@click.option("--map-angles", default="92,150", show_default=True, metavar="LOW,HIGH",
              help="Contact-angle range of the maps (degrees).")
@click.option("--map-points", default=25, show_default=True, type=click.IntRange(2, 200),
              help="Points per map axis.")
def design(radius_nm, length_nm, contact_angle, temperature, pressure, breakdown, frequency,
           amplitude, alpha, dipole, diffusion, conductivity, map_path, map_radii, map_angles,
           map_points) -> None:
    """Continuum design rules for a cylindrical hydrophobic pore.

    Prints the capillary and electrowetting numbers of the pore (intrusion pressure
    in MPa, critical voltage in V, barriers in kT, rates in 1/s, open-pore
    conductance in nS) and whether, driven at the given amplitude and frequency
    below the membrane's breakdown voltage, it behaves as a memristor (dry at 0 V,
    wets below breakdown, switches at rates comparable to the drive), and why not.
    """
    from langevin.plots import format_table
    from nanopore.continuum import ContinuumPore
    from nanopore.design import assess, design_map, plot_design_map
    from nanopore.profile import write_dataset

    radii_range = _range(map_radii, "--map-radii")
    angle_range = _range(map_angles, "--map-angles")
    try:
        pore = ContinuumPore(radius_nm, length_nm, contact_angle, temperature, alpha=alpha,
                             dipole_debye=dipole)
        report = assess(pore, breakdown, frequency, amplitude, pressure * 1e6,
                        diffusion_dry=diffusion, diffusion_wet=diffusion,
                        conductivity=conductivity)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_table(["quantity", "value", "unit"], report.rows()))
    for reason in report.reasons:
        click.echo(f"  not a memristor: {reason}")
    if map_path:
        try:
            maps = design_map(
                np.linspace(*radii_range, map_points), np.linspace(*angle_range, map_points),
                length_nm, temperature, breakdown, frequency, amplitude, pressure * 1e6,
                alpha=alpha, dipole_debye=dipole, diffusion_dry=diffusion, diffusion_wet=diffusion,
            )
        except ValueError as exc:
            raise click.ClickException(f"design map: {exc}") from None
        data_path = Path(map_path).with_suffix(".nc")
        write_dataset(maps, data_path)
        plot_design_map(maps, map_path)
        click.echo(f"wrote {map_path} and {data_path}")
