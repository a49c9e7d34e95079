"""``nanopore compare``: MD cycles beside the kinetic model's on the same profile."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("profile_path", metavar="PROFILE.nc", type=click.Path(dir_okay=False))
@click.argument("md_paths", metavar="MD.nc...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@click.option("--method", "methods", multiple=True, type=click.Choice(["master", "fokker-planck"]),
              help="Kinetic model; repeat for several [default: both].")
@click.option("--reference-pressure", type=float, default=0.0, show_default=True,
              help="Pressure at which the profile was computed (MPa); pressure cycles only.")
@click.option("--voltage", type=float, default=None,
              help="Profile voltage for pressure cycles (V) [default: the one nearest 0].")
@click.option("--smooth", "smooth_ps", type=float, default=1.0, show_default=True,
              help="Moving-average width of the MD water count (ps).")
@click.option("--dry", type=float, help="N of the dry minimum (molecules); default: found.")
@click.option("--wet", type=float, help="N of the wet minimum (molecules); default: found.")
@click.option("--barrier", type=float, help="N of the barrier top (molecules); default: found.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Comparison dataset (.nc).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Figure (.png/.pdf).")
def compare(profile_path: str, md_paths: tuple[str, ...], methods: tuple[str, ...],
            reference_pressure: float, voltage: float | None, smooth_ps: float, dry: float | None,
            wet: float | None, barrier: float | None, output: str | None, plot: str | None) -> None:
    """Nonequilibrium MD cycles beside the model's cycles for the pore in PROFILE.nc.

    MD.nc is one piston_cycle.nc of `nanopore md piston` (intrusion and extrusion
    pressures, MD replicas against the master equation and Fokker-Planck at the
    same ramp rate), or one or more drive_sine.nc of `nanopore md drive --sine`
    (wetting and drying voltages against the I-V loop models at the same drive).
    Prints MD means +- standard errors beside the model's values.
    """
    from langevin.plots import format_table
    from nanopore.compare import CompareError, comparison_table, compare_files, plot_comparison
    from nanopore.profile import ProfileError, write_dataset

    if smooth_ps < 0:
        raise click.BadParameter("must not be negative (ps)", param_hint="--smooth")
    basins = {k: v for k, v in (("dry", dry), ("wet", wet), ("barrier", barrier)) if v is not None}
    try:
        result = compare_files(profile_path, md_paths, methods=methods or ("master", "fokker-planck"),
                               reference_pressure=reference_pressure, voltage=voltage,
                               smooth_ps=smooth_ps, **basins)
    except (CompareError, ProfileError, FileNotFoundError, ValueError, KeyError) as err:
        raise click.ClickException(str(err).strip("'\"")) from None
    header, rows = comparison_table(result)
    click.echo(format_table(header, rows))
    if output:
        write_dataset(result, output)
        click.echo(f"wrote {output}")
    if plot:
        plot_comparison(result, Path(plot))
        click.echo(f"wrote {plot}")
