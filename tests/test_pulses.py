"""Pulse trains (learning and forgetting) and the conductance of the two-state pore."""

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy.linalg import expm

from langevin.conductance import ConductanceModel
from langevin.hysteresis import memristor_loops
from langevin.pulses import pulse_response, pulse_train
from nanopore.cli import main
from nanopore.profile import save_profile
from nanopore.synthetic import model_pore_profile
from nanopore.voltage_model import VoltageModel

K_ON = (5.0e6, 1.0e5)  # wets during a pulse (1/s)
K_OFF = (1.0e4, 1.0e6)  # dries at rest: relaxation time about 1 us


def _by_generator(k_on, k_off, width, interval, count, initial):
    """The same train from matrix exponentials of the two-state generator."""
    def generator(k_wet, k_dry):
        return np.array([[-k_wet, k_dry], [k_wet, -k_dry]])  # d(P_dry, P_wet)/dt

    on, off = expm(generator(*k_on) * width), expm(generator(*k_off) * interval)
    state = np.array([1.0 - initial, initial])
    after = []
    for _ in range(count):
        state = on @ state
        after.append(state[1])
        state = off @ state
    return np.array(after)


def test_train_matches_the_matrix_exponential():
    before, after = pulse_train(K_ON, K_OFF, 2e-7, [1e-8, 1e-6, 1e-4], 6)
    initial = K_OFF[0] / sum(K_OFF)
    np.testing.assert_allclose(before[:, 0], initial)
    for k, interval in enumerate([1e-8, 1e-6, 1e-4]):
        np.testing.assert_allclose(after[k], _by_generator(K_ON, K_OFF, 2e-7, interval, 6, initial),
                                   rtol=1e-10)


def test_learning_with_short_and_forgetting_with_long_intervals():
    relaxation = 1.0 / sum(K_OFF)
    intervals = relaxation * np.array([0.01, 0.1, 1.0, 10.0, 100.0])
    before, after = pulse_train(K_ON, K_OFF, 2e-8, intervals, 12)
    assert np.all(np.diff(after[0]) > 0)  # learning: grows from pulse to pulse
    assert after[0, -1] > 3 * after[0, 0]
    last = after[:, -1]
    assert np.all(np.diff(last) < 0)  # forgetting: longer rests, lower conductance
    np.testing.assert_allclose(after[-1], after[-1, 0], rtol=1e-12)  # forgets completely
    assert np.all(before[:, 1:] < after[:, :-1])  # it relaxes during every rest
    with pytest.raises(ValueError, match="width"):
        pulse_train(K_ON, K_OFF, 0.0, [1.0], 3)


def test_conductance_is_g_dry_plus_g_wet_minus_g_dry_times_p_wet(tmp_path):
    model = VoltageModel.fit(model_pore_profile())
    conductance = ConductanceModel(0.2e-9, 1.5e-9)
    pulses = pulse_response(model, 0.5, 1e-8, [1e-9, 1e-6], 5, conductance)
    np.testing.assert_allclose(pulses["conductance"], 0.2 + 1.3 * pulses["p_wet"], rtol=1e-12)
    assert pulses["conductance"].attrs["units"] == "nS"
    loops = memristor_loops(model, 0.5, [1e5], conductance=conductance, n_periods=2,
                            steps_per_period=100)
    np.testing.assert_allclose(loops["conductance"], 0.2e-9 + 1.3e-9 * loops["p_wet"], rtol=1e-12)


def test_pulses_command_writes_trains_and_figure(tmp_path):
    path, out, png = tmp_path / "p.nc", tmp_path / "pulses.nc", tmp_path / "pulses.png"
    save_profile(model_pore_profile(), path)
    runner = CliRunner()
    result = runner.invoke(main, ["pulses", str(path), "--amplitude", "0.5", "--width", "1e-8",
                                  "--interval", "1e-9", "--interval", "1e-8", "--interval", "1e-6",
                                  "--count", "10", "-o", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "drying time" in result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        g = ds["conductance"].values
        assert ds["conductance"].dims == ("interval", "pulse") and g.shape == (3, 10)
        assert np.all(np.diff(g[0]) > 0) and np.all(np.diff(g[:, -1]) < 0)
        assert ds.attrs["drying_time"] == pytest.approx(1.0 / float(ds["k_dry"].sel(voltage=0.0)))
    assert png.stat().st_size > 10_000
    result = runner.invoke(main, ["pulses", str(path), "--amplitude", "0.9", "--width", "1e-8",
                                  "--interval", "1e-9"])
    assert result.exit_code == 1 and "--extrapolate" in result.output
    assert "Traceback" not in result.output
