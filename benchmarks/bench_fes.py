"""Free-energy benchmark: the default and mbar routes against pymbar's MBAR, 30 x 20000 samples.

Run ``python benchmarks/bench_fes.py``. It draws 30 umbrella windows of 20,000
samples each on a model filling profile (a tilted double well over N = 0-29,
dry minimum at N = 4, barrier 8 kT, windows every molecule, beta kappa = 2 per
molecule^2: sqrt(kT/kappa) = 0.7 molecule), then, each in a fresh subprocess so
that peak memory is its own:

* ``default``: the route ``nanopore fes`` takes by default, the whole of
  :func:`analysis.fes.compute_profile`: equilibration detection and
  decorrelation of every window, WHAM on fine histograms of every equilibrated
  sample, 50 bootstrap replicates, overlap matrix, first-half/second-half check,
  Hummer diffusion;
* ``wham``: the WHAM solve and profile alone, on the same samples;
* ``pymbar``: ``pymbar.MBAR(u_kn, N_k)`` with its default solver on the same
  equilibrated samples, then ``pymbar.FES`` histogram profile on the same grid.

* ``mbar``: ``compute_profile(method="mbar")``, the route of ``nanopore fes
  --method mbar``: the same diagnostics, MBAR on the decorrelated samples, its
  analytic errors (the default), the first-half/second-half check;
* ``pymbar_mbar``: ``pymbar.MBAR(u_kn, N_k)`` alone, pymbar's default solver, on
  the same decorrelated samples (the target: ``mbar`` within 2x of it);
* ``cli``: ``nanopore fes WINDOWS -o profile.nc`` as a user runs it, on the same
  windows saved as window files: wall time including the interpreter's start-up
  and the imports (best and median of three; the target: under 3 s).

Peak memory is the subprocess's maximum resident set (``resource.getrusage``),
which includes the interpreter, the libraries and the loaded samples (the
``baseline`` row: imports and data only). ``tracemalloc`` is not used: tracing
every small array slows an iterative solver several-fold. Agreement is the largest |Omega_default - Omega_pymbar| on the
grid, both zero at the default route's dry minimum.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

N_WINDOWS = 30
N_SAMPLES = 20_000
KAPPA_REDUCED = 2.0
SEED = 2024


def model_profile(n):
    """Tilted quartic double well (kT): dry at N = 4, wet at N = 24, barrier 8 kT."""
    from nanopore.synthetic import quartic_double_well

    return quartic_double_well(n, 4.0, 24.0, 8.0, tilt=2.0)


def make_data(path: Path) -> None:
    from analysis.synthetic import synthetic_windows

    windows = synthetic_windows(model_profile, np.arange(N_WINDOWS, dtype=float), KAPPA_REDUCED,
                                N_SAMPLES, seed=SEED)
    np.savez(path, n=np.array([w.n for w in windows]), centers=[w.center for w in windows],
             kappa=[w.spring_constant for w in windows], temperature=windows[0].temperature)


def load_windows(path: Path):
    from nanopore.windows import Window

    data = np.load(path, allow_pickle=False)
    return [Window(time=0.1 * np.arange(n.size), n=n, center=c, spring_constant=k,
                   temperature=float(data["temperature"]), source=f"window {j}")
            for j, (n, c, k) in enumerate(zip(data["n"], data["centers"], data["kappa"]))]


def run_case(case: str, data_path: Path, out_path: Path) -> None:
    """One measurement, in this (fresh) process; writes a JSON report."""
    warnings.simplefilter("ignore")
    import pymbar  # noqa: F401

    import analysis.fes  # noqa: F401  (imports count towards the baseline)

    windows = load_windows(data_path)
    report: dict = {}
    start = time.perf_counter()
    if case == "default":
        from analysis.fes import compute_profile

        result = compute_profile(windows)
        item = result.voltages[0]
        report.update(edges=result.edges.tolist(), free_energy=item.free_energy.tolist(),
                      error=item.error.tolist(), gauge=item.gauge_index,
                      starts=[w.start for w in item.windows])
    elif case == "mbar":
        from analysis.fes import compute_profile

        result = compute_profile(windows, method="mbar")
        item = result.voltages[0]
        report.update(samples=int(item.data.counts.sum()),
                      median_error=float(np.median(item.error)))
    elif case == "pymbar_mbar":
        from pymbar import MBAR

        from analysis.data import UmbrellaData
        from analysis.decorrelation import decorrelate_all

        data = UmbrellaData.from_windows(decorrelate_all(windows), which="independent")
        x, _ = data.concatenated()
        u_kn = data.reduced_bias(x)
        start = time.perf_counter()  # the MBAR solve alone
        MBAR(u_kn, data.counts, verbose=False)
        report["samples"] = int(x.size)
    elif case in ("wham", "pymbar"):
        reference = json.loads(out_path.with_name("default.json").read_text())
        edges = np.array(reference["edges"])
        from analysis.data import UmbrellaData

        trimmed = [w.n[s:] for w, s in zip(windows, reference["starts"])]
        data = UmbrellaData.from_windows(windows)
        data = UmbrellaData(trimmed, data.centers, data.kappa, data.temperature, data.names)
        if case == "wham":
            from analysis.wham import WHAM

            values = WHAM(edges).fit(data).free_energy
        else:
            from pymbar import FES

            x, _ = data.concatenated()
            u_kn = data.reduced_bias(x)
            solve = time.perf_counter()
            fes = FES(u_kn, data.counts)  # pymbar's default MBAR solve
            report["mbar_solve_s"] = time.perf_counter() - solve
            bins = np.concatenate([[x.min() - 1e-9], edges, [x.max() + 1e-9]])
            fes.generate_fes(np.zeros(x.size), x, fes_type="histogram",
                             histogram_parameters={"bin_edges": bins})
            hist = fes.histogram_data
            values = np.array([hist["f"][hist["bin_order"][hist["bin_label"][(j + 1,)]]]
                               for j in range(edges.size - 1)]) + np.log(np.diff(edges))
        values = values - values[reference["gauge"]]
        report["free_energy"] = values.tolist()
    elif case != "baseline":
        raise ValueError(case)
    report["seconds"] = time.perf_counter() - start
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out_path.write_text(json.dumps(report))


def measure(case: str, data_path: Path, folder: Path) -> dict:
    out = folder / f"{case}.json"
    subprocess.run([sys.executable, __file__, "--case", case, str(data_path), str(out)], check=True,
                   stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def write_window_files(data_path: Path, folder: Path) -> None:
    """The benchmark's windows as window files (what the MD stage writes)."""
    from analysis.cli import write_window

    for j, window in enumerate(load_windows(data_path)):
        write_window(folder / f"window_{j:02d}.h5", window.time, window.n,
                     {"center": window.center, "spring_constant": window.spring_constant,
                      "temperature": window.temperature, "voltage": 0.0})


def measure_cli(folder: Path, repeats: int = 3) -> list[float]:
    """Wall times (s) of ``nanopore fes`` on the window files, start-up included."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nanopore", "fes", str(folder / "windows"), "-o",
                        str(folder / "profile.nc")], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    from langevin.plots import format_table

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_path = folder / "windows.npz"
        start = time.perf_counter()
        make_data(data_path)
        print(f"{N_WINDOWS} windows x {N_SAMPLES} samples drawn in {time.perf_counter() - start:.1f} s")
        results = {case: measure(case, data_path, folder)
                   for case in ("baseline", "default", "wham", "pymbar", "mbar", "pymbar_mbar")}
        write_window_files(data_path, folder / "windows")
        cli_times = measure_cli(folder)
    reference = np.array(results["pymbar"]["free_energy"])
    error = np.array(results["default"]["error"])
    rows = []
    labels = {"baseline": "imports and data only", "default": "default route (nanopore fes)",
              "wham": "WHAM solve + profile", "pymbar": "pymbar MBAR + FES histogram"}
    labels.update(mbar="mbar route, analytic errors", pymbar_mbar="pymbar MBAR solve alone")
    for case, item in results.items():
        if case in ("mbar", "pymbar_mbar"):
            continue
        agree = ""
        if "free_energy" in item:
            agree = f"{np.max(np.abs(np.array(item['free_energy']) - reference)):.4f}"
        speedup = results["pymbar"]["seconds"] / item["seconds"] if case != "baseline" else ""
        rows.append([labels[case], item["seconds"], speedup if speedup == "" else f"{speedup:.1f}x",
                     item["max_rss_mb"], agree])
    print(format_table(["route", "time (s)", "vs pymbar", "peak RSS (MB)",
                        "max |dOmega| vs pymbar (kT)"], rows))
    print(f"pymbar MBAR solve alone: {results['pymbar']['mbar_solve_s']:.1f} s; "
          f"{len(reference)} grid points; median bootstrap error of the default route "
          f"{np.median(error):.3f} kT")
    print()
    mbar, solve = results["mbar"], results["pymbar_mbar"]
    ratio = mbar["seconds"] / solve["seconds"]
    print(format_table(
        ["--method mbar on the decorrelated samples", "samples", "time (s)", "vs pymbar MBAR",
         "target"],
        [[labels["mbar"], mbar["samples"], mbar["seconds"], f"{ratio:.2f}x", "<= 2x"],
         [labels["pymbar_mbar"], solve["samples"], solve["seconds"], "1x", ""]]))
    print(f"median analytic error of the mbar route {mbar['median_error']:.3f} kT")
    print()
    print(format_table(["nanopore fes on window files (start-up included)", "best (s)",
                        "median (s)", "target"],
                       [["default route, 30 x 20000 samples", min(cli_times),
                         float(np.median(cli_times)), "< 3 s"]]))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--case":
        run_case(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
