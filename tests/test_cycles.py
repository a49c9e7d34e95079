"""Voltage model, memristor loops and pressure cycles."""

import json
import warnings

import numpy as np
import pytest

from langevin.hysteresis import memristor_loops
from langevin.intrusion import intrusion_cycles
from langevin.landscape import evaluate
from langevin.master import propagate_two_state
from nanopore.profile import make_profile, profile_arrays, select_voltage
from nanopore.synthetic import model_pore_profile, quartic_double_well
from nanopore.voltage_model import (
    ExtrapolationError,
    ExtrapolationWarning,
    VoltageModel,
)


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


def test_loops_are_periodic_and_the_area_spectrum_has_one_peak(high_barrier_model):
    freqs = np.logspace(3, 11, 17)
    loops = memristor_loops(high_barrier_model, 0.45, freqs, method="fokker-planck",
                            tolerance=1e-4)
    assert np.all(loops.converged.values == 1)
    assert np.all(loops.periodic_error.values <= 1e-4)
    area = loops.loop_area.values
    # one peak; the intra-basin response near 3 GHz leaves a bump below 1 % of it
    peaks = [k for k in range(1, area.size - 1) if area[k] > area[k - 1] and area[k] > area[k + 1]
             and area[k] > 0.01 * area.max()]
    assert len(peaks) == 1
    # with too few periods allowed the run says so instead of reporting a transient
    with pytest.warns(RuntimeWarning, match="periodic state"):
        short = memristor_loops(high_barrier_model, 0.45, freqs[[10]], method="fokker-planck",
                                tolerance=1e-4, max_periods=3)
    assert short.converged.item() == 0 and short.periodic_error.item() > 1e-4
    # the answer does not depend on how many periods the run starts with
    more = memristor_loops(high_barrier_model, 0.45, freqs[[8, 12]], method="fokker-planck",
                           n_periods=12, tolerance=1e-4)
    np.testing.assert_allclose(more.loop_area.values, area[[8, 12]], atol=2e-3)


def test_master_periodic_state_is_the_limit_of_many_periods():
    from langevin.master import periodic_two_state

    phase = np.linspace(0.0, 1.0, 401)
    k_wet = 3.0 * np.exp(4.0 * np.sin(2 * np.pi * phase))
    k_dry = 3.0 * np.exp(-4.0 * np.sin(2 * np.pi * phase))
    dt = phase[1]
    start = periodic_two_state(k_wet, k_dry, dt)
    p = 0.0
    for _ in range(200):
        p = propagate_two_state(k_wet, k_dry, dt, p)[-1]
    assert start == pytest.approx(p, abs=1e-12)
    # no relaxation within a period: the periodic state is the period-averaged balance
    slow = periodic_two_state(k_wet * 1e-9, k_dry * 1e-9, dt)
    assert slow == pytest.approx(np.mean(k_wet[:-1]) / np.mean((k_wet + k_dry)[:-1]), rel=1e-2)


def test_wetting_voltage_above_drying_voltage_at_finite_frequency(high_barrier_model):
    loops = memristor_loops(high_barrier_model, 0.45, [1e4, 1e5], method="master")
    wet, dry = loops.wetting_voltage.values, loops.drying_voltage.values
    assert np.all(np.isfinite(wet)) and np.all(np.isfinite(dry))
    assert np.all(wet > dry + 0.02)


def test_triangle_waveform_and_loops():
    from langevin.hysteresis import waveform_function

    wave = waveform_function("triangle", 0.4)
    np.testing.assert_allclose(wave(np.array([0.0, 0.125, 0.25, 0.5, 0.75, 1.0])),
                               [0.0, 0.2, 0.4, 0.0, -0.4, 0.0], atol=1e-15)
    model = VoltageModel.fit(model_pore_profile(n_grid=241, barrier_height=14.0))
    sine = memristor_loops(model, 0.45, [1e5], method="master")
    triangle = memristor_loops(model, 0.45, [1e5], method="master", waveform="triangle")
    assert triangle.attrs["waveform"] == "triangle"
    assert triangle.pinch.item() < 1e-9 and triangle.loop_area.item() > 0.05
    # a triangle spends less time near the peak voltage than a sine: less switching
    assert triangle.p_wet.max() < sine.p_wet.max()
    with pytest.raises(ValueError, match="waveform"):
        waveform_function("square", 0.4)


def test_loops_beyond_the_static_profile_are_flagged(high_barrier_model):
    from langevin.validity import water_debye_time

    assert water_debye_time(298.15) == pytest.approx(8.3)
    assert 15.0 < water_debye_time(273.15) < 20.0 and 3.0 < water_debye_time(333.15) < 5.0
    loops = memristor_loops(high_barrier_model, 0.45, [1e6, 1e9, 1e11, 1e12], method="master")
    limit = loops.attrs["static_limit_frequency"]
    assert 1e9 < limit < 1e11  # 1 / (2 pi max(tau_D, tau_pore)) with tau about 8 ps
    np.testing.assert_array_equal(loops.beyond_static_limit.values,
                                  (loops.frequency.values > limit).astype(int))
    assert loops.beyond_static_limit.values.tolist() == [0, 0, 1, 1]
    given = memristor_loops(high_barrier_model, 0.45, [1e6, 1e9], method="master", static_limit=1e7)
    assert given.beyond_static_limit.values.tolist() == [0, 1]


def test_slow_ramp_intrusion_pressure_does_not_depend_on_temperature():
    # wells of equal shape in energy units, tilted by 10 kT(300 K): the pressure that cancels
    # the tilt makes the profile symmetric at every temperature (k_wet = k_dry there), so a
    # slow ramp must switch at that one pressure at 280, 300 and 340 K. Small mirrored bumps
    # on the well flanks count as basins at some temperatures and not at others.
    from nanopore.units import pressure_work_kT

    n = np.linspace(-2.0, 40.0, 211)
    f = quartic_double_well(n, 4.0, 34.0, 12.0, tilt=10.0)
    bump = 0.55 * (np.exp(-((n - 8.0) / 0.4) ** 2) + np.exp(-((n - 30.0) / 0.4) ** 2))
    f = f + bump
    coexistence = 10.0 / pressure_work_kT(1e6 * 30.0, 0.0299, 300.0)  # MPa
    cycles = intrusion_cycles(n, f, np.full_like(n, 0.5), 300.0, 0.0, 2 * coexistence,
                              [1e-3], [280.0, 300.0, 340.0], molecular_volume_nm3=0.0299)
    p_int = cycles.intrusion_pressure.values[:, 0]
    p_ext = cycles.extrusion_pressure.values[:, 0]
    np.testing.assert_allclose(p_int, coexistence, atol=0.01 * coexistence)
    np.testing.assert_allclose(p_ext, coexistence, atol=0.01 * coexistence)
    assert np.all(cycles.periodic_error.values < 1e-3)


def test_slow_ramp_on_the_reference_profile_uses_one_wet_threshold():
    # the MD reference profile at 0 V: its noise made the wet/dry threshold jump to
    # N = 0.5 at 280 K (intrusion at 215 MPa instead of about 300). With one threshold
    # the slow ramp switches where the Boltzmann weights beyond it reach 1/2, at every T.
    from pathlib import Path

    from nanopore.profile import load_profile
    from nanopore.thermodynamics import (
        free_energy_at_pressure,
        free_energy_at_temperature,
    )

    profile = load_profile(Path(__file__).resolve().parents[1] / "data" / "reference_profile.nc")
    n, f, d = profile_arrays(select_voltage(profile, 0.0))
    temps = [280.0, 300.0, 340.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cycles = intrusion_cycles(n, f, d, 300.0, 0.0, 600.0, [1e-3], temps,
                                  method="fokker-planck")
    threshold = json.loads(cycles.attrs["parameters"])["wet_threshold_molecules"]
    pressures = np.linspace(200.0, 400.0, 4001)
    for k, temperature in enumerate(temps):
        omega = free_energy_at_pressure(n, free_energy_at_temperature(f, 300.0, temperature),
                                        pressures * 1e6, temperature)
        omega, _ = evaluate(n, omega, np.ones_like(n), fine := np.linspace(n[0], n[-1], 1501))
        weights = np.exp(-(omega - omega.min(axis=1, keepdims=True)))
        p_wet = (weights * (fine > threshold)).sum(1) / weights.sum(1)
        coexistence = pressures[int(np.argmin(np.abs(p_wet - 0.5)))]
        assert cycles.intrusion_pressure.values[k, 0] == pytest.approx(coexistence, abs=3.0)
    assert np.ptp(cycles.intrusion_pressure.values) < 15.0
