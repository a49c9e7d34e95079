"""Electrodrying: with an intrinsic dipole the pore's wet and dry states swap with the sign of V,
and the conductance branches of a driven loop cross away from V = 0 (at V = 0 without one)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from langevin.hysteresis import memristor_loops
from langevin.rates import rates_dataset
from nanopore.electrodrying import add_crossing_voltages, crossing_voltages, dipolar_pore_profile
from nanopore.synthetic import model_pore_profile
from nanopore.voltage_model import VoltageModel


def equilibrium_wet_probability(model: VoltageModel, volts: np.ndarray) -> np.ndarray:
    rates = rates_dataset(model.n, model.free_energy(volts), model.diffusion_at(volts), volts,
                          temperature=model.temperature)
    k_wet, k_dry = rates["k_wet"].values, rates["k_dry"].values
    return k_wet / (k_wet + k_dry)


@pytest.fixture(scope="module")
def dipolar_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VoltageModel.fit(dipolar_pore_profile())


def test_crossing_of_analytic_branches_is_exact():
    phase = np.linspace(0.0, 1.0, 4001)
    volts = np.sin(2 * np.pi * phase)
    # rising branch 1 + 0.3 sqrt(1 - V^2)(V - 0.2), falling 1 - 0.3 sqrt(1 - V^2)(V - 0.2)
    g = 1.0 + 0.3 * np.cos(2 * np.pi * phase) * (volts - 0.2)
    found = crossing_voltages(volts, g)
    assert found.size == 1 and found[0] == pytest.approx(0.2, abs=2e-3)
    assert crossing_voltages(volts, np.ones_like(volts)).size == 0  # coinciding branches


def test_wet_and_dry_swap_with_the_sign_of_the_voltage(dipolar_model):
    assert not dipolar_model.symmetric  # the profile says symmetric_pore = 0: a(N) is fitted
    a = dipolar_model.linear  # up to a constant (each profile has its own gauge): a(N) falls with N
    n = dipolar_model.n
    assert a[-1] - a[0] == pytest.approx(-30.0 * (n[-1] - n[0]) / 40.0, rel=1e-6)  # -dipole N/N_wet
    p_wet = equilibrium_wet_probability(dipolar_model, np.array([-0.3, 0.0, 0.3]))
    assert p_wet[0] < 0.2 and p_wet[2] > 0.9  # dries at -0.3 V, wet at +0.3 V
    assert p_wet[1] > 0.5  # wet at rest: -V dries a pore that V = 0 leaves wet


def test_symmetric_pore_does_not_care_about_the_sign():
    model = VoltageModel.fit(model_pore_profile(), symmetric=True)
    volts = np.array([-0.4, -0.2, 0.2, 0.4])
    p_wet = equilibrium_wet_probability(model, volts)
    assert np.allclose(p_wet[:2], p_wet[:1:-1], rtol=1e-9)


def test_loop_branches_cross_away_from_the_origin_only_with_a_dipole(dipolar_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dipolar = add_crossing_voltages(memristor_loops(dipolar_model, 0.6, [1e3, 1e4]))
        symmetric = add_crossing_voltages(memristor_loops(
            VoltageModel.fit(model_pore_profile(voltages=(0.0, 0.3, 0.6)), symmetric=True), 0.6,
            [1e4, 1e5]))
    crossing = dipolar["crossing_voltage"].values
    assert np.all(np.isfinite(crossing)) and np.all(crossing < -0.1)  # on the drying side
    assert np.allclose(symmetric["crossing_voltage"].values, 0.0, atol=1e-3)
    assert dipolar["crossing_voltage"].attrs["units"] == "V"


def test_hysteresis_prints_the_crossing_voltage(tmp_path):
    from nanopore.cli import main
    from nanopore.profile import write_dataset

    path = tmp_path / "dipolar.nc"
    write_dataset(dipolar_pore_profile(), path)
    result = CliRunner().invoke(main, ["hysteresis", str(path), "-a", "0.6", "-f", "1e3"])
    assert result.exit_code == 0, result.output
    line = next(text for text in result.output.splitlines() if text.startswith("V_cross"))
    assert float(line.rsplit(":", 1)[1]) < -0.1
