"""The voltage model does not invent physics: no dipole without evidence, terms by held-out error."""

import numpy as np
import pytest
from click.testing import CliRunner

from langevin.uncertainty import gaussian_field
from nanopore.cli import main
from nanopore.profile import make_profile, save_profile
from nanopore.synthetic import quartic_double_well
from nanopore.voltage_model import ExtrapolationError, VoltageModel, linear_term_test

N = np.linspace(0.0, 12.0, 61)
OMEGA0 = quartic_double_well(N, 2.0, 10.0, 8.0, tilt=4.0)
B = -6.0 * N / 10.0  # kT/V^2: electrowetting favours the wet pore
DIPOLE = 2.0 * N / 10.0  # kT/V


def synthetic(volts, a=None, c=None, noise=0.0, seed=0, attrs=None, with_error=True):
    volts = np.asarray(volts, dtype=float)
    a = np.zeros_like(N) if a is None else a
    c = np.zeros_like(N) if c is None else c
    v = volts[:, None]
    f = OMEGA0 + a * v + B * v**2 + c * v**4
    error = np.full(f.shape, noise)
    error[:, 0] = 0.0  # gauge point
    rng = np.random.default_rng(seed)
    f = f + error * gaussian_field(N, 1.0, volts.size, rng)
    return make_profile(N, f, 1.0, 300.0, voltage=volts,
                        free_energy_error=error if with_error and noise > 0 else None, attrs=attrs)


def test_symmetric_pore_with_noise_gets_no_linear_term():
    volts = [-0.6, -0.3, 0.0, 0.3, 0.6]
    found = [VoltageModel.fit(synthetic(volts, noise=0.5, seed=s)).symmetric for s in range(20)]
    assert sum(not f for f in found) <= 1  # family-wise level 0.05 per profile set
    model = VoltageModel.fit(synthetic(volts, noise=0.5, seed=1))
    np.testing.assert_array_equal(model.linear, 0.0)
    assert "symmetric" in model.reason


def test_dipole_is_detected_and_fitted():
    volts = [-0.6, -0.3, 0.0, 0.3, 0.6]
    profile = synthetic(volts, a=DIPOLE, noise=0.3, seed=3)
    test = linear_term_test(np.asarray(volts), profile["free_energy"].values,
                            profile["free_energy_error"].values)
    assert test["significant"] and test["max_z"] > test["threshold"]
    model = VoltageModel.fit(profile)
    assert not model.symmetric and 1 in model.powers
    inner = slice(5, -5)
    assert np.max(np.abs(model.linear[inner] - DIPOLE[inner])) < 1.0
    # The same data without errors and only three voltages cannot show it.
    bare = synthetic([-0.3, 0.0, 0.3], a=DIPOLE, noise=0.3, seed=3, with_error=False)
    assert VoltageModel.fit(bare).symmetric


def test_one_signed_voltages_cannot_show_a_dipole_unless_the_profile_says_so():
    volts = [0.0, 0.25, 0.5, 1.0]
    quartic = -1.0 * N / 10.0
    profile = synthetic(volts, c=quartic, noise=0.2, seed=2)
    model = VoltageModel.fit(profile)
    assert model.symmetric and "one sign" in model.reason
    asymmetric = synthetic(volts, a=DIPOLE, noise=0.2, seed=2, attrs={"symmetric_pore": 0})
    model = VoltageModel.fit(asymmetric)
    assert not model.symmetric and "symmetric_pore = 0" in model.reason


def test_terms_chosen_by_held_out_error_and_stored():
    volts = [0.0, 0.3, 0.6, 0.9, 1.2]
    quartic = -2.0 * N / 10.0
    model = VoltageModel.fit(synthetic(volts, c=quartic))
    assert model.powers == (0, 2, 4)
    assert model.holdout["1 + V^2 + V^4"] < 1e-8 < model.holdout["1 + V^2"]
    np.testing.assert_allclose(model.free_energy(0.75), OMEGA0 + B * 0.75**2 + quartic * 0.75**4,
                               atol=1e-8)
    plain = VoltageModel.fit(synthetic(volts, noise=0.3, seed=5))
    assert plain.powers == (0, 2)
    attrs = plain.to_profile(np.array([0.1, 0.2])).attrs
    assert attrs["voltage_model_terms"] == "1 + V^2"
    assert attrs["voltage_model_candidates"] == "1 + V^2; 1 + V^2 + V^4"
    assert np.all(np.isfinite(attrs["voltage_model_holdout_rms_kT"]))


def test_two_voltages_give_the_symmetric_model_without_held_out_error():
    model = VoltageModel.fit(synthetic([0.0, 0.5]))
    assert model.powers == (0, 2) and np.isnan(model.holdout["1 + V^2"])
    with pytest.raises(ExtrapolationError, match="--extrapolate"):
        model.free_energy(0.6)
    model.free_energy(-0.5)  # |V| counts for a symmetric pore


def test_cli_refuses_extrapolation_and_records_the_model(tmp_path):
    path = tmp_path / "p.nc"
    save_profile(synthetic([0.0, 0.3, 0.6, 0.9], noise=0.2, seed=4), path)
    runner = CliRunner()
    result = runner.invoke(main, ["rates", str(path), "--voltages", "0.5,1.5"])
    assert result.exit_code == 1 and "--extrapolate" in result.output
    assert "Traceback" not in result.output
    out = tmp_path / "r.nc"
    result = runner.invoke(main, ["rates", str(path), "--voltages", "0.5,1.5", "--extrapolate",
                                  "--dry", "2", "--wet", "10", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "extrapolated" in result.output
    import xarray as xr

    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["voltage_model_terms"] == "1 + V^2"
        assert ds.attrs["voltage_model_extrapolated"] == 1
        assert np.all(np.isfinite(ds.attrs["voltage_model_holdout_rms_kT"]))
        assert np.all(ds["k_wet_lower"].values <= ds["k_wet"].values)
        assert np.all(ds["k_wet"].values <= ds["k_wet_upper"].values)
