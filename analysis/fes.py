"""From windows to the profile dataset: the free-energy stage's driver.

For every voltage (each voltage is its own set of windows and its own profile):

1. detect equilibration and decorrelate each window (:mod:`analysis.decorrelation`);
2. estimate Omega(N) on a grid common to all voltages with the chosen estimator
   (``wham`` by default; ``mbar`` or ``ui``);
3. pin the gauge: Omega = 0 at the dry minimum, the lowest-N basin minimum of
   the profile (:mod:`analysis.gauge`);
4. the standard error: bootstrap replicates of the decorrelated samples (WHAM draws
   them as multinomial histograms, MBAR on threads), or MBAR's analytic error,
   MBAR's default;
5. compute the overlap matrix and report poorly connected neighbours and windows
   with too few effective samples by name; compare the first and second halves;
6. estimate D(N) per window by Hummer's method and interpolate it onto the grid.

Which samples feed the estimate: every equilibrated sample for ``wham`` and
``ui`` (they cost little per sample), the decorrelated subsample for ``mbar``
(whose cost grows as windows x samples). The bootstrap always resamples the
decorrelated subsample, so the error is that of the effectively independent
data. Windows are weighted by their sample counts, as in pymbar's and
Grossfield's defaults.

Windows whose mean sits many standard deviations from their restraint centre
are refused, and unfinished windows are named. The grid spans the N range
sampled at every voltage (or the range asked for), trimmed at the ends to bins
with at least ``min_count`` samples; a bin inside it without samples is an
error (the windows leave a gap there).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from analysis.bootstrap import bootstrap_profiles, gauged_replicates, profile_error
from analysis.bootstrap import keep_replicates as store_replicates
from analysis.convergence import ConvergenceCheck, convergence_check
from analysis.data import UmbrellaData
from analysis.decorrelation import DecorrelatedWindow, decorrelate_all, too_few_samples
from analysis.diffusion import WindowDiffusion, hummer_diffusion, interpolate_diffusion
from analysis.errors import AnalysisError
from analysis.estimator import METHODS, FreeEnergyEstimate, bin_centers, make_estimator
from analysis.gauge import apply_gauge, dry_minimum_index
from analysis.overlap import overlap_matrix, poor_neighbours
from analysis.readers import group_by_voltage
from analysis.resampling import (
    histogram_bootstrap_profiles,
    parallel_bootstrap_profiles,
)
from nanopore.profile import make_profile
from nanopore.provenance import annotate
from nanopore.units import GAS_CONSTANT_KJ
from nanopore.windows import Window

#: samples each estimator uses by default: "equilibrated" (all) or "independent"
DEFAULT_SAMPLES = {"wham": "equilibrated", "ui": "equilibrated", "mbar": "independent"}
#: bootstrap replicates by default; 0 for mbar, whose error is analytic
DEFAULT_BOOTSTRAP = {"wham": 50, "ui": 50, "mbar": 0}
#: largest accepted distance of a window's mean from its centre (thermal widths of the
#: restraint, or standard deviations of the samples where wider)
MAX_OFFSET = 10.0
#: the collective variable when the windows do not name theirs
DEFAULT_CV = ("number of water molecules in the pore", "molecules")


@dataclass
class VoltageAnalysis:
    """Everything computed for the windows of one voltage.

    Attributes
    ----------
    voltage : float
        Voltage (V).
    windows : list of DecorrelatedWindow
        The windows, sorted by centre.
    data : UmbrellaData
        The samples the estimate used.
    independent : UmbrellaData
        The decorrelated samples (bootstrap, overlap).
    estimate : FreeEnergyEstimate
        The estimator's raw output.
    free_energy : ndarray
        Omega (kT) on the grid, zero at the dry minimum.
    error : ndarray or None
        Bootstrap standard error (kT).
    gauge_index : int
        Grid index of the dry minimum.
    overlap : ndarray
        Overlap matrix of the windows.
    poor_overlap, few_samples : list of str
        Reports by window name.
    convergence : ConvergenceCheck or None
        First half against second half.
    diffusion : list of WindowDiffusion
        Per-window diffusion estimates.
    diffusion_grid, diffusion_error : ndarray
        D and its error on the grid (molecules^2/ps).
    histograms : ndarray, shape (n_windows, n_grid)
        Counts of each window's samples in the grid's bins.
    replicates : ndarray or None
        Bootstrap replicate profiles in the gauge of ``free_energy`` (kT).
    """

    voltage: float
    windows: list[DecorrelatedWindow]
    data: UmbrellaData
    independent: UmbrellaData
    estimate: FreeEnergyEstimate
    free_energy: np.ndarray
    error: np.ndarray | None
    gauge_index: int
    overlap: np.ndarray
    poor_overlap: list[str]
    few_samples: list[str]
    convergence: ConvergenceCheck | None
    diffusion: list[WindowDiffusion]
    diffusion_grid: np.ndarray
    diffusion_error: np.ndarray
    histograms: np.ndarray
    replicates: np.ndarray | None = None


@dataclass
class FESResult:
    """The profile dataset and the diagnostics behind it.

    Attributes
    ----------
    profile : xarray.Dataset
        The profile (see :mod:`nanopore.profile`).
    edges : ndarray
        Bin edges of the grid (molecules).
    voltages : list of VoltageAnalysis
        Per-voltage details, voltages increasing.
    warnings : list of str
        Problems found (window names included).
    """

    profile: xr.Dataset
    edges: np.ndarray
    voltages: list[VoltageAnalysis]
    warnings: list[str] = field(default_factory=list)


def profile_edges(
    datasets: Sequence[UmbrellaData],
    bin_width: float | None = None,
    bins: int | None = None,
    min_count: int = 10,
    n_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Bin edges of a grid common to several voltages.

    Parameters
    ----------
    datasets : sequence of UmbrellaData
        One per voltage.
    bin_width : float, optional
        Bin width (molecules). Default: a third of the median window standard
        deviation (so each window spans a dozen bins), or from ``bins``.
    bins : int, optional
        Number of bins over the common range before trimming.
    min_count : int, optional
        End bins with fewer samples than this at any voltage are trimmed.
    n_range : (float, float), optional
        Lowest and highest N of the grid (molecules); it must lie inside the range
        sampled at every voltage. Default: that whole range.

    Returns
    -------
    ndarray
        Bin edges (molecules).

    Raises
    ------
    AnalysisError
        When the voltages share no N range, or a bin inside the grid is empty.
    """
    lows = [min(float(s.min()) for s in d.samples) for d in datasets]
    highs = [max(float(s.max()) for s in d.samples) for d in datasets]
    low, high = max(lows), min(highs)
    if not high > low:
        raise AnalysisError(
            f"the voltages sample no common N range (lowest maxima {high:g}, highest minima "
            f"{low:g} molecules); a profile dataset needs one grid: analyse voltages separately"
        )
    if n_range is not None:
        lo, hi = (float(v) for v in n_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise AnalysisError(f"the grid range {lo:g},{hi:g} is empty; give LO,HI with LO < HI")
        if lo < low - 1e-9 or hi > high + 1e-9:
            raise AnalysisError(
                f"the grid range {lo:g} to {hi:g} reaches beyond the N sampled at every voltage "
                f"({low:.4g} to {high:.4g}); choose a range inside it or add windows there"
            )
        low, high = lo, hi
    if bins is not None:
        if bins < 3:
            raise AnalysisError(f"need at least 3 bins, got {bins}")
        width = (high - low) / bins
    elif bin_width is not None:
        if not bin_width > 0:
            raise AnalysisError(f"bin width must be positive (molecules), got {bin_width}")
        width = float(bin_width)
    else:
        spreads = [float(np.std(s)) for d in datasets for s in d.samples if s.size > 1]
        width = np.median(spreads) / 3.0 if spreads and np.median(spreads) > 0 else (high - low) / 50
        width = float(np.clip(width, (high - low) / 400, (high - low) / 20))
    n_bins = max(3, int(np.floor((high - low) / width + 1e-9)))
    edges = low + width * np.arange(n_bins + 1)
    counts = np.array([d.histogram(edges).sum(axis=0) for d in datasets])
    good = np.all(counts >= min_count, axis=0)
    if good.sum() < 3:
        raise AnalysisError(
            f"fewer than 3 bins of width {width:.3g} hold {min_count} samples at every voltage; "
            "run the windows longer, use wider bins (--bin-width) or lower --min-count"
        )
    first, last = int(np.argmax(good)), int(good.size - 1 - np.argmax(good[::-1]))
    inner = counts[:, first: last + 1]
    if np.any(inner == 0):
        v, j = np.argwhere(inner == 0)[0]
        a, b = edges[first + j], edges[first + j + 1]
        raise AnalysisError(
            f"no samples between N = {a:.3g} and {b:.3g} at {datasets[v].voltage:g} V: the "
            "windows leave a gap there; add windows near it, soften the restraints or use wider "
            "bins (--bin-width)"
        )
    return edges[first: last + 2]


def _estimator(method: str, edges: np.ndarray, fes_type: str, options: dict[str, Any]):
    if method == "mbar":
        return make_estimator("mbar", edges, fes_type=fes_type, **options)
    return make_estimator(method, edges, **options)


def analyse_voltage(
    windows: list[DecorrelatedWindow],
    edges: np.ndarray,
    method: str,
    samples: str,
    n_bootstrap: int,
    rng: np.random.Generator,
    fes_type: str = "histogram",
    min_effective: float = 50.0,
    min_overlap: float = 0.03,
    check_convergence: bool = True,
    progress: bool = False,
    estimator_options: dict[str, Any] | None = None,
    jobs: int = 0,
) -> tuple[VoltageAnalysis, list[str]]:
    """Profile, error, diagnostics and diffusion of one voltage's windows.

    Parameters
    ----------
    windows : list of DecorrelatedWindow
        One voltage's windows.
    edges : ndarray
        Bin edges of the grid (molecules).
    method : {"wham", "mbar", "ui"}
        Estimator.
    samples : {"equilibrated", "independent"}
        Samples for the estimate.
    n_bootstrap : int
        Bootstrap replicates; 0: MBAR's analytic error for ``mbar``, no error otherwise.
    rng : numpy.random.Generator
        Random source of the bootstrap.
    fes_type : str, optional
        MBAR profile type.
    min_effective : float, optional
        Windows with fewer effective samples are reported.
    min_overlap : float, optional
        Neighbours with less overlap are reported.
    check_convergence : bool, optional
        Compare first and second halves.
    progress : bool, optional
        Progress bars.
    estimator_options : dict, optional
        Passed to the estimator.
    jobs : int, optional
        Threads for the MBAR bootstrap (0: one per CPU core).

    Returns
    -------
    VoltageAnalysis
    list of str
        Warnings.
    """
    notes: list[str] = []
    data = UmbrellaData.from_windows(windows, which=samples)
    independent = UmbrellaData.from_windows(windows, which="independent")
    voltage = data.voltage
    estimator = _estimator(method, edges, fes_type, dict(estimator_options or {}))
    estimate = estimator.fit(data)
    raw = estimate.free_energy
    if np.any(~np.isfinite(raw)):
        j = int(np.flatnonzero(~np.isfinite(raw))[0])
        raise AnalysisError(
            f"the {method} profile at {voltage:g} V is undefined near N = {estimate.n[j]:.3g} "
            "(no samples there); add windows, run longer, or use --samples equilibrated"
        )
    gauge = dry_minimum_index(estimate.n, raw)
    free_energy = apply_gauge(raw, gauge)
    error = None
    kept = None
    if n_bootstrap > 0:
        if hasattr(estimator, "warm_start"):
            estimator.warm_start(estimate.window_free_energies)
        if method == "wham":
            replicates = histogram_bootstrap_profiles(estimator, independent, n_bootstrap, rng,
                                                      initial=estimate.window_free_energies)
        elif method == "mbar":
            replicates = parallel_bootstrap_profiles(estimator, independent, n_bootstrap, rng,
                                                     jobs=jobs, progress=progress)
        else:
            replicates = bootstrap_profiles(estimator, independent, n_bootstrap, rng,
                                            progress=progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            error, error_notes = profile_error(replicates, gauge, estimate.n, voltage)
        notes.extend(error_notes)
        kept, _ = gauged_replicates(replicates, gauge, free_energy)
    elif hasattr(estimator, "analytic_error"):
        error = estimator.analytic_error(gauge)
    matrix = overlap_matrix(independent)
    poor = poor_neighbours(independent, matrix, min_overlap)
    if poor:
        notes.append(f"{voltage:g} V: poorly overlapping neighbours (< {min_overlap:g}): "
                     + "; ".join(poor))
    few = too_few_samples(windows, min_effective)
    if few:
        notes.append(f"{voltage:g} V: windows with fewer than {min_effective:g} effective "
                     "samples: " + "; ".join(few))
    convergence = None
    if check_convergence and error is not None and min(data.counts) >= 2:
        convergence = convergence_check(estimator, data, gauge, error)
        if not np.isfinite(convergence.max_difference):
            notes.append(f"{voltage:g} V: the first and second halves of the windows share no "
                         "grid point, so their profiles cannot be compared: the windows are far "
                         "from converged")
        elif not np.isfinite(convergence.max_z):
            notes.append(f"{voltage:g} V: the first and second halves differ by up to "
                         f"{convergence.max_difference:.2f} kT (no error to compare it with)")
        elif not convergence.converged:
            notes.append(
                f"{voltage:g} V: the first and second halves differ by up to "
                f"{convergence.max_difference:.2f} kT ({convergence.max_z:.1f} times their "
                "expected spread): the windows may not be converged or equilibrated"
            )
    estimates = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for item in windows:
            estimates.append(hummer_diffusion(item.equilibrated, item.window.timestep_between_samples,
                                              name=item.name))
    notes.extend(str(w.message) for w in caught)
    centers = bin_centers(edges)
    d_grid, d_error = interpolate_diffusion(estimates, centers)
    histograms = UmbrellaData.from_windows(windows, which="equilibrated").histogram(edges)
    analysis = VoltageAnalysis(voltage, windows, data, independent, estimate, free_energy, error,
                               gauge, matrix, poor, few, convergence, estimates, d_grid, d_error,
                               histograms)
    analysis.replicates = kept
    return analysis, notes


def compute_profile(
    windows: Sequence[Window],
    method: str = "wham",
    bins: int | None = None,
    bin_width: float | None = None,
    samples: str | None = None,
    n_bootstrap: int | None = None,
    seed: int | np.random.Generator = 0,
    fes_type: str = "histogram",
    min_effective: float = 50.0,
    min_overlap: float = 0.03,
    min_count: int = 10,
    detect_equilibration: bool = True,
    check_convergence: bool = True,
    progress: bool = False,
    inputs: Sequence[str] | None = None,
    keep_replicates: bool = False,
    estimator_options: dict[str, Any] | None = None,
    n_range: tuple[float, float] | None = None,
    max_offset: float = MAX_OFFSET,
    cv_name: str | None = None,
    cv_units: str | None = None,
    jobs: int = 0,
) -> FESResult:
    """Profile dataset from restrained windows, one profile per voltage.

    Parameters
    ----------
    windows : sequence of Window
        All windows (any voltages, one temperature).
    method : {"wham", "mbar", "ui"}, optional
        Estimator; ``wham`` is the default and fastest.
    bins : int, optional
        Number of grid bins over the common range (before trimming).
    bin_width : float, optional
        Grid spacing (molecules); default a third of the median window spread.
    samples : {"equilibrated", "independent"}, optional
        Samples for the estimate; default per method (see the module docstring).
    n_bootstrap : int, optional
        Bootstrap replicates for the error. Default: 50 for ``wham`` and ``ui``; 0
        for ``mbar``, whose error is then MBAR's analytic one. 0 for ``wham`` and
        ``ui``: no error.
    seed : int or numpy.random.Generator, optional
        Random seed of the bootstrap.
    fes_type : {"histogram", "kde", "spline"}, optional
        Profile type of ``mbar``.
    min_effective : float, optional
        Windows with fewer effective samples are reported.
    min_overlap : float, optional
        Neighbouring windows with less overlap are reported.
    min_count : int, optional
        Grid ends are trimmed to bins with at least this many samples.
    detect_equilibration : bool, optional
        Discard each window's equilibration region.
    check_convergence : bool, optional
        Compare the first and second halves.
    progress : bool, optional
        Progress bars.
    inputs : sequence of str, optional
        Input files, recorded in the provenance.
    keep_replicates : bool, optional
        Keep the bootstrap replicate profiles in the profile as
        ``free_energy_replicates`` (dims ``replicate`` + the profile's), for
        confidence intervals of the kinetics.
    estimator_options : dict, optional
        Passed to the estimator (e.g. ``{"oversample": 16}`` for WHAM).
    n_range : (float, float), optional
        Lowest and highest N of the grid (molecules); default: the range sampled
        at every voltage.
    max_offset : float, optional
        A window whose equilibrated mean sits more than this many of its standard
        deviations from its restraint centre is an error (the restraint did not
        hold it: a spring constant in other units, an unreachable target, a
        periodic CV); ``inf`` accepts any.
    cv_name, cv_units : str, optional
        Name and units of the collective variable; default: from the windows
        (their ``cv_name`` and ``cv_units`` metadata or COLVAR column), else water
        molecules in the pore.
    jobs : int, optional
        Threads of the MBAR bootstrap (0: one per CPU core).

    Returns
    -------
    FESResult
        ``profile`` has ``free_energy`` (kT, zero at each voltage's dry minimum),
        ``free_energy_error`` (kT), ``diffusion`` and ``diffusion_error``
        (molecules^2/ps) and ``sample_count``, on (``n``) or (``voltage``, ``n``).
    """
    if method not in METHODS:
        raise AnalysisError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    samples = samples or DEFAULT_SAMPLES[method]
    if samples not in ("equilibrated", "independent"):
        raise AnalysisError(f"samples must be 'equilibrated' or 'independent', not {samples!r}")
    n_bootstrap = DEFAULT_BOOTSTRAP[method] if n_bootstrap is None else int(n_bootstrap)
    if n_bootstrap < 0:
        raise AnalysisError(f"the number of bootstrap replicates must be 0 or more, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    groups = group_by_voltage(windows)
    decorrelated = {v: decorrelate_all(ws, detect=detect_equilibration, progress=progress)
                    for v, ws in groups.items()}
    check_offsets([w for members in decorrelated.values() for w in members], max_offset)
    notes = unfinished_notes(groups)
    datasets = [UmbrellaData.from_windows(d, which=samples) for d in decorrelated.values()]
    edges = profile_edges(datasets, bin_width=bin_width, bins=bins, min_count=min_count,
                          n_range=n_range)
    if n_range is not None and (edges[0] > n_range[0] + 1e-6 or edges[-1] < n_range[1] - 1e-6):
        notes.append(f"the grid covers N = {edges[0]:.4g} to {edges[-1]:.4g}, inside the range "
                     f"asked for: the end bins had fewer than {min_count} samples (--min-count)")
    analyses = []
    for members in decorrelated.values():
        analysis, found = analyse_voltage(
            members, edges, method, samples, n_bootstrap, rng, fes_type=fes_type,
            min_effective=min_effective, min_overlap=min_overlap,
            check_convergence=check_convergence, progress=progress,
            estimator_options=estimator_options, jobs=jobs)
        analyses.append(analysis)
        notes.extend(found)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    name, units = collective_variable(windows, cv_name, cv_units)
    unfinished = [w.source or f"N_k = {w.center:g}" for w in windows if not w.complete]
    profile = _dataset(analyses, edges, method, samples, n_bootstrap, fes_type, inputs,
                       {"min_effective": min_effective, "min_overlap": min_overlap,
                        "min_count": min_count, "detect_equilibration": detect_equilibration,
                        "seed": seed if isinstance(seed, int) else "generator",
                        "n_range": list(n_range) if n_range is not None else "sampled",
                        "max_offset": float(max_offset),
                        "errors": "bootstrap" if n_bootstrap > 0 else
                        ("analytic" if method == "mbar" else "none")})
    profile["n"].attrs.update(long_name=name, units=units)
    profile.attrs.update(cv_name=name, cv_units=units)
    profile.attrs["errors"] = (f"bootstrap ({n_bootstrap} replicates)" if n_bootstrap > 0 else
                               "analytic (MBAR)" if method == "mbar" else "none")
    if unfinished:
        profile.attrs["unfinished_windows"] = unfinished
    # the pore's symmetry as its windows recorded it (the voltage model fits a linear
    # term only where the pore can have one)
    symmetry = {int(w.metadata["symmetric_pore"]) for w in windows if "symmetric_pore" in w.metadata}
    if len(symmetry) == 1:
        profile.attrs["symmetric_pore"] = symmetry.pop()
    if keep_replicates:
        store_replicates(profile, analyses)
    return FESResult(profile, edges, analyses, notes)


def check_offsets(windows: Sequence[DecorrelatedWindow], max_offset: float = MAX_OFFSET) -> None:
    """Refuse windows whose mean N sits far from their restraint centre.

    Parameters
    ----------
    windows : sequence of DecorrelatedWindow
    max_offset : float
        Largest accepted |mean - centre| in units of the restraint's thermal
        width sqrt(kT / kappa), or of the samples' standard deviation where that
        is wider. The offset times kappa is the mean force the window measures:
        10 widths is a force of 10 sqrt(kappa kT) per molecule, beyond any
        physical slope of a profile. (Not the samples' own spread alone: a window
        on the steep dry flank of a hydrophobic pore sits in the empty pore with
        almost no spread, a genuine result.)

    Raises
    ------
    AnalysisError
        Naming the windows (at most three) and the likely causes.
    """
    if not max_offset < np.inf:
        return
    far = []
    for item in windows:
        samples = item.equilibrated
        mean = float(np.mean(samples))
        thermal = float(np.sqrt(GAS_CONSTANT_KJ * item.window.temperature
                                / item.window.spring_constant))
        spread = max(float(np.std(samples)), thermal)
        offset = abs(mean - item.window.center)
        z = offset / spread if spread > 0 else (np.inf if offset > 0 else 0.0)
        if z > max_offset:
            far.append(f"{item.name} (N_k = {item.window.center:g}, mean {mean:.4g}, "
                       f"{'spread 0' if spread == 0 else f'{z:.0f} standard deviations away'})")
    if far:
        shown = "; ".join(far[:3]) + (f" and {len(far) - 3} more" if len(far) > 3 else "")
        raise AnalysisError(
            f"{len(far)} window(s) sit far from their restraint centre: {shown}. The restraint "
            "did not hold them: check the spring constant's units (kJ/mol/molecule^2, restraint "
            "0.5 kappa (N - N_k)^2), targets the system cannot reach, or a periodic CV; "
            f"--max-offset (now {max_offset:g}) accepts such windows"
        )


def unfinished_notes(groups: dict[float, list[Window]]) -> list[str]:
    """Notes naming windows whose runs did not finish (their samples are still used)."""
    notes = []
    for voltage, members in groups.items():
        unfinished = [w.source or f"N_k = {w.center:g}" for w in members if not w.complete]
        if unfinished:
            notes.append(f"{voltage:g} V: {len(unfinished)} unfinished window(s), whose runs did "
                         f"not complete, are included: {'; '.join(unfinished)}; finish them "
                         "(`nanopore md run` resumes them) or leave them out")
    return notes


def collective_variable(windows: Sequence[Window], name: str | None = None,
                        units: str | None = None) -> tuple[str, str]:
    """Name and units of the windows' collective variable.

    Parameters
    ----------
    windows : sequence of Window
    name, units : str, optional
        Given by the user; they win.

    Returns
    -------
    (str, str)
        From the windows' ``cv_name``/``cv_units`` metadata, or a COLVAR column
        name, else "number of water molecules in the pore" and "molecules".
    """
    names = {str(w.metadata.get("cv_name") or w.metadata.get("column") or "") for w in windows}
    unit_set = {str(w.metadata.get("cv_units") or "") for w in windows}
    found_name = names.pop() if len(names) == 1 else ""
    found_units = unit_set.pop() if len(unit_set) == 1 else ""
    return (name or found_name or DEFAULT_CV[0], units or found_units or DEFAULT_CV[1])


def _dataset(analyses: list[VoltageAnalysis], edges: np.ndarray, method: str, samples: str,
             n_bootstrap: int, fes_type: str, inputs: Sequence[str] | None,
             extra: dict[str, Any]) -> xr.Dataset:
    several = len(analyses) > 1
    stack = (lambda values: np.array(values)) if several else (lambda values: values[0])
    centers = bin_centers(edges)
    errors = [a.error for a in analyses]
    has_error = all(e is not None for e in errors)
    producer = f"analysis.fes (method={method}" + (f", fes_type={fes_type}" if method == "mbar" else "") + ")"
    attrs: dict[str, Any] = {
        "gauge": "free_energy = 0 at the dry minimum (lowest-N basin minimum) of each voltage",
        "method": method,
        "samples": samples,
        "bin_width": float(edges[1] - edges[0]),
        "n_windows": np.array([len(a.windows) for a in analyses]),
        "dry_minimum_n": np.array([centers[a.gauge_index] for a in analyses]),
    }
    if not several:
        attrs["voltage"] = float(analyses[0].voltage)
    checks = [a.convergence for a in analyses]
    if all(c is not None for c in checks):
        attrs["convergence_max_difference"] = np.array([c.max_difference for c in checks])
    profile = make_profile(
        n=centers,
        free_energy=stack([a.free_energy for a in analyses]),
        diffusion=stack([a.diffusion_grid for a in analyses]),
        temperature=analyses[0].data.temperature,
        voltage=np.array([a.voltage for a in analyses]) if several else None,
        free_energy_error=stack(errors) if has_error else None,
        producer=producer,
        inputs=list(inputs) if inputs else [a.name for an in analyses for a in an.windows],
        parameters={"method": method, "samples": samples, "n_bootstrap": n_bootstrap,
                    "fes_type": fes_type, **extra},
        attrs=attrs,
    )
    dims = ("voltage", "n") if several else ("n",)
    profile["diffusion_error"] = (dims, stack([a.diffusion_error for a in analyses]))
    profile["sample_count"] = (dims, stack([a.histograms.sum(axis=0) for a in analyses]))
    annotate(profile, {
        "diffusion_error": ("molecules^2/ps", "standard error of the diffusion coefficient"),
        "sample_count": ("1", "equilibrated samples per bin, all windows"),
    })
    return profile
