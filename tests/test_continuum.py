"""Continuum models: capillarity, IAPWS surface tension, electrowetting, open-pore
conductance and the sharp-interface filling profile."""

import numpy as np
import pytest

from nanopore.capillary import (
    filled_water_count,
    intrusion_pressure,
    water_surface_tension,
    wetting_free_energy,
)
from nanopore.continuum import ContinuumPore, continuum_profile
from nanopore.electrowetting import (
    DEBYE,
    access_voltage_fraction,
    critical_voltage,
    critical_voltages,
    electrowetting_free_energy,
    pore_capacitance,
)
from nanopore.pore_conductance import (
    access_resistance,
    bulk_resistance,
    open_pore_conductance,
)
from nanopore.profile import load_profile, save_profile
from nanopore.thermodynamics import free_energy_at_pressure
from nanopore.units import BOLTZMANN, VACUUM_PERMITTIVITY, kT_joule
from nanopore.voltage_model import VoltageModel

EPS0 = VACUUM_PERMITTIVITY


# --- capillarity ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "gamma, theta, radius_nm, expected_mpa",
    [
        (0.072, 120.0, 1.0, 72.0),     # -2 * 0.072 * cos(120) / 1 nm
        (0.072, 60.0, 1.0, -72.0),     # hydrophilic: fills spontaneously
        (0.070, 180.0, 0.5, 280.0),    # fully non-wetting
        (0.072, 90.0, 0.7, 0.0),       # neutral wall
    ],
)
def test_laplace_intrusion_pressure_known_values(gamma, theta, radius_nm, expected_mpa):
    assert intrusion_pressure(radius_nm, theta, gamma) / 1e6 == pytest.approx(expected_mpa, abs=1e-9)


def test_wet_and_dry_coexist_at_the_intrusion_pressure():
    gamma = water_surface_tension(300.0)
    for radius, length, theta in [(0.5, 1.5, 110.0), (0.8, 3.0, 135.0), (0.4, 1.0, 95.0)]:
        p_int = intrusion_pressure(radius, theta, gamma)
        assert wetting_free_energy(radius, length, theta, gamma, p_int) == pytest.approx(0.0, abs=1e-30)
        # below the intrusion pressure the dry pore is favoured, above it the wet one
        assert wetting_free_energy(radius, length, theta, gamma, 0.9 * p_int) > 0
        assert wetting_free_energy(radius, length, theta, gamma, 1.1 * p_int) < 0


def test_capillary_formula_and_mouth_menisci():
    radius, length, theta, gamma, dp = 0.6e-9, 2.0e-9, np.deg2rad(115.0), 0.07, 3.0e7
    expected = -2 * np.pi * radius * length * gamma * np.cos(theta) - dp * np.pi * radius**2 * length
    got = wetting_free_energy(0.6, 2.0, 115.0, 0.07, dp)
    assert got == pytest.approx(expected, rel=1e-12)
    with_mouths = wetting_free_energy(0.6, 2.0, 115.0, 0.07, dp, mouth_menisci=True)
    assert with_mouths - got == pytest.approx(-2 * np.pi * radius**2 * gamma, rel=1e-12)


# IAPWS R1-76(2014) table of the surface tension of ordinary water (mN/m), rounded to 0.01.
IAPWS_TABLE = [(0.01, 75.65), (10.0, 74.22), (20.0, 72.74), (25.0, 71.97), (30.0, 71.19),
               (50.0, 67.94), (100.0, 58.91)]


@pytest.mark.parametrize("celsius, table_mn_per_m", IAPWS_TABLE)
def test_iapws_surface_tension_matches_the_table(celsius, table_mn_per_m):
    assert water_surface_tension(celsius + 273.15) * 1e3 == pytest.approx(table_mn_per_m, abs=0.005)


def test_surface_tension_outside_the_correlation_is_refused():
    with pytest.raises(ValueError, match=r"temperature must lie between 248.15 K .* got 200 K"):
        water_surface_tension(200.0)
    with pytest.raises(ValueError, match="critical point 647.096 K"):
        water_surface_tension(700.0)
    assert water_surface_tension(646.0) < water_surface_tension(600.0) < 0.02


ANGLE = "contact angle must lie between 0 and 180 degrees"
ALPHA = r"alpha must lie in \(0, 1\]"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: intrusion_pressure(-0.5, 110, 0.072), "radius must be a positive number of nm, got -0.5 nm"),
        (lambda: intrusion_pressure(0.5, 181, 0.072), f"{ANGLE}, got 181"),
        (lambda: intrusion_pressure(0.5, -1, 0.072), f"{ANGLE}, got -1"),
        (lambda: wetting_free_energy(0.5, 0.0, 110, 0.072), "length must be a positive number of nm, got 0"),
        (lambda: wetting_free_energy(0.5, 1.0, 110, -0.07), "surface tension must be a positive number of N/m"),
        (lambda: ContinuumPore(-0.5, 1.5, 110), "radius must be a positive number of nm"),
        (lambda: ContinuumPore(0.5, 1.5, 200), f"{ANGLE}, got 200"),
        (lambda: ContinuumPore(0.5, 1.5, 110, alpha=1.5), ALPHA + ".* got 1.5"),
        (lambda: ContinuumPore(0.5, 1.5, 110, alpha=0.0), ALPHA),
        (lambda: ContinuumPore(0.5, 1.5, 110, temperature=100.0), "temperature must lie between"),
        (lambda: ContinuumPore(0.5, 1.5, 110, permittivity=0.5), "permittivity of water must be a number above 1"),
        (lambda: open_pore_conductance(0.5, 1.5, conductivity=0), "conductivity must be a positive number of S/m"),
    ],
)
def test_out_of_range_inputs_are_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_filled_water_count_is_cylinder_volume_over_molecular_volume():
    assert filled_water_count(0.5, 1.5, 0.03) == pytest.approx(np.pi * 0.25 * 1.5 / 0.03, rel=1e-12)


# --- electrowetting ------------------------------------------------------------------------

def test_capacitance_and_electrowetting_energy_in_si():
    # eps0 * pi * (1 nm)^2 / 1 nm = eps0 * pi * 1e-9 F
    assert pore_capacitance(1.0, 1.0, 1.0) == pytest.approx(EPS0 * np.pi * 1e-9, rel=1e-12)
    c_wet, c_dry = pore_capacitance(0.5, 1.5, 78.4), pore_capacitance(0.5, 1.5, 1.0)
    energy = electrowetting_free_energy(0.5, 1.5, 0.3, alpha=0.7, permittivity=78.4)
    assert energy == pytest.approx(-0.5 * (c_wet - c_dry) * (0.7 * 0.3) ** 2, rel=1e-12)


def test_critical_voltage_closed_form():
    gamma, eps_w = water_surface_tension(300.0), 78.4
    for radius, length, theta, alpha in [(0.5, 1.5, 110.0, 1.0), (0.7, 2.0, 125.0, 0.6)]:
        capillary = wetting_free_energy(radius, length, theta, gamma)
        expected = 2 * length * 1e-9 * np.sqrt(
            gamma * abs(np.cos(np.deg2rad(theta))) / ((eps_w - 1) * EPS0 * radius * 1e-9)
        ) / alpha
        v_c = critical_voltage(capillary, radius, length, alpha, eps_w)
        assert v_c == pytest.approx(expected, rel=1e-12)
        total = capillary + electrowetting_free_energy(radius, length, v_c, alpha, eps_w)
        assert abs(total) < 1e-12 * capillary
    assert critical_voltage(wetting_free_energy(0.5, 1.5, 80.0, gamma), 0.5, 1.5) == 0.0


def test_dipole_shifts_the_two_critical_voltages():
    gamma = water_surface_tension(300.0)
    capillary = wetting_free_energy(0.5, 1.5, 110.0, gamma)
    symmetric = critical_voltage(capillary, 0.5, 1.5)
    low, high = critical_voltages(capillary, 0.5, 1.5, dipole_debye=30.0)
    assert low < 0 < high < symmetric < -low
    for v in (low, high):
        total = capillary + electrowetting_free_energy(0.5, 1.5, v, dipole_debye=30.0)
        assert abs(total) < 1e-9 * capillary
    # Vieta: V+ + V- = a / |b| with a = -p alpha / L, |b| = 0.5 (eps_w - 1) eps0 pi R^2 alpha^2 / L
    a = -30.0 * DEBYE / 1.5e-9
    b = 0.5 * 77.4 * EPS0 * np.pi * (0.5e-9) ** 2 / 1.5e-9
    assert low + high == pytest.approx(a / b, rel=1e-9)


def test_access_voltage_fraction():
    assert access_voltage_fraction(0.5, 1.5) == pytest.approx(1.5 / (1.5 + np.pi * 0.25), rel=1e-12)
    assert access_voltage_fraction(0.5, 1e3) > 0.999


# --- open-pore conductance -----------------------------------------------------------------

def test_open_pore_conductance_hall_formula():
    radius, length, sigma = 0.5e-9, 1.5e-9, 10.5
    d = 2 * radius
    expected = sigma / (4 * length / (np.pi * d**2) + 1 / d)
    assert open_pore_conductance(0.5, 1.5, 10.5) == pytest.approx(expected, rel=1e-12)
    assert 1 / open_pore_conductance(0.5, 1.5) == pytest.approx(
        bulk_resistance(0.5, 1.5) + access_resistance(0.5), rel=1e-12)
    # a very short pore is access-limited: G -> sigma d
    assert open_pore_conductance(0.5, 1e-6, 10.5) == pytest.approx(10.5 * d, rel=1e-5)


# --- the continuum profile -----------------------------------------------------------------

PORES = [
    ContinuumPore(0.5, 1.5, 110.0),
    ContinuumPore(0.7, 2.5, 130.0, temperature=320.0, alpha=0.6),
    ContinuumPore(0.45, 1.2, 125.0, mouth_menisci=True),
    ContinuumPore(0.6, 1.8, 120.0, dipole_debye=25.0),
]


@pytest.mark.parametrize("pore", PORES)
@pytest.mark.parametrize("voltage, pressure", [(0.0, 0.0), (0.4, 0.0), (0.0, 4.0e7), (-0.3, 2.0e7)])
def test_profile_wet_minus_dry_equals_the_capillary_formula(pore, voltage, pressure):
    grid = pore.grid()
    omega = pore.free_energy(grid, voltage, pressure)
    kT = kT_joule(pore.temperature)
    expected = (
        wetting_free_energy(pore.radius_nm, pore.length_nm, pore.contact_angle_deg,
                            water_surface_tension(pore.temperature), pressure, pore.mouth_menisci)
        + electrowetting_free_energy(pore.radius_nm, pore.length_nm, voltage, pore.alpha,
                                     pore.permittivity, pore.dipole_debye)
    ) / kT
    assert omega[0] == 0.0
    assert grid[pore.wet_index(grid)] == pytest.approx(pore.n_wet, rel=1e-12)
    assert omega[pore.wet_index(grid)] - omega[0] == pytest.approx(expected, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("pore", PORES)
def test_critical_voltage_is_where_wet_and_dry_cross_in_the_profile(pore):
    v_c = pore.critical_voltage()
    assert v_c > 0
    grid = pore.grid()
    wet = pore.wet_index(grid)
    omega = pore.free_energy(grid, [0.98 * v_c, v_c, 1.02 * v_c])
    difference = omega[:, wet] - omega[:, 0]
    assert difference[0] > 0 > difference[2]
    assert abs(difference[1]) < 1e-9


def test_profile_has_a_barrier_from_meniscus_creation():
    pore = ContinuumPore(0.5, 1.5, 110.0)
    grid = pore.grid()
    wet = pore.wet_index(grid)
    omega = pore.free_energy(grid)
    top = int(np.argmax(omega[: wet + 1]))
    meniscus = np.pi * (0.5e-9) ** 2 * pore.gamma / kT_joule(300.0)
    assert 0 < top < wet
    # the barrier lies above both states and below the wet state plus one full meniscus
    assert omega[wet] < omega[top] < omega[wet] + meniscus
    # both ends are basins: the profile rises away from them
    assert omega[1] > omega[0] and omega[wet - 1] > omega[wet] and omega[wet + 1] > omega[wet]


def test_wet_state_fluctuations_follow_the_compressibility():
    pore = ContinuumPore(0.5, 1.5, 110.0)
    grid = pore.grid()
    wet = pore.wet_index(grid)
    omega = pore.free_energy(grid)
    above = grid[wet:] - pore.n_wet
    curvature = np.polyfit(above, omega[wet:], 2)[0] * 2
    volume = pore.molecular_volume_nm3 * 1e-27
    variance = pore.n_wet * BOLTZMANN * 300.0 * pore.compressibility / volume
    assert curvature == pytest.approx(1.0 / variance, rel=1e-9)
    assert grid[-1] >= pore.n_wet + 5 * np.sqrt(variance)


def test_profile_pressure_dependence_matches_the_thermodynamics_module():
    pore = ContinuumPore(0.55, 1.6, 115.0)
    grid = pore.grid(101)
    shifted = free_energy_at_pressure(grid, pore.free_energy(grid), 3.0e7, 300.0, pore.molecular_volume_nm3)
    np.testing.assert_allclose(pore.free_energy(grid, 0.0, 3.0e7), shifted, rtol=1e-12, atol=1e-12)


def test_voltage_model_recovers_the_electrowetting_terms():
    pore = ContinuumPore(0.6, 1.8, 120.0, dipole_debye=25.0)
    profile = continuum_profile(pore, [0.0, 0.3, 0.6, 0.9])
    assert profile.attrs["symmetric_pore"] == 0
    model = VoltageModel.fit(profile, exclude=0.6)
    assert model.holdout_error(profile, 0.6) < 1e-9
    a, b = pore.voltage_coefficients()
    wet = pore.wet_index(profile["n"].values)
    kT = kT_joule(pore.temperature)
    assert model.quadratic[wet] == pytest.approx(b / kT, rel=1e-8)
    assert model.linear[wet] == pytest.approx(a / kT, rel=1e-8)


def test_profile_dataset_contract(tmp_path):
    pore = ContinuumPore(0.5, 1.5, 110.0)
    several = continuum_profile(pore, [0.5, 0.0, 1.0, 0.5])
    assert several["free_energy"].dims == ("voltage", "n")
    np.testing.assert_array_equal(several["voltage"].values, [0.0, 0.5, 1.0])
    loaded = load_profile(save_profile(several, tmp_path / "continuum.nc"))
    np.testing.assert_array_equal(loaded["free_energy"].values, several["free_energy"].values)
    assert loaded.attrs["temperature"] == 300.0
    assert loaded.attrs["pore_radius_nm"] == 0.5 and loaded.attrs["symmetric_pore"] == 1
    assert np.all(loaded["diffusion"].values == 1.0)
    assert loaded["diffusion"].attrs["units"] == "molecules^2/ps"
    single = continuum_profile(pore, 0.25, excess_pressure=5.0e7)
    assert single["free_energy"].dims == ("n",)
    assert single.attrs["voltage"] == 0.25 and single.attrs["excess_pressure_MPa"] == 50.0
    graded = continuum_profile(pore, 0.0, diffusion_dry=0.5, diffusion_wet=2.0)
    d = graded["diffusion"].values
    assert d[0] == 0.5 and d[pore.wet_index(graded["n"].values)] == pytest.approx(2.0) and d[-1] == 2.0
    with pytest.raises(ValueError, match="diffusion coefficient of the dry pore must be a positive"):
        continuum_profile(pore, 0.0, diffusion_dry=0.0)
