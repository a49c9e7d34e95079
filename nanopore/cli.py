"""The ``nanopore`` command line.

Subcommands are grouped by stage and imported only when used, so ``nanopore --help``
stays fast and a stage's heavy dependencies load only for that stage.
"""

from __future__ import annotations

import errno
import importlib

import click

from nanopore._version import __version__

#: command name -> "module:attribute"
SUBCOMMANDS = {
    "profile": "nanopore.profile_cli:profile",
    "rates": "langevin.cli:rates",
    "hysteresis": "langevin.cli:hysteresis",
    "cycle": "langevin.cli:cycle",
    "pulses": "langevin.pulses_cli:pulses",
    "demo": "nanopore.demo:demo",
    "fes": "analysis.cli:fes",
    "cv": "analysis.cli:cv",
    "md": "md_setups.cli:md",
    "pipeline": "nanopore.pipeline_cli:pipeline",
    "design": "nanopore.design_cli:design",
    "compare": "nanopore.compare_cli:compare",
}


#: first paragraph of each subcommand's help, for ``nanopore --help`` without imports
#: (tests/test_cli.py checks them against the commands)
SHORT_HELP = {
    "profile": "Inspect, check and create profile datasets (netCDF4).",
    "rates": "Wetting and drying rates k_wet, k_dry (1/s) of the pore in PROFILE.nc.",
    "hysteresis": "Memristor I-V loops under V(t) = V0 sin(2 pi f t) (or a triangle wave) for "
                  "PROFILE.nc.",
    "cycle": "Intrusion/extrusion cycles under triangular pressure ramps for PROFILE.nc.",
    "pulses": "Conductance after each pulse of voltage pulse trains for the pore in PROFILE.nc.",
    "demo": "Run the pipeline on the bundled quick pore and write a report.",
    "fes": "Free-energy profile Omega(N) (kT) and diffusion D(N) (molecules^2/ps) from windows.",
    "cv": "Water count N(t) in the pore from a trajectory of any engine (MDAnalysis).",
    "md": "Model pore systems and restrained MD in OpenMM.",
    "pipeline": "MD windows, profiles, voltage model, rates, I-V loops, cycles and a report.",
    "design": "Continuum design rules for a cylindrical hydrophobic pore.",
    "compare": "Nonequilibrium MD cycles beside the model's cycles for the pore in PROFILE.nc.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    Its help lists the commands from :data:`SHORT_HELP` without importing them,
    and a failed file operation in any command (a read-only folder, a full disk)
    ends in one line and exit code 1 instead of a traceback.
    """

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, attribute = self.lazy_subcommands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in SHORT_HELP and name in self.lazy_subcommands:
                stand_in = click.Command(name, help=SHORT_HELP[name])  # not imported
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise
            from nanopore.safe_io import describe_os_error

            raise click.ClickException(describe_os_error(err, action=None)) from None


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nanopore")
def main() -> None:
    """Wetting, drying and memristive gating of hydrophobic nanopores.

    Profiles (free energy of pore filling in kT and diffusion in molecules^2/ps
    along the water count N, optionally per voltage) go in; rates (1/s), I-V
    hysteresis loops and intrusion/extrusion cycles come out, as netCDF datasets
    with units, and as plots. Start with `nanopore demo`.
    """
