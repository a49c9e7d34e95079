"""``nanopore fes``: metadata files, window directories, several voltages, plots and errors."""

from functools import partial

import numpy as np
import xarray as xr
from click.testing import CliRunner

from analysis.synthetic import synthetic_windows
from nanopore.cli import main
from nanopore.profile import load_profile
from nanopore.synthetic import quartic_double_well
from nanopore.windows import WindowFile

PROFILE = partial(quartic_double_well, dry=2.0, wet=8.0, barrier_height=4.0, tilt=1.0)
CENTERS = np.arange(0.0, 10.01, 0.5)


def write_metadata(tmp_path, voltages=(0.0, 0.3), samples=300):
    lines = []
    for k, volts in enumerate(voltages):
        profile = (lambda n, v=volts: PROFILE(n) - 2.0 * v * n)
        for j, window in enumerate(synthetic_windows(profile, CENTERS, 5.0, samples, seed=10 + k)):
            name = f"v{k}_w{j:02d}.dat"
            np.savetxt(tmp_path / name, np.column_stack([window.time, window.n]))
            lines.append(f"{name} {window.center} {window.spring_constant:.6f} 300 {volts}")
    path = tmp_path / "metadata.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_help_lists_the_commands():
    runner = CliRunner()
    text = runner.invoke(main, ["--help"]).output
    assert "fes" in text and "cv" in text
    text = runner.invoke(main, ["fes", "--help"]).output
    assert "kJ/mol/molecule^2" in text and "--method" in text
    assert "--pore" in runner.invoke(main, ["cv", "--help"]).output


def test_fes_from_metadata_at_two_voltages_with_plot(tmp_path):
    meta = write_metadata(tmp_path)
    out, png = tmp_path / "profile.nc", tmp_path / "fes.png"
    result = CliRunner().invoke(main, ["fes", str(meta), "-o", str(out), "--plot", str(png),
                                       "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "N_eff" in result.output and "wrote" in result.output
    profile = load_profile(out)
    assert profile["free_energy"].dims == ("voltage", "n")
    np.testing.assert_allclose(profile["voltage"].values, [0.0, 0.3])
    assert profile["free_energy_error"].attrs["units"] == "kT"
    assert profile.attrs["method"] == "wham"
    n = profile["n"].values
    for k, volts in enumerate([0.0, 0.3]):
        f = profile["free_energy"].values[k]
        gauge = int(np.argmin(np.abs(f)))
        true = PROFILE(n) - 2.0 * volts * n
        true -= true[gauge]
        inner = (n > 1) & (n < 9)
        error = profile["free_energy_error"].values[k][inner]
        assert np.all(np.abs(f[inner] - true[inner]) < 4.5 * error + 0.05)
    assert png.stat().st_size > 10_000


def test_fes_from_window_directory_with_ui(tmp_path):
    for j, window in enumerate(synthetic_windows(PROFILE, CENTERS, 5.0, 200, seed=4)):
        meta = {"center": window.center, "spring_constant": window.spring_constant,
                "voltage": 0.0, "temperature": 300.0}
        with WindowFile(tmp_path / "windows" / f"w{j:02d}.h5", meta) as wf:
            wf.append(window.time, window.n)
            wf.mark_complete()
    out = tmp_path / "p.nc"
    result = CliRunner().invoke(main, ["fes", str(tmp_path / "windows"), "-o", str(out),
                                       "--method", "ui", "--bootstrap", "10", "--bin-width", "0.25"])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["free_energy"].dims == ("n",)
        assert np.allclose(np.diff(ds["n"].values), 0.25)
        assert ds.attrs["producer"].startswith("analysis.fes (method=ui")
        assert "dry minimum" in ds.attrs["gauge"]
        n, f, error = ds["n"].values, ds["free_energy"].values, ds["free_energy_error"].values
    # The values: the known profile, in the same gauge, within the bootstrap error.
    gauge = int(np.argmin(np.abs(f)))
    assert abs(n[gauge] - 2.0) < 0.5  # the dry minimum of PROFILE
    true = PROFILE(n) - PROFILE(n[gauge])
    inner = (n > 1) & (n < 9)
    assert error[gauge] == 0 and np.all(error[inner & (n != n[gauge])] > 0)
    assert np.all(np.abs(f[inner] - true[inner]) < 4.5 * error[inner] + 0.1)
    assert abs(np.ptp(f[inner]) - np.ptp(true[inner])) < 1.0  # barrier and tilt recovered


def test_fes_bad_inputs_fail_with_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["fes", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "p.nc")])
    assert result.exit_code == 1 and "does not exist" in result.output
    meta = write_metadata(tmp_path, voltages=(0.0,), samples=50)
    text = meta.read_text().replace(" 300 0.0", "")
    meta.write_text(text)
    result = runner.invoke(main, ["fes", str(meta), "-o", str(tmp_path / "p.nc")])
    assert result.exit_code == 1 and "--temperature" in result.output
    assert "Traceback" not in result.output


def test_few_samples_and_poor_overlap_are_reported_by_name(tmp_path):
    meta = write_metadata(tmp_path, voltages=(0.0,), samples=60)
    result = CliRunner().invoke(main, ["fes", str(meta), "-o", str(tmp_path / "p.nc"),
                                       "--bootstrap", "5", "--min-effective", "100",
                                       "--min-overlap", "0.2"])
    assert result.exit_code == 0, result.output
    assert "fewer than 100 effective samples" in result.output
    assert "v0_w00.dat" in result.output
    assert "poorly overlapping neighbours" in result.output
