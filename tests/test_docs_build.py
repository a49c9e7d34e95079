"""The documentation site builds without warnings (the tutorials run in test_docs.py).

Its own file, so that pytest-xdist (one file per worker) builds the site on one worker
while the other runs the tutorials.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_docs_build_without_warnings(tmp_path):
    missing = [m for m in ("sphinx", "numpydoc", "sphinx_click", "myst_parser", "furo")
               if importlib.util.find_spec(m) is None]
    assert not missing, f"install the docs extra (pip install -e '.[docs]'); missing {missing}"
    result = subprocess.run(
        [
            sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
            "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html"),
        ],
        cwd=ROOT,
        check=False,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stderr[-6000:]}"
    html = tmp_path / "html"
    for page in ("index.html", "cli.html", "concepts/kinetics.html",
                 "tutorials/03_design.html", "api/index.html"):
        assert (html / page).is_file(), f"the build did not write {page}"
    cli = (html / "cli.html").read_text(encoding="utf-8")
    assert 'id="nanopore-rates"' in cli and 'id="interp-train"' in cli
