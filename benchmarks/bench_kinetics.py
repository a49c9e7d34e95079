"""Kinetics benchmarks: Langevin throughput, exact rates over voltages, a Fokker-Planck loop.

Run ``python benchmarks/bench_kinetics.py``; prints a table with the baselines
measured in the same run:

* Langevin steps per second per core with every feature on (dD/dN term, reflecting
  walls, absorbing target, in-kernel normal deviates), on one and two threads,
  against (a) the same integrator in vectorised NumPy and (b) a plain serial numba
  Euler-Maruyama loop over a tabulated force with pre-drawn noise and none of the
  features.
* Rates at 100 voltages on a 400-point grid by the exact integral (target 10 ms).
* The Fokker-Planck MFPT over a 200 kT barrier against the exact integral.
* One Fokker-Planck hysteresis loop, 400 grid points, at least 10 periods to its
  periodic state (target 1 s).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from langevin.hysteresis import memristor_loops
from langevin.langevin import build_tables, run_ensemble
from langevin.plots import format_table
from langevin.rates import rates_dataset
from nanopore.synthetic import model_pore_profile, quartic_double_well
from nanopore.voltage_model import VoltageModel


@numba.njit(cache=True)
def plain_euler_loop(x0, force, grid_start, inverse_spacing, noise, dt, amplitude):
    """Baseline: serial Euler-Maruyama over a tabulated force, pre-drawn noise, no features."""
    x = x0
    last = force.size - 1
    for k in range(noise.size):
        cell = int((x - grid_start) * inverse_spacing)
        if cell < 0:
            cell = 0
        elif cell > last:
            cell = last
        x += force[cell] * dt + amplitude * noise[k]
    return x


def numpy_ensemble(n, f, d, dt, n_traj, n_steps, seed):
    """Baseline: the same integrator (D' term, walls, absorption) vectorised in NumPy."""
    rng = np.random.default_rng(seed)
    drift = -d * np.gradient(f, n) + np.gradient(d, n)
    x = np.full(n_traj, 2.0)
    alive = np.ones(n_traj, dtype=bool)
    for _ in range(n_steps):
        a = np.interp(x, n, drift)
        s = np.sqrt(2.0 * np.interp(x, n, d) * dt)
        x = np.where(alive, x + a * dt + s * rng.standard_normal(n_traj), x)
        x = np.where(x < n[0], 2 * n[0] - x, x)
        x = np.where(x > n[-1], 2 * n[-1] - x, x)
        alive &= x < 1e9
    return x


def best_of(func, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = np.linspace(-1.0, 11.0, 401)
    f = quartic_double_well(n, 2.0, 8.0, 12.0)
    d = 0.5 + 0.1 * n
    dt = 1e-4
    tables = build_tables(n, f, d, dt)
    rows = []

    n_traj, n_steps = 256, 200_000
    run = lambda: run_ensemble(tables, 2.0, 2, n_steps // 2, seed=1, n_trajectories=n_traj,
                               absorb_above=1e9)
    hardware = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(1)
    run()
    t1 = best_of(run)
    one_core = n_traj * n_steps / t1
    two_core = float("nan")
    if hardware >= 2:
        numba.set_num_threads(2)
        t2 = best_of(run)
        two_core = n_traj * n_steps / t2
    numba.set_num_threads(hardware)

    noise = np.random.default_rng(0).standard_normal(20_000_000)
    force = (-d * np.gradient(f, n))
    plain_euler_loop(2.0, force, n[0], 1 / (n[1] - n[0]), noise[:10], dt, 0.01)
    t_plain = best_of(lambda: plain_euler_loop(2.0, force, n[0], 1 / (n[1] - n[0]), noise, dt, 0.01))
    plain = noise.size / t_plain
    t_np = best_of(lambda: numpy_ensemble(n, f, d, dt, 10_000, 200, 0), repeats=1)
    numpy_rate = 10_000 * 200 / t_np

    rows.append(["Langevin, all features, 1 thread", f"{one_core:.3g} steps/s", ">= 4e7 /core",
                 f"{one_core / plain:.2f}x plain loop"])
    rows.append(["Langevin, all features, 2 threads", f"{two_core:.3g} steps/s", ">= 1.8x",
                 f"{two_core / one_core:.2f}x 1 thread"])
    rows.append(["baseline: plain numba loop, pre-drawn noise", f"{plain:.3g} steps/s", "", ""])
    rows.append(["baseline: same integrator in NumPy", f"{numpy_rate:.3g} steps/s", "",
                 f"kernel {one_core / numpy_rate:.0f}x faster"])

    profile = model_pore_profile(n_grid=400)
    model = VoltageModel.fit(profile)
    volts = np.linspace(0.0, 0.5, 100)
    energies, diffusion = model.free_energy(volts), model.diffusion_at(volts)
    rates_dataset(model.n, energies, diffusion, volts)
    t_rates = best_of(lambda: rates_dataset(model.n, energies, diffusion, volts), repeats=5)
    from langevin.basins import Basins
    from langevin.rates import rate_arrays

    fixed = [Basins(16, 130, 333)] * volts.size
    t_integral = best_of(lambda: rate_arrays(model.n, energies, diffusion, fixed), repeats=5)
    rows.append(["rates, 100 voltages x 400 points, exact (with basin search)",
                 f"{t_rates * 1e3:.2f} ms", "<= 10 ms", ""])
    rows.append(["  of which the double integrals", f"{t_integral * 1e3:.2f} ms", "", ""])

    from langevin.fokker_planck import log_mfpt_fokker_planck
    from langevin.mfpt import log_mfpt

    steep = np.linspace(0.0, 40.0, 121)
    wall = quartic_double_well(steep, 4.0, 34.0, 200.0, tilt=3.0)
    ones = np.ones_like(steep)
    log_mfpt_fokker_planck(steep, wall, ones, 12, 102)
    t_fp = best_of(lambda: log_mfpt_fokker_planck(steep, wall, ones, 12, 102), repeats=3)
    ratio = np.exp(log_mfpt_fokker_planck(steep, wall, ones, 12, 102)
                   - log_mfpt(steep, wall, ones, 12, 102))
    rows.append(["Fokker-Planck MFPT, 200 kT barrier, refined to 0.1 kT/cell",
                 f"{t_fp * 1e3:.2f} ms", "within 1 % of exact", f"FP/exact = {ratio:.5f}"])

    memristor_loops(model, 0.45, [1e5], method="fokker-planck", n_periods=1, steps_per_period=50)
    t_loop = best_of(lambda: memristor_loops(model, 0.45, [1e5], method="fokker-planck",
                                             n_periods=10, steps_per_period=400))
    rows.append(["Fokker-Planck loop, 400 points, >= 10 periods x 400 steps",
                 f"{t_loop:.3f} s", "< 1 s", ""])
    print(format_table(["benchmark", "measured", "target", "vs baseline"], rows))


if __name__ == "__main__":
    main()
