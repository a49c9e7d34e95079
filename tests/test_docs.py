"""The documentation: every tutorial runs as written (the site build: test_docs_build.py).

A tutorial's runnable steps are its fenced ``bash`` blocks, run in order in one empty
folder, and its fenced ``python`` blocks whose first line is ``# file: NAME``, saved
under NAME when they are reached. Other fences (``shell``, ``console``, ``text``, ...)
are shown to the reader and not run here. Where a tutorial would run for minutes
(MD), SHRINK replaces its run lengths with tiny ones; each replaced text must occur
in the tutorial, so a tutorial that changes cannot silently escape the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = DOCS / "tutorials"

# tutorial file -> [(text in a runnable block, what the test runs instead)]
_TINY_SETUP = """cat > tiny.toml <<'TOML'
[pore]
radius = 0.5
length = 0.9
[wall]
epsilon = 0.3
[box]
lateral = 1.9
reservoir = 0.8
[solvent]
full_pore_equilibration = 0.0
[simulation]
nonbonded = "pme"
cutoff = 0.8
platform = "CPU"
threads = 1
[windows]
targets = [1.0, 3.0, 5.0]
spring_constant = 4.0
[run]
voltages = [0.0, 1.0]
equilibration = 0.02
production = 0.1
cv_stride = 5
checkpoint_interval = 0.02
seed = 5
TOML
"""
SHRINK: dict[str, list[tuple[str, str]]] = {
    # the quick setup's MD takes minutes: a pore that runs in seconds, MD stage only
    # (picosecond windows give no profile with two basins; the later stages run on data/)
    "01_quickstart.md": [
        ("nanopore pipeline quick --out run_quick --no-progress",
         _TINY_SETUP + "nanopore pipeline tiny.toml --out run_quick --stage md --no-progress"),
    ],
    # the production setup at its real scale: only scripts are written, nothing runs
    "04_slurm.md": [],
}

# tutorial file -> files its steps must have written (relative to its folder)
PRODUCES: dict[str, list[str]] = {
    "01_quickstart.md": [
        "run_quick/manifest.json",
        "run_quick/md/voltage_+0.000V/window_00.h5",
        "run_quick/md/voltage_+1.000V/window_02.h5",
        "reference_run/report.html",
        "rates.nc",
        "loops.png",
        "cycles.png",
    ],
    "02_external_windows.md": [
        "metadata.txt",
        "profile.nc",
        "fes.png",
        "profile_ui.nc",
        "profile_colvar.nc",
        "rates.nc",
        "rates.png",
        "loops.nc",
        "loops.png",
        "loops_fp.nc",
    ],
    "04_slurm.md": [
        "prod_run/slurm/windows.sbatch",
        "prod_run/slurm/gather.sbatch",
        "prod_run/slurm/submit.sh",
    ],
    "06_prepared_pores.md": [
        "pore.top",
        "pore.psf",
        "prepared_run/build/build.json",
    ],
    "07_currents_and_driven_md.md": [
        "tiny_run/conductance.nc",
        "tiny_run/piston_cycle.nc",
        "compare.nc",
        "compare.png",
    ],
    "08_electrodrying.md": [
        "dipolar.nc",
        "rates.nc",
        "loops.nc",
        "loops.png",
        "loops_symmetric.nc",
    ],
    "05_interp.md": [
        "corpus.txt",
        "mlp3.npy",
        "coders/seed0/mlp3/sae.safetensors",
        "coders/seed1/mlp3/cfg.json",
        "scores.nc",
    ],
    "03_design.md": [
        "design_map.png",
        "design_map.nc",
        "design.nc",
        "design_rates.nc",
        "design_rates.png",
        "design_loops.nc",
        "design_loops.png",
        "design_cycles.nc",
        "design_cycles.png",
    ],
}

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^\s`]*)\s*$")


@dataclass(frozen=True)
class Step:
    """One runnable block of a tutorial: a shell step or a file to save."""

    kind: str  # "bash" or "file"
    code: str
    name: str = ""
    line: int = 0


def tutorial_steps(path: Path) -> list[Step]:
    """The runnable blocks of a Markdown tutorial, in order."""
    steps: list[Step] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.groups()
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        body = lines[start:j]
        if info == "bash":
            steps.append(Step("bash", "\n".join(body) + "\n", line=start))
        elif info == "python" and body and body[0].startswith("# file:"):
            name = body[0].split(":", 1)[1].strip()
            steps.append(Step("file", "\n".join(body) + "\n", name=name, line=start))
        i = j + 1
    return steps


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("NUMBA_NUM_THREADS", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_tutorial(path: Path, folder: Path) -> list[Step]:
    """Run every step of ``path`` in ``folder`` with SHRINK applied; fail on the first error."""
    text = path.read_text(encoding="utf-8")
    replacements = SHRINK.get(path.name, [])
    for old, _ in replacements:
        assert old in text, f"{path.name}: the test shrinks {old!r}, which the tutorial lost"
    steps = tutorial_steps(path)
    env = _environment()
    for step in steps:
        code = step.code
        for old, new in replacements:
            code = code.replace(old, new)
        if step.kind == "file":
            (folder / step.name).write_text(code, encoding="utf-8")
            continue
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=folder,
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (
            f"{path.name}, block at line {step.line} exited {result.returncode}:\n{code}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return steps


def test_steps_are_extracted(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```bash\necho one > a.txt\n```\n```shell\nrm -rf /\n```\n"
        "```python\n# file: b.py\nprint(2)\n```\n```python\nprint('not saved')\n```\n"
        "````bash\ncat a.txt\n````\n",
        encoding="utf-8",
    )
    steps = tutorial_steps(page)
    assert [s.kind for s in steps] == ["bash", "file", "bash"]
    assert steps[0].code == "echo one > a.txt\n" and steps[1].name == "b.py"
    assert steps[2].code == "cat a.txt\n"


@pytest.mark.parametrize("name", sorted(PRODUCES))
def test_tutorial_runs(name, tmp_path):
    steps = run_tutorial(TUTORIALS / name, tmp_path)
    assert any(s.kind == "bash" for s in steps), f"{name} has no runnable steps"
    for produced in PRODUCES[name]:
        path = tmp_path / produced
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {produced}"
        if produced.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{produced} is not a PNG"


def test_every_tutorial_is_tested():
    pages = {p.name for p in TUTORIALS.glob("[0-9]*.md")}
    assert pages, "no tutorials found"
    assert pages == set(PRODUCES), f"tutorials without a test: {sorted(pages - set(PRODUCES))}"
