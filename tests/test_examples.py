"""The example analysis scripts in examples/ run on result datasets and write their figures.

The datasets come from the toolkit's own commands on the analytic model profile, on
small grids, once per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nanopore
from nanopore.cli import main as nanopore_main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def _nanopore(*args: object) -> None:
    result = CliRunner().invoke(nanopore_main, [str(a) for a in args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    """Profile, rates, loops and cycle datasets of the model pore."""
    folder = tmp_path_factory.mktemp("results")
    out = {name: folder / f"{name}.nc" for name in
           ("profile", "exact", "kramers", "master", "fp", "cycles", "profile_err")}
    _nanopore("profile", "example", "-o", out["profile"])
    voltages = "0,0.1,0.2,0.3,0.4,0.5"
    _nanopore("rates", out["profile"], "--voltages", voltages, "-o", out["exact"])
    _nanopore("rates", out["profile"], "--voltages", voltages, "--method", "kramers",
              "-o", out["kramers"])
    drive = ["--amplitude", "0.45", "-f", "1e3", "-f", "1e5", "-f", "1e7", "--steps", "120",
             "--periods", "3"]
    _nanopore("hysteresis", out["profile"], *drive, "-o", out["master"])
    _nanopore("hysteresis", out["profile"], *drive, "--model", "fokker-planck", "-o", out["fp"])
    _nanopore("cycle", out["profile"], "--voltage", "0", "--pressure-high", "60",
              "--pressure-rate", "1", "--pressure-rate", "1e6", "--temperature", "280",
              "--temperature", "340", "--steps", "200", "-o", out["cycles"])
    # a profile with a bootstrap-like error, as nanopore fes writes
    profile = nanopore.load_profile(out["profile"])
    error = 0.1 + 0.02 * profile["n"].values
    nanopore.save_profile(
        nanopore.make_profile(
            profile["n"].values,
            profile["free_energy"].values,
            profile["diffusion"].values,
            float(profile.attrs["temperature"]),
            voltage=profile["voltage"].values,
            free_energy_error=np.broadcast_to(error, profile["free_energy"].shape).copy(),
            producer="test",
        ),
        out["profile_err"],
    )
    for path in out.values():
        assert path.is_file()
    return out


def _run_example(script: str, *args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _assert_figures(*paths: Path) -> None:
    for path in paths:
        assert path.is_file() and path.stat().st_size > 5000, f"{path.name} missing or empty"
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG
        if path.suffix == ".pdf":
            assert path.read_bytes()[:5] == b"%PDF-"


CASES = {
    "iv_loops": lambda r: ("iv_loops.py", r["master"], r["fp"]),
    "iv_loops_subset": lambda r: ("iv_loops.py", r["master"], "--frequencies", "1e3,1e5"),
    "loop_area": lambda r: ("loop_area.py", r["master"], r["fp"], "--rates", r["exact"]),
    "rates": lambda r: ("rates_vs_voltage.py", r["exact"], r["kramers"]),
    "profiles": lambda r: ("profiles_vs_voltage.py", r["profile_err"], "--predict", "0.35"),
    "profiles_plain": lambda r: ("profiles_vs_voltage.py", r["profile"], "--no-diffusion"),
    "cycles": lambda r: ("pv_cycles.py", r["cycles"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_example_writes_png_and_pdf(case, results, tmp_path):
    script, *args = CASES[case](results)
    png, pdf = tmp_path / f"{case}.png", tmp_path / "sub" / f"{case}.pdf"
    done = _run_example(script, *args, "-o", png, "-o", pdf, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"wrote {png}" in done.stdout
    _assert_figures(png, pdf)


def test_quicklook_uses_the_toolkit_plots(results, tmp_path):
    done = _run_example("quicklook.py", results["master"], results["exact"], results["cycles"],
                        "--out", tmp_path / "figs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_figures(*(tmp_path / "figs" / f"{n}.png" for n in ("master", "exact", "cycles")))


def test_examples_refuse_the_wrong_dataset(results, tmp_path):
    done = _run_example("pv_cycles.py", results["exact"], "-o", tmp_path / "x.png", cwd=tmp_path)
    assert done.returncode != 0
    assert "missing" in done.stderr and not (tmp_path / "x.png").exists()
    done = _run_example("profiles_vs_voltage.py", results["exact"], "-o", tmp_path / "y.png",
                        cwd=tmp_path)
    assert done.returncode != 0 and not (tmp_path / "y.png").exists()


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    tested = {CASES[c](dict.fromkeys(("master", "fp", "exact", "kramers", "profile",
                                      "profile_err", "cycles"), "x"))[0] for c in CASES}
    assert scripts == tested | {"quicklook.py", "reference_checks.py"}  # the last two: own tests


def test_reference_checks_finds_mirror_agreement_and_held_out_errors(tmp_path):
    """+-V profiles of a symmetric synthetic pore agree; a V^2 pore's middle voltage is predicted."""
    import subprocess
    import sys

    from nanopore.profile import make_profile, save_profile

    n = np.linspace(0.0, 10.0, 41)
    volts = np.array([-1.0, 0.0, 0.5, 1.0])
    free_energy = np.array([0.2 * n * (10.0 - n) - 0.5 * v ** 2 * n for v in volts])
    profile = make_profile(n, free_energy, np.ones_like(free_energy), 300.0, voltage=volts)
    profile["free_energy_error"] = profile["free_energy"] * 0.0 + 0.5
    save_profile(profile, tmp_path / "p.nc")
    script = Path(__file__).resolve().parents[1] / "examples" / "reference_checks.py"
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "p.nc")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "+-1 V: rms z = 0.00, max |z| = 0.00, 100 % of points within 2 sigma" in result.stdout
    assert "held out 0.5 V: predicted within 0.00 kT rms" in result.stdout
