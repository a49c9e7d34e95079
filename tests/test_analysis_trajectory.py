"""The MDAnalysis pore-water analysis equals the NumPy CV; ``nanopore cv`` writes windows."""

import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from click.testing import CliRunner
from MDAnalysis.coordinates.memory import MemoryReader

from analysis.readers import load_windows
from analysis.trajectory import PoreWater
from nanopore.cli import main
from nanopore.cv import PoreCV

BOX_NM = np.array([3.0, 3.0, 4.0])
CV = PoreCV(radius=0.6, z_lo=1.2, z_hi=2.8, smoothing=0.02, center_x=1.5, center_y=1.5)


def water_universe(frames=6, n_atoms=400, seed=0):
    """Oxygens (plus one non-water atom) at random positions in Angstrom, in memory."""
    rng = np.random.default_rng(seed)
    positions = (rng.random((frames, n_atoms, 3)) * BOX_NM * 10.0).astype(np.float32)
    universe = mda.Universe.empty(n_atoms, n_residues=n_atoms, atom_resindex=np.arange(n_atoms),
                                  trajectory=True)
    universe.add_TopologyAttr("name", ["OW"] * (n_atoms - 1) + ["C1"])
    universe.add_TopologyAttr("resname", ["SOL"] * (n_atoms - 1) + ["WAL"])
    universe.load_new(positions, format=MemoryReader, dt=0.5,
                      dimensions=np.array([*(BOX_NM * 10.0), 90.0, 90.0, 90.0]))
    return universe, positions


def test_mdanalysis_cv_equals_numpy_cv():
    universe, positions = water_universe()
    result = PoreWater(universe.select_atoms("name OW"), CV).run()
    expected = CV.count(positions[:, :-1].astype(float) / 10.0, BOX_NM)
    np.testing.assert_allclose(result.results.n, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(result.results.time, 0.5 * np.arange(6))
    assert 5 < expected.mean() < 40  # the pore region really holds some oxygens


def test_parallel_backend_gives_the_same_results():
    universe, _ = water_universe(frames=4)
    serial = PoreWater(universe.select_atoms("name OW"), CV).run()
    parallel = PoreWater(universe.select_atoms("name OW"), CV).run(backend="multiprocessing",
                                                                  n_workers=2)
    np.testing.assert_allclose(parallel.results.n, serial.results.n)
    np.testing.assert_allclose(parallel.results.density, serial.results.density)


def test_density_occupancy_and_radius_of_placed_oxygens():
    # two oxygens: one on the axis at the pore centre, one 0.3 nm off axis in the top slice
    universe = mda.Universe.empty(2, n_residues=2, atom_resindex=[0, 1], trajectory=True)
    universe.add_TopologyAttr("name", ["OW", "OW"])
    frames = np.array([[[15.0, 15.0, 20.0], [18.0, 15.0, 27.5]],
                       [[15.0, 15.0, 20.0], [15.0, 15.0, 5.0]]], dtype=np.float32)
    universe.load_new(frames, format=MemoryReader, dimensions=np.array([30, 30, 40, 90, 90, 90.0]))
    result = PoreWater(universe.atoms, CV, n_slices=4, margin=0.0).run().results
    np.testing.assert_allclose(result.z, [-0.6, -0.2, 0.2, 0.6])
    np.testing.assert_allclose(result.occupancy, [0.0, 0.0, 1.0, 0.5])
    np.testing.assert_allclose(result.accessible_radius[2:], [0.0, 0.3], atol=1e-6)
    volume = np.pi * (CV.radius + 0.2) ** 2 * 0.4
    np.testing.assert_allclose(result.density, np.array([0, 0, 1.0, 0.5]) / volume, rtol=1e-6)


def test_no_box_is_a_clear_error():
    universe = mda.Universe.empty(3, n_residues=3, atom_resindex=[0, 1, 2], trajectory=True)
    universe.add_TopologyAttr("name", ["OW"] * 3)
    with pytest.raises(ValueError, match="no box"):
        PoreWater(universe.atoms, CV).run()


@pytest.fixture
def pdb_dcd(tmp_path):
    universe, positions = water_universe(frames=5, n_atoms=120, seed=3)
    pdb, dcd = tmp_path / "top.pdb", tmp_path / "traj.dcd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        universe.atoms.write(str(pdb))
        with mda.Writer(str(dcd), universe.atoms.n_atoms) as writer:
            for _ in universe.trajectory:
                writer.write(universe.atoms)
    return pdb, dcd, positions


def test_cv_command_writes_a_window_file(pdb_dcd, tmp_path):
    pdb, dcd, positions = pdb_dcd
    out = tmp_path / "cv.h5"
    result = CliRunner().invoke(main, [
        "cv", str(pdb), str(dcd), "--pore", "0.6,1.2,2.8,0.02,1.5,1.5", "-o", str(out),
        "--center", "4", "--spring-constant", "12", "--temperature", "300", "--voltage", "0.1",
        "--structure", str(tmp_path / "z.nc")])
    assert result.exit_code == 0, result.output
    window = load_windows(out)[0]
    assert (window.center, window.spring_constant, window.voltage) == (4.0, 12.0, 0.1)
    expected = CV.count(positions[:, :-1].astype(float) / 10.0, BOX_NM)
    np.testing.assert_allclose(window.n, expected, atol=1e-4)  # DCD stores float32
    assert window.metadata["cv"]["radius"] == 0.6
    assert (tmp_path / "z.nc").stat().st_size > 0


def test_cv_command_plain_series_and_errors(pdb_dcd, tmp_path):
    pdb, dcd, _ = pdb_dcd
    runner = CliRunner()
    out = tmp_path / "cv.dat"
    result = runner.invoke(main, ["cv", str(pdb), str(dcd), "--pore", "0.6,1.2,2.8,0.02,1.5,1.5",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert np.loadtxt(out).shape == (5, 2)
    result = runner.invoke(main, ["cv", str(pdb), str(dcd), "--pore", "0.6,1.2,2.8",
                                  "-o", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "--spring-constant" in result.output
    result = runner.invoke(main, ["cv", str(pdb), str(dcd), "--pore", "0.6,1.2,2.8",
                                  "--center", "3", "-o", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "--temperature" in result.output
    result = runner.invoke(main, ["cv", str(pdb), str(dcd), "--pore", "0.6,2.8,1.2", "-o", str(out)])
    assert result.exit_code != 0 and "empty" in result.output
