"""Contact angle of the wall: the circle fit on synthetic maps, the droplet geometry, MD trend."""

from __future__ import annotations

import copy
import json
import shlex

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner

from analysis.contact_angle import (
    ContactAngleError,
    angle_from_circle,
    block_error,
    block_trend,
    fit_circle,
    fit_contact_angle,
    synthetic_droplet,
)
from md_setups.builder import wall_sites
from md_setups.setup import validate_setup

openmm = pytest.importorskip("openmm")

from md_setups.contact_angle import (
    DropletSettings,
    build_droplet,
    design_command,
    droplet_box,
    lattice_constants,
    run_contact_angle,
    slab_sites,
)
from nanopore.cli import main

X = np.arange(-6.0, 6.0, 0.05) + 0.025
Z = np.arange(0.0, 5.0, 0.05) + 0.025

#: a small wall and water system: cut-off electrostatics, a thin wall, a narrow box
SMALL = {
    "pore": {"radius": 0.5, "length": 0.9},
    "wall": {"epsilon": 0.3},
    "box": {"lateral": 1.9, "reservoir": 0.8},
    "simulation": {"nonbonded": "cutoff", "cutoff": 0.8, "platform": "CPU", "threads": 1},
    "windows": {"targets": [2.0]},
    "run": {"seed": 11},
}


def small_setup(**changes: dict):
    raw = copy.deepcopy(SMALL)
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    return validate_setup(raw, source="small")


# ----------------------------------------------------------------------------- the fit
@pytest.mark.parametrize("theta, radius", [(40.0, 4.5), (65.0, 3.0), (90.0, 2.0),
                                           (120.0, 1.5), (150.0, 1.5)])
def test_fit_recovers_the_angle_of_a_synthetic_droplet(theta, radius):
    # tanh interface around a circle: its half-density contour is the circle exactly;
    # the layering next to the wall distorts the contour there and must be excluded
    density = synthetic_droplet(theta, radius, X, Z, z_base=0.5, layering=0.4)
    for level in (16.5, None):  # the exact half density, and the one measured from the map
        fit = fit_contact_angle(density, X, Z, z_base=0.5, z_min=1.0, level=level)
        assert fit.theta == pytest.approx(theta, abs=0.05)
        assert fit.radius == pytest.approx(radius, rel=1e-3)
        assert fit.base_radius == pytest.approx(radius * np.sin(np.radians(theta)), rel=2e-3)
    assert fit.liquid_density == pytest.approx(33.0, rel=0.01)


def test_the_first_layer_must_be_excluded():
    # the same map fitted with the layered first layer included gives another angle
    # (a dense first layer spreading 0.5 nm beyond the contact line)
    density = synthetic_droplet(120.0, 1.5, X, Z, z_base=0.5, layering=0.4, foot=0.5)
    good = fit_contact_angle(density, X, Z, z_base=0.5, z_min=0.8)
    bad = fit_contact_angle(density, X, Z, z_base=0.5, z_min=0.5)
    assert good.theta == pytest.approx(120.0, abs=0.05)
    assert abs(bad.theta - 120.0) > 2.0


def test_circle_geometry():
    angles = np.linspace(0.3, 2.8, 40)
    points = np.column_stack([1.0 + 2.0 * np.cos(angles), -0.5 + 2.0 * np.sin(angles)])
    cx, cz, radius, rms = fit_circle(points)
    assert (cx, cz, radius) == pytest.approx((1.0, -0.5, 2.0), abs=1e-9)
    assert rms < 1e-9
    assert angle_from_circle(0.0, 1.0, 0.0) == pytest.approx(90.0)
    assert angle_from_circle(0.5, 1.0, 0.0) == pytest.approx(120.0)  # centre above: hydrophobic
    assert angle_from_circle(-0.5, 1.0, 0.0) == pytest.approx(60.0)
    with pytest.raises(ContactAngleError, match="does not touch the wall"):
        angle_from_circle(2.0, 1.0, 0.0)
    assert angle_from_circle(2.0, 1.0, 0.0, allow_detached=True) == 180.0
    with pytest.raises(ContactAngleError, match="below"):  # liquid inside the wall
        angle_from_circle(-2.0, 1.0, 0.0, allow_detached=True)
    assert block_error(np.array([1.0, 3.0])) == pytest.approx(1.0)


def test_block_trend_flags_a_relaxing_run():
    change, p_value = block_trend(np.array([1.0, 2.0, 3.0, 4.0]))
    assert change == pytest.approx(3.0) and p_value < 1e-6
    change, p_value = block_trend(np.array([117.0, 127.4, 135.1, 138.0]))  # still dewetting
    assert change == pytest.approx(21.2, abs=0.1) and p_value < 0.05
    assert block_trend(np.array([130.0, 126.0, 131.0, 127.0]))[1] > 0.5
    assert block_trend(np.array([180.0, 180.0, 180.0])) == (0.0, 1.0)


def test_a_film_or_an_empty_map_is_refused():
    film = np.where(Z[None, :] < 1.5, 33.0, 0.0) * np.ones((len(X), 1))
    with pytest.raises(ContactAngleError, match="spans the box"):
        fit_contact_angle(film, X, Z, z_base=0.3, z_min=0.6)
    with pytest.raises(ContactAngleError, match="no liquid"):
        fit_contact_angle(np.zeros((len(X), len(Z))), X, Z, z_base=0.3, z_min=0.6)
    with pytest.raises(ContactAngleError, match="NaN"):
        fit_contact_angle(np.full((len(X), len(Z)), np.nan), X, Z, z_base=0.3, z_min=0.6)


# ----------------------------------------------------------------------- the geometry
@pytest.mark.parametrize("lattice", ["cubic", "fcc"])
def test_slab_is_the_pore_wall_without_the_pore(lattice):
    # away from the pore (its lining and the sites it displaces) the pore wall is the slab
    setup = validate_setup({"pore": {"radius": 0.55, "length": 1.2},
                            "wall": {"lattice": lattice, "spacing": 0.3},
                            "box": {"lateral": 3.0, "reservoir": 1.0},
                            "windows": {"targets": [1.0]}})
    lateral = 3.0
    a_xy, a_z, layers = lattice_constants(setup)
    cells = round(lateral / a_xy)
    wall = wall_sites(setup)
    center = setup.pore_center[:2]
    slab = slab_sites(lattice, a_xy, a_z, layers, cells, cells, float(wall[:, 2].min()))
    offset = center - np.round(center / a_xy) * a_xy
    slab[:, :2] = np.mod(slab[:, :2] + offset, lateral)

    def far_from_pore(points):
        delta = points[:, :2] - center
        delta -= lateral * np.round(delta / lateral)
        far = points[np.hypot(*delta.T) > 0.55 + 0.7]
        wrapped = np.round(np.mod(far, [lateral, lateral, 1e3]), 5) % [lateral, lateral, 1e3]
        return {tuple(p) for p in np.round(wrapped, 4)}

    assert far_from_pore(slab) == far_from_pore(wall)
    assert len(far_from_pore(slab)) > 100
    assert np.ptp(slab[:, 2]) == pytest.approx(setup["pore"]["length"])


def test_droplet_uses_the_setup_wall_and_water():
    setup = small_setup()
    settings = DropletSettings(waters=150, duration=2.0, frame_interval=0.05, epsilon=1.7)
    droplet = build_droplet(setup, settings)
    assert droplet.info["n_water"] == 150
    assert len(droplet.oxygen_indices) == 150
    nonbonded = next(f for f in droplet.system.getForces()
                     if isinstance(f, openmm.NonbondedForce))
    assert nonbonded.getNonbondedMethod() == openmm.NonbondedForce.CutoffPeriodic
    _, sigma_o, eps_o = nonbonded.getParticleParameters(int(droplet.oxygen_indices[0]))
    _, sigma_w, eps_w = nonbonded.getParticleParameters(droplet.system.getNumParticles() - 1)
    # Lorentz-Berthelot gives back the wall-oxygen pair: the setup's sigma, the chosen epsilon
    assert 0.5 * (sigma_o._value + sigma_w._value) == pytest.approx(0.34)
    assert np.sqrt(eps_o._value * eps_w._value) == pytest.approx(1.7)
    assert droplet.system.getParticleMass(droplet.system.getNumParticles() - 1)._value == 0.0
    sizes = droplet_box(setup, settings)
    assert sizes["box_y"] >= 2 * 0.8  # periodic along the droplet's axis, beyond the cut-off
    oxygens = droplet.positions[droplet.oxygen_indices]
    assert oxygens[:, 2].min() > droplet.wall_top + 0.25
    # the vacuum above the droplet exceeds the cut-off
    assert droplet.box[2] - oxygens[:, 2].max() + 0.2 > 0.8


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="blocks"):
        DropletSettings(blocks=1)
    with pytest.raises(ValueError, match="frames are too few"):
        DropletSettings(duration=1.0, frame_interval=0.5)


# ------------------------------------------------------------------------ real MD
@pytest.mark.slow
def test_more_attractive_wall_gives_a_smaller_angle(tmp_path):
    """The trend in MD: wall-oxygen epsilon 0.2 (hydrophobic) against 2.5 kJ/mol.

    The droplet starts as a half cylinder (90 degrees) and relaxes from there: towards
    180 degrees on the weak wall, spreading on the strong one. Measured on this system
    (200 TIP3P waters, 30 ps after 30 ps of equilibration, seeds 2-4) the weak wall gave
    124-152 degrees and the strong one 35-48, a gap of at least 76 degrees against block
    errors of 0.5-12; see docs/concepts/contact_angle.md. The test runs 20 ps after 20 ps
    (seeds 2-4: weak 121-127, strong 47-64, gap at least 56 degrees, 7.9 or more times
    its error): the droplets have not relaxed fully, the trend is already unambiguous.
    """
    setup = small_setup()
    settings = DropletSettings(waters=200, duration=20.0, equilibration=20.0,
                               frame_interval=0.1, blocks=3, seed=5)
    weak = run_contact_angle(setup, tmp_path / "weak",
                             DropletSettings(**{**settings.__dict__, "epsilon": 0.2}),
                             progress=False)
    # the attractive wall through the command line: files, printed result, design command
    path = tmp_path / "small.toml"
    path.write_text(_toml(SMALL))
    result = CliRunner().invoke(main, [
        "md", "contact-angle", str(path), "--out", str(tmp_path / "strong"), "--epsilon", "2.5",
        "--waters", "200", "--duration", "20", "--equilibration", "20", "--frame-interval",
        "0.1", "--blocks", "3", "--seed", "5", "--figure", str(tmp_path / "map.png"),
        "--no-progress"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "strong" / "contact_angle.json").read_text())
    strong = info["theta_deg"]
    assert (tmp_path / "map.png").stat().st_size > 0
    assert f"--contact-angle {strong:.1f}" in result.output
    assert info["design_command"] == design_command(setup, strong)
    assert shlex.split(info["design_command"])[:2] == ["nanopore", "design"]
    assert info["wall_oxygen_epsilon_kj_mol"] == 2.5 and info["n_water"] == 200

    import xarray as xr

    with xr.open_dataset(tmp_path / "strong" / "contact_angle.nc", engine="h5netcdf") as ds:
        assert ds["density"].attrs["units"] == "1/nm^3"
        assert ds.attrs["theta_deg"] == pytest.approx(strong)
        assert ds.sizes["block"] == 3

    # the saved maps fitted again with another exclusion height, without MD
    refit = CliRunner().invoke(main, ["md", "contact-angle", str(path), "--refit", "--out",
                                      str(tmp_path / "strong"), "--exclude", "0.8"])
    assert refit.exit_code == 0, refit.output
    again = json.loads((tmp_path / "strong" / "contact_angle.json").read_text())
    assert again["exclude_nm"] == 0.8 and again["n_water"] == 200
    assert again["theta_deg"] == pytest.approx(strong, abs=15.0)

    for theta in (weak.theta, strong):
        assert 20.0 < theta < 180.0
    # the hydrophobic wall beads the droplet up, the attractive one spreads it
    assert weak.theta > 95.0 > strong
    assert weak.theta - strong > 3.0 * np.hypot(weak.theta_error, info["theta_error_deg"])


def test_command_line_refuses_bad_input(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(_toml(SMALL))
    result = CliRunner().invoke(main, ["md", "contact-angle", str(path), "--blocks", "1",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "blocks = 1" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def _toml(raw: dict) -> str:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    text = "\n".join(lines) + "\n"
    assert tomllib.loads(text) == raw
    return text
