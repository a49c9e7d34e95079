"""Reading windows from window files, WHAM metadata files and PLUMED COLVAR files; bad inputs."""

import h5py
import numpy as np
import pytest

from analysis.readers import (
    group_by_voltage,
    harmonic_restraint_from_bias,
    load_windows,
    read_colvar,
    read_metadata,
)
from nanopore.windows import WindowError, WindowFile


def write_series(path, n, dt=0.1):
    np.savetxt(path, np.column_stack([dt * np.arange(len(n)), n]), header="time(ps) N")
    return path


@pytest.fixture
def metadata(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "series").mkdir()
    lines = ["# path center spring_constant temperature voltage"]
    for k, center in enumerate([1.0, 2.0, 3.0]):
        write_series(tmp_path / "series" / f"w{k}.dat", center + 0.3 * rng.normal(size=50))
        extra = "  300  0.25" if k == 2 else ("  300" if k == 1 else "")
        lines.append(f"series/w{k}.dat  {center}  12.5{extra}   # window {k}")
    path = tmp_path / "meta.txt"
    path.write_text("\n".join(lines) + "\n\n")
    return path


def test_metadata_file_with_relative_paths_comments_and_columns(metadata):
    windows = read_metadata(metadata, temperature=300.0, voltage=0.1)
    assert [w.center for w in windows] == [1.0, 2.0, 3.0]
    assert all(w.spring_constant == 12.5 and w.temperature == 300.0 for w in windows)
    assert [w.voltage for w in windows] == [0.1, 0.1, 0.25]  # column beats --voltage
    assert windows[0].n.size == 50 and windows[0].time[1] == pytest.approx(0.1)
    groups = group_by_voltage(windows)
    assert list(groups) == [0.1, 0.25] and len(groups[0.1]) == 2


def test_metadata_without_temperature_names_the_line(metadata):
    with pytest.raises(WindowError, match=r"meta.txt:2: no temperature \(K\).*--temperature"):
        read_metadata(metadata)


def test_metadata_missing_series_file(metadata, tmp_path):
    (tmp_path / "series" / "w1.dat").unlink()
    with pytest.raises(WindowError, match=r"w1.dat does not exist.*relative to the metadata file"):
        read_metadata(metadata, temperature=300)


def test_metadata_line_without_spring_constant(tmp_path):
    write_series(tmp_path / "a.dat", [1.0, 1.1, 0.9])
    (tmp_path / "meta").write_text("a.dat 1.0\n")
    with pytest.raises(WindowError, match="spring_constant.*kJ/mol/molecule\\^2"):
        read_metadata(tmp_path / "meta", temperature=300)


def test_empty_series_and_nan_samples(tmp_path):
    (tmp_path / "empty.dat").write_text("# nothing yet\n")
    (tmp_path / "meta").write_text("empty.dat 1.0 10 300\n")
    with pytest.raises(WindowError, match="holds no samples"):
        read_metadata(tmp_path / "meta")
    (tmp_path / "nan.dat").write_text("0.0 1.0\n0.1 nan\n0.2 1.1\n")
    (tmp_path / "meta").write_text("nan.dat 1.0 10 300\n")
    with pytest.raises(WindowError, match="1 samples of N are NaN"):
        read_metadata(tmp_path / "meta")


def test_duplicate_centres_are_refused_by_name(metadata):
    text = metadata.read_text() + "series/w0.dat 1.0 12.5 300 0.1\n"
    metadata.write_text(text)
    windows = read_metadata(metadata, temperature=300.0, voltage=0.1)
    with pytest.raises(WindowError, match=r"duplicate centre N_k = 1.*w0.dat.*w0.dat"):
        group_by_voltage(windows)


def test_mixed_temperatures_are_refused(metadata):
    windows = read_metadata(metadata, temperature=310.0)
    with pytest.raises(WindowError, match="different temperatures"):
        group_by_voltage(windows)


def test_window_files_in_a_directory(tmp_path):
    for k, center in enumerate([0.0, 1.5]):
        with WindowFile(tmp_path / "run" / f"w{k}.h5", {"center": center, "spring_constant": 10.0,
                                                      "voltage": 0.3, "temperature": 298.0}) as wf:
            wf.append(np.arange(5) * 0.2, center + np.linspace(-0.1, 0.1, 5))
    windows = load_windows(tmp_path / "run")
    assert [w.center for w in windows] == [0.0, 1.5]
    assert all(w.voltage == 0.3 and w.temperature == 298.0 for w in windows)


def test_window_file_without_units_attributes(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as handle:
        handle["time"] = np.arange(3.0)
        handle["n"] = np.ones(3)
        handle.attrs["center"] = 1.0
        handle.attrs["voltage"] = 0.0
        handle.attrs["temperature"] = 300.0
    with pytest.raises(WindowError, match=r"lacks.*spring_constant.*kJ/mol/molecule\^2"):
        load_windows(path)


def test_missing_input_and_empty_directory(tmp_path):
    with pytest.raises(WindowError, match="does not exist"):
        load_windows(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WindowError, match=r"no window files \(\*.h5\)"):
        load_windows(tmp_path / "empty")


def colvar_text(n, center=2.5, kappa=20.0, extra=True):
    rows = ["#! FIELDS time N d1 restraint.bias", "#! SET min_d1 -pi"]
    for t, value in enumerate(n):
        rows.append(f"{0.5 * t:.3f} {value:.6f} 0.1 {0.5 * kappa * (value - center) ** 2:.8f}")
    return "\n".join(rows) + "\n"


def test_colvar_named_column_and_bias_recovery(tmp_path):
    n = 2.5 + 0.4 * np.random.default_rng(1).normal(size=40)
    path = tmp_path / "COLVAR"
    path.write_text(colvar_text(n))
    fields, data = read_colvar(path)
    assert fields == ["time", "N", "d1", "restraint.bias"] and data.shape == (40, 4)
    with pytest.raises(WindowError, match="say which holds N"):
        load_windows(path, temperature=300)
    window = load_windows(path, temperature=300, column="N", voltage=0.2)[0]
    assert window.center == pytest.approx(2.5, abs=1e-5)
    assert window.spring_constant == pytest.approx(20.0, rel=1e-5)
    assert window.voltage == 0.2 and window.time[1] == 0.5
    with pytest.raises(WindowError, match="no temperature"):
        load_windows(path, column="N")
    with pytest.raises(WindowError, match="no column 'Q'.*'N'"):
        load_windows(path, temperature=300, column="Q")


def test_colvar_listed_in_metadata(tmp_path):
    n = 1.0 + 0.2 * np.random.default_rng(2).normal(size=30)
    (tmp_path / "COLVAR.0").write_text(colvar_text(n, center=1.0))
    (tmp_path / "meta").write_text("COLVAR.0 1.0 20.0 300\n")
    window = load_windows(tmp_path / "meta", column="N")[0]
    np.testing.assert_allclose(window.n, np.round(n, 6))


def test_bias_that_is_not_harmonic_is_refused():
    n = np.linspace(0, 3, 20)
    with pytest.raises(WindowError, match="not a harmonic restraint"):
        harmonic_restraint_from_bias(n, np.abs(n - 1.5) ** 3, "x")
