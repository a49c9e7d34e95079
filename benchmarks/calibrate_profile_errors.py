"""How far to trust the profile errors of ``nanopore fes``: stated against actual, known truth.

Run ``python benchmarks/calibrate_profile_errors.py`` (about 5 minutes on 2 CPU
cores; ``--repeats`` and ``--bootstrap`` to change the work). It draws umbrella
windows on a known profile (a tilted quartic double well: dry minimum at N = 2,
wet at N = 8, barrier 4 kT; 12 windows every molecule, beta kappa = 5 per
molecule^2; grid of 18 bins of 0.5 molecule over N = 0.5-9.5) many times, each time with a new
seed, and runs the route of ``nanopore fes`` on them
(:func:`analysis.fes.analyse_voltage`: with or without equilibration detection,
``nanopore fes`` and ``nanopore fes --no-equilibration``; the windows start in
equilibrium here, so detection has nothing real to remove; decorrelation, WHAM
on the kept samples, 50 bootstrap replicates of the decorrelated
samples, errors of Omega(N) - Omega(dry minimum)). For every grid point it
compares the stated error with the actual deviation from the truth,

    d = [Omega(N) - Omega(N_gauge)] - [Omega_true(N) - Omega_true(N_gauge)],

pooled over points and repeats:

* ``actual / stated``: rms of d over rms of the stated errors (1 when the
  errors mean what they say; below 1 conservative, above 1 too small);
* ``95 % cover``: fraction of points with |d| < 1.96 error (0.95 when the
  errors are right and Gaussian);
* ``filled``: fraction of grid points that fewer than two bootstrap replicates
  defined, whose error ``fes`` sets to the largest of the others.

The baseline in the same run is the case the bootstrap assumes: independent
samples (``independent`` rows, as many per window as the correlated rows have
effective samples). The ``correlated`` rows are overdamped Langevin
trajectories sampled every 0.05 ps (D = 1 molecule^2/ps), as MD gives them;
the route decorrelates them by their statistical inefficiency first.

Measured (20 repeats, 50 replicates, seed 7): without detection the stated
errors are somewhat conservative (actual/stated 0.8-0.93, 95 % intervals cover
96-99 %) at 18-67 effective samples per window, correlated or not. With
detection on windows that need none they are too small: actual/stated 2.0 at
about 25 effective samples per window (95 % intervals cover 70 %) and 1.3 at
about 65 (89 %). Detection picks the start that maximises the effective sample
count of what is left, which on short series favours a stretch whose
autocorrelation happens to look short: fewer samples are used and more are
counted as independent. ``md_setups`` windows exclude their own equilibration
(the pulled target), so ``--no-equilibration`` (``[pipeline]
detect_equilibration = false``, as in the quick setup and the reference data)
is the better choice for them unless a window visibly drifts.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

CENTERS = np.arange(-0.5, 10.51, 1.0)
EDGES = np.linspace(0.5, 9.5, 19)
KAPPA_REDUCED = 5.0
INTERVAL_PS = 0.05
#: (samples per window, correlated, equilibration detection); the correlated
#: lengths give about 25 and 65 effective samples per window, the independent
#: ones about as many
CASES = [(20, False, False), (100, True, False), (100, True, True),
         (60, False, False), (300, True, False), (300, True, True)]


def profile(n: np.ndarray) -> np.ndarray:
    """The true Omega(N) (kT)."""
    from nanopore.synthetic import quartic_double_well

    return quartic_double_well(n, dry=2.0, wet=8.0, barrier_height=4.0, tilt=1.0)


def one_case(n_samples: int, correlated: bool, detect: bool, repeats: int, n_bootstrap: int,
             seed: int) -> dict[str, float]:
    """Stated and actual errors of one case over ``repeats`` independent data sets."""
    from analysis.decorrelation import decorrelate_all
    from analysis.fes import analyse_voltage
    from analysis.synthetic import bin_averaged, synthetic_windows

    truth = bin_averaged(profile, EDGES)
    deviations, errors, filled, n_effective = [], [], [], []
    for repeat in range(repeats):
        # the same data for both detection settings of a case
        rng = np.random.default_rng([seed, repeat, int(correlated), n_samples])
        windows = synthetic_windows(profile, CENTERS, KAPPA_REDUCED, n_samples, seed=rng,
                                    correlated=correlated, interval=INTERVAL_PS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decorrelated = decorrelate_all(windows, detect=detect)
            analysis, _ = analyse_voltage(decorrelated, EDGES, "wham", "equilibrated",
                                          n_bootstrap, rng, check_convergence=False)
        gauge = analysis.gauge_index
        inside = np.arange(EDGES.size - 1) != gauge
        deviation = analysis.free_energy - (truth - truth[gauge])
        deviations.append(deviation[inside])
        errors.append(analysis.error[inside])
        defined = np.isfinite(analysis.replicates).sum(axis=0) if analysis.replicates is not None \
            else np.full(truth.size, n_bootstrap)
        filled.append(np.mean(defined[inside] < 2))
        n_effective.append(np.mean([item.n_effective for item in decorrelated]))
    deviation = np.concatenate(deviations)
    error = np.concatenate(errors)
    ok = np.isfinite(deviation) & np.isfinite(error) & (error > 0)
    return {
        "n_effective": float(np.mean(n_effective)),
        "actual_rms": float(np.sqrt(np.mean(deviation[ok] ** 2))),
        "stated_rms": float(np.sqrt(np.mean(error[ok] ** 2))),
        "cover": float(np.mean(np.abs(deviation[ok]) < 1.96 * error[ok])),
        "filled": float(np.mean(filled)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="data sets per case (20)")
    parser.add_argument("--bootstrap", type=int, default=50, help="replicates per fit (50)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.bootstrap < 2:
        parser.error("--repeats and --bootstrap must be at least 2")
    print(f"{'samples':>12s} {'detection':>9s} {'per window':>10s} {'N_eff':>6s} {'actual kT':>9s} "
          f"{'stated kT':>9s} {'actual/stated':>13s} {'95 % cover':>10s} {'filled':>7s}")
    for n_samples, correlated, detect in CASES:
        row = one_case(n_samples, correlated, detect, args.repeats, args.bootstrap, args.seed)
        ratio = row["actual_rms"] / row["stated_rms"]
        print(f"{'correlated' if correlated else 'independent':>12s} {'on' if detect else 'off':>9s} "
              f"{n_samples:>10d} "
              f"{row['n_effective']:>6.1f} {row['actual_rms']:>9.2f} {row['stated_rms']:>9.2f} "
              f"{ratio:>13.2f} {row['cover']:>10.2f} {row['filled']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
