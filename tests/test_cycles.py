"""Voltage model, memristor loops and pressure cycles."""

import warnings

import numpy as np
import pytest

from langevin.hysteresis import memristor_loops
from langevin.intrusion import intrusion_cycles
from langevin.master import propagate_two_state
from nanopore.profile import make_profile, profile_arrays, select_voltage
from nanopore.synthetic import model_pore_profile, quartic_double_well
from nanopore.voltage_model import ExtrapolationError, ExtrapolationWarning, VoltageModel


def _profile_from(a, b, omega0, n, voltages):
    f = omega0[None] + a[None] * voltages[:, None] + b[None] * voltages[:, None] ** 2
    return make_profile(n, f, 1.0, 300.0, voltage=voltages)


def test_two_voltage_fit_reproduces_a_third():
    n = np.linspace(0, 40, 81)
    omega0 = quartic_double_well(n, 2, 36, 10.0, tilt=5.0)
    b = -40.0 * n / 36
    fitted = VoltageModel.fit(_profile_from(np.zeros_like(n), b, omega0, n, np.array([0.0, 0.4])))
    assert fitted.symmetric
    np.testing.assert_allclose(fitted.free_energy(0.25), omega0 + b * 0.25**2, atol=1e-9)
    np.testing.assert_allclose(fitted.quadratic, b, atol=1e-9)


def test_dipole_term_fit_and_held_out_validation():
    n = np.linspace(0, 40, 81)
    omega0 = quartic_double_well(n, 2, 36, 10.0, tilt=5.0)
    a = 3.0 * np.sin(n / 10)
    b = -40.0 * n / 36
    volts = np.array([-0.3, 0.0, 0.2, 0.4])
    profile = _profile_from(a, b, omega0, n, volts)
    fitted = VoltageModel.fit(profile, exclude=0.2, symmetric=False)
    np.testing.assert_allclose(fitted.linear, a, atol=1e-9)
    assert fitted.holdout_error(profile, 0.2) < 1e-9
    noisy = profile.copy(deep=True)
    noisy["free_energy"][2] += 0.5 * np.sin(n)
    assert VoltageModel.fit(noisy, exclude=0.2, symmetric=False).holdout_error(noisy, 0.2) > 0.3


def test_extrapolation_refused_unless_allowed():
    model = VoltageModel.fit(model_pore_profile(), symmetric=False)
    with pytest.raises(ExtrapolationError, match="--extrapolate"):
        model.free_energy(0.7)
    model.extrapolate = True
    with pytest.warns(ExtrapolationWarning):
        model.free_energy(-0.1)
    with pytest.warns(ExtrapolationWarning):
        model.free_energy(0.7)
    model.extrapolate = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.free_energy(0.3)
        VoltageModel.fit(model_pore_profile()).free_energy(-0.4)  # symmetric: |V| counts


def test_master_equation_constant_rates_exact():
    k_wet, k_dry, dt = 3.0, 1.0, 0.01
    p = propagate_two_state(np.full(101, k_wet), np.full(101, k_dry), dt, 0.0)
    t = np.arange(101) * dt
    np.testing.assert_allclose(p, 0.75 * (1 - np.exp(-4.0 * t)), rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def high_barrier_model():
    return VoltageModel.fit(model_pore_profile(n_grid=241, barrier_height=14.0))


def test_master_and_fokker_planck_loops_agree_at_high_barrier(high_barrier_model):
    freqs = [1e3, 1e4, 1e5, 1e6]
    master = memristor_loops(high_barrier_model, 0.45, freqs, method="master", n_periods=4)
    fp = memristor_loops(high_barrier_model, 0.45, freqs, method="fokker-planck", n_periods=4,
                         steps_per_period=800)
    assert np.max(np.abs(master.p_wet.values - fp.p_wet.values[:, ::2])) < 0.01
    np.testing.assert_allclose(master.loop_area, fp.loop_area, atol=0.01)
    assert master.loop_area.max() > 0.3


def test_loops_pinched_and_area_vanishes_at_both_ends(high_barrier_model):
    freqs = np.logspace(-1, 11, 13)
    loops = memristor_loops(high_barrier_model, 0.45, freqs, method="master", n_periods=5)
    area = loops.loop_area.values
    assert np.all(loops.pinch.values < 1e-9)
    assert area.max() > 0.3
    assert area[0] < 0.02 * area.max() and area[-1] < 0.02 * area.max()
    peak = int(np.argmax(area))
    assert 0 < peak < freqs.size - 1
    # slow drive: switching happens at the equilibrium coexistence voltage both ways
    slow = memristor_loops(high_barrier_model, 0.45, [1e-2], method="master", n_periods=3)
    assert slow.wetting_voltage.item() == pytest.approx(slow.drying_voltage.item(), abs=0.01)


def test_langevin_loop_agrees_with_fokker_planck():
    model = VoltageModel.fit(model_pore_profile(n_grid=121, barrier_height=4.0, wet_count=12.0,
                                                electrowetting=-30.0, diffusion_dry=2.0,
                                                diffusion_wet=4.0))
    kwargs = dict(n_periods=2, steps_per_period=100)
    fp = memristor_loops(model, 0.5, [2e9], method="fokker-planck", **kwargs)
    lv = memristor_loops(model, 0.5, [2e9], method="langevin", n_trajectories=2000, seed=3,
                         time_step=2e-3, **kwargs)
    assert np.max(np.abs(fp.p_wet.values - lv.p_wet.values)) < 4.5 * np.sqrt(0.25 / 2000)
    assert fp.loop_area.item() > 0.05


def test_intrusion_cycles_rate_and_temperature_trends():
    n, f, d = profile_arrays(select_voltage(model_pore_profile(), 0.0))
    cycles = intrusion_cycles(n, f, d, 300.0, 0.0, 60.0, [1e-3, 1e3, 1e5, 1e6], [280.0, 350.0])
    p_int = cycles.intrusion_pressure.values
    p_ext = cycles.extrusion_pressure.values
    assert np.all(np.diff(p_int, axis=1) >= -1e-9) and p_int[0, -1] > p_int[0, 0] + 0.5
    assert np.all(np.diff(p_ext, axis=1) <= 1e-9)
    width = p_int - p_ext
    assert np.all(width[1, 1:] < width[0, 1:])  # loops narrow as T rises
    # slow ramp: both equal the equilibrium coexistence pressure (P_wet = 1/2 by Boltzmann)
    from nanopore.thermodynamics import free_energy_at_pressure

    threshold = 16.0  # barrier top of the model profile (40 % of its 40-molecule filling)
    pressures = np.linspace(0, 60, 6001)
    omega = free_energy_at_pressure(n, f, pressures * 1e6, 300.0)
    weights = np.exp(-(omega - omega.min(axis=1, keepdims=True)))
    p_wet = (weights * (n > threshold)).sum(1) / weights.sum(1)
    coexistence = pressures[np.argmin(np.abs(p_wet - 0.5))]
    slow = intrusion_cycles(n, f, d, 300.0, 0.0, 60.0, [1e-3])
    assert slow.intrusion_pressure.item() == pytest.approx(coexistence, abs=0.3)
    assert slow.extrusion_pressure.item() == pytest.approx(coexistence, abs=0.3)
