"""The ``nanopore`` command line.

Subcommands are grouped by stage and imported only when used, so ``nanopore --help``
stays fast and a stage's heavy dependencies load only for that stage.
"""

from __future__ import annotations

import importlib

import click

from nanopore._version import __version__

#: command name -> "module:attribute"
SUBCOMMANDS = {
    "profile": "nanopore.profile_cli:profile",
    "rates": "langevin.cli:rates",
    "hysteresis": "langevin.cli:hysteresis",
    "cycle": "langevin.cli:cycle",
    "demo": "nanopore.demo:demo",
    "fes": "analysis.cli:fes",
    "cv": "analysis.cli:cv",
    "md": "md_setups.cli:md",
    "pipeline": "nanopore.pipeline_cli:pipeline",
    "design": "nanopore.design_cli:design",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

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
