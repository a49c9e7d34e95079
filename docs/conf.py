"""Sphinx configuration of the nanopore toolkit documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import re

import interp.cli  # noqa: F401  (interp.cli_interventions imports only after it)
from nanopore._version import __version__

project = "nanopore-toolkit"
author = "the nanopore-toolkit developers"
copyright = "the nanopore-toolkit developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]

# figures drawn by the toolkit's own plotting functions when the docs are built
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "tutorials/data/**", "Thumbs.db", ".DS_Store"]

# MyST: $...$ and $$...$$ maths, ::: fences, anchors for headings
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: one page per package, a section per module, generated from the
# docstrings. (A page per module put 140 pages into the sidebar that the theme renders
# on every page: the build took twice as long.)
API_PACKAGES = ("nanopore", "md_setups", "analysis", "langevin", "interp")


def _api_modules(package: str) -> list[str]:
    """Public modules of ``package``, its subpackages' included, in import-path order."""
    import importlib
    import pkgutil

    path = importlib.import_module(package).__path__
    return sorted(info.name for info in pkgutil.walk_packages(path, package + ".")
                  if not any(part.startswith("_") for part in info.name.split(".")))


def _write_api_pages() -> None:
    """Write ``api/generated/PACKAGE.rst`` for every package (the folder is not committed)."""
    folder = Path(__file__).resolve().parent / "api" / "generated"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.rst"):
        if stale.stem not in API_PACKAGES:
            stale.unlink()
    for package in API_PACKAGES:
        title = f"``{package}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {package}", ""]
        for module in _api_modules(package):
            heading = f"``{module}``"
            lines += [heading, "-" * len(heading), "", f".. automodule:: {module}", ""]
        text = "\n".join(lines)
        page = folder / f"{package}.rst"
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")


_write_api_pages()
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# heavy or optional imports are real here (the docs extra installs the toolkit)
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = f"nanopore-toolkit {release}"
html_static_path: list[str] = []


# The toolkit's docstrings write absolute values and norms in plain text (``|dP/dt|``,
# ``|lobe 1| + |lobe 2|``), which reStructuredText would read as substitutions. Escape
# every bar outside inline literals and maths roles, on lines that are not tables.
_LITERAL = re.compile(r"(``.+?``|:\w+:`[^`]*`|`[^`]*`_?)")


def _escape_bars(line: str, chars: str = "|") -> str:
    stripped = line.lstrip()
    table_row = stripped.startswith(("|", "+")) and stripped.rstrip().endswith(("|", "+"))
    if not any(c in line for c in chars) or table_row:
        return line
    parts = _LITERAL.split(line)
    for c in chars:
        parts = [p if i % 2 else p.replace(c, "\\" + c) for i, p in enumerate(parts)]
    return "".join(parts)


def _plain_text_bars(app, what, name, obj, options, lines):
    lines[:] = [_escape_bars(line) for line in lines]


def _plain_text_help(app, ctx, lines):
    # click help is plain text: '*.h5' and '|dP/dt|' are not markup
    lines[:] = [_escape_bars(line, "|*") for line in lines]


def setup(app):
    # run before numpydoc (priority 500) so its parsed sections see the escaped text
    app.connect("autodoc-process-docstring", _plain_text_bars, priority=400)
    for part in ("description", "options", "arguments", "epilog"):
        app.connect(f"sphinx-click-process-{part}", _plain_text_help)
    return {"parallel_read_safe": True}
