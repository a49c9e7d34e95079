"""Confidence intervals of kinetic results from the uncertainty of the profile.

Every quantity (rates, loop areas, switching voltages) is recomputed on resampled
profiles and turned into a *basic* (bias-corrected) bootstrap interval: with
estimate t and resampled values t*, the interval at confidence c is

    [2 t - q(1 - (1 - c) / 2), 2 t - q((1 - c) / 2)],   q the quantiles of t*,

for rates in log space. Mean first-passage times are integrals of exp(Omega), so
noise in Omega biases them (Jensen); percentile intervals then miss the truth far
more often than stated, basic intervals reflect the bias back (tested for coverage
on synthetic profiles with known truth in ``tests/test_uncertainty.py``).

Resampled profiles are

* the bootstrap replicates ``free_energy_replicates`` of the profile when present
  (``nanopore fes --keep-replicates``): they carry the true correlations of the
  errors along N and between the depth of a basin and its barrier;
* otherwise Gaussian draws Omega + e(N) z(N) around the profile, e the standard
  error ``free_energy_error`` and z a stationary Gaussian field of unit variance
  with correlation exp(-(dN / l)^2 / 2) along N. The correlation length l
  (default 1 molecule, about the spread of one umbrella window, the range over
  which a bin's estimate shares samples with its neighbours) matters: independent
  noise per point (l -> 0) averages out over a barrier a few points wide and gives
  too narrow intervals when the real errors are smooth, while errors smooth over
  the whole profile (l -> infinity) move a barrier and the basin next to it
  together and understate the error of their difference. A length of about one
  window keeps each feature's error whole and features far apart independent.

The diffusion coefficient is held at its estimate. Intervals are computed with the
exact MFPT (or the master equation for loops) and, for another method, applied as
offsets (ratios for rates) to that method's value.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from langevin.basins import Basins
from langevin.rates import rate_arrays

#: Default confidence of the intervals.
CONFIDENCE = 0.95
#: Default number of Gaussian resamples when the profile has no replicates.
RESAMPLES = 200
#: Default correlation length (molecules) of Gaussian resamples.
CORRELATION_LENGTH = 1.0


def has_uncertainty(profile: xr.Dataset) -> bool:
    """Whether a profile carries replicates or standard errors of its free energy."""
    return "free_energy_replicates" in profile.data_vars or "free_energy_error" in profile.data_vars


def gaussian_field(
    grid: np.ndarray, correlation_length: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Unit-variance Gaussian fields on a grid with correlation exp(-(dN / l)^2 / 2).

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    correlation_length : float
        l (molecules); 0 gives independent values per point.
    size : int
        Number of fields.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray, shape (size, n_grid)
    """
    grid = np.asarray(grid, dtype=float)
    if correlation_length < 0:
        raise ValueError("the error correlation length must be non-negative (molecules)")
    if correlation_length == 0:
        return rng.standard_normal((size, grid.size))
    distance = (grid[:, None] - grid[None, :]) / correlation_length
    correlation = np.exp(-0.5 * distance**2)
    values, vectors = np.linalg.eigh(correlation)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return rng.standard_normal((size, grid.size)) @ root.T


def resampled_free_energies(
    profile: xr.Dataset,
    n_resamples: int = RESAMPLES,
    seed: int | np.random.Generator = 0,
    correlation_length: float = CORRELATION_LENGTH,
) -> np.ndarray:
    """Resampled free energies of a profile (see the module docstring).

    Parameters
    ----------
    profile : xarray.Dataset
        Profile with ``free_energy_replicates`` or ``free_energy_error``.
    n_resamples : int, optional
        Gaussian resamples (ignored when the profile has replicates).
    seed : int or numpy.random.Generator, optional
        Random source of the Gaussian resamples.
    correlation_length : float, optional
        Correlation length (molecules) of the Gaussian resamples.

    Returns
    -------
    ndarray, shape (n_resamples, ...) with ``free_energy``'s shape after the first axis
        Free energies (kT).

    Raises
    ------
    ValueError
        When the profile has neither replicates nor errors, or too few replicates.
    """
    if "free_energy_replicates" in profile.data_vars:
        replicates = profile["free_energy_replicates"].transpose(
            "replicate", *profile["free_energy"].dims).values
        if replicates.shape[0] < 10:
            raise ValueError(
                f"the profile has only {replicates.shape[0]} bootstrap replicates; intervals "
                "need at least 10 (rerun nanopore fes with more --bootstrap)"
            )
        return np.asarray(replicates, dtype=float)
    if "free_energy_error" not in profile.data_vars:
        raise ValueError("the profile has neither free_energy_replicates nor free_energy_error")
    if n_resamples < 10:
        raise ValueError("intervals need at least 10 resamples")
    rng = np.random.default_rng(seed)
    estimate = np.asarray(profile["free_energy"].values, dtype=float)
    error = np.asarray(profile["free_energy_error"].values, dtype=float)
    rows = estimate.reshape(-1, estimate.shape[-1])
    errors = error.reshape(rows.shape)
    grid = np.asarray(profile["n"].values, dtype=float)
    out = np.empty((n_resamples,) + rows.shape)
    for k in range(rows.shape[0]):
        out[:, k] = rows[k] + errors[k] * gaussian_field(grid, correlation_length, n_resamples, rng)
    return out.reshape((n_resamples,) + estimate.shape)


def basic_interval(
    estimate: np.ndarray, samples: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Basic bootstrap interval 2 t - q(upper), 2 t - q(lower).

    Parameters
    ----------
    estimate : ndarray, shape (...)
        Estimate t.
    samples : ndarray, shape (n_samples, ...)
        Resampled values t* (NaN ignored; a point with fewer than half of its
        samples finite gets NaN bounds).
    confidence : float, optional
        Coverage aimed at, in (0, 1).

    Returns
    -------
    lower, upper : ndarray
    """
    if not 0 < confidence < 1:
        raise ValueError(f"the confidence must lie between 0 and 1, got {confidence:g}")
    estimate = np.asarray(estimate, dtype=float)
    samples = np.asarray(samples, dtype=float)
    tail = 0.5 * (1.0 - confidence)
    enough = np.sum(np.isfinite(samples), axis=0) >= 0.5 * samples.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        q_low = np.nanquantile(samples, tail, axis=0)
        q_high = np.nanquantile(samples, 1.0 - tail, axis=0)
    lower = np.where(enough, 2.0 * estimate - q_high, np.nan)
    upper = np.where(enough, 2.0 * estimate - q_low, np.nan)
    return lower, upper


@dataclass
class ProfileRows:
    """The profiles (rows) a command computes on, and how to make them from a profile.

    Attributes
    ----------
    grid : ndarray, shape (n_grid,)
        Grid (molecules).
    free_energy : ndarray, shape (n_rows, n_grid)
        Rows (kT).
    diffusion : ndarray, shape (n_rows, n_grid)
        D (molecules^2/ps).
    keys : ndarray or None
        Value of each row (voltage in V, pressure in MPa); None for one profile.
    key_name : str
        ``voltage`` or ``pressure``.
    transform : callable
        Maps a free-energy array shaped like the profile's ``free_energy`` to rows.
    error : ndarray or None
        Standard errors of the rows (kT) where they are the profile's own rows
        shifted by a known amount.
    model : VoltageModel or None
        The voltage model, when rows come from it.
    attrs : dict
        Attributes to record in outputs (e.g. the voltage of pressure rows).
    """

    grid: np.ndarray
    free_energy: np.ndarray
    diffusion: np.ndarray
    keys: np.ndarray | None
    key_name: str
    transform: Callable[[np.ndarray], np.ndarray]
    error: np.ndarray | None = None
    model: object | None = None
    attrs: dict = field(default_factory=dict)


def profile_rows(
    profile: xr.Dataset,
    voltages: np.ndarray | None = None,
    pressures: np.ndarray | None = None,
    voltage: float | None = None,
    reference_pressure: float = 0.0,
    symmetric: bool | None = None,
    extrapolate: bool = False,
) -> ProfileRows:
    """Rows for rates: the profile's voltages, a voltage model, or pressures.

    Parameters
    ----------
    profile : xarray.Dataset
        Profile.
    voltages : ndarray, optional
        Evaluate the fitted voltage model at these voltages (V).
    pressures : ndarray, optional
        Evaluate Omega(N; P) = Omega(N; P0) - (P - P0) v_l N at these pressures (MPa).
    voltage : float, optional
        The profile voltage (V) used with ``pressures`` (default: the one closest
        to 0 V).
    reference_pressure : float, optional
        P0 (MPa), the pressure of the profile.
    symmetric, extrapolate : optional
        Passed to :meth:`nanopore.voltage_model.VoltageModel.fit`.

    Returns
    -------
    ProfileRows
    """
    from nanopore.profile import select_voltage
    from nanopore.thermodynamics import free_energy_at_pressure
    from nanopore.voltage_model import VoltageModel

    grid = np.asarray(profile["n"].values, dtype=float)
    has_v = "voltage" in profile["free_energy"].dims
    error = profile["free_energy_error"].values if "free_energy_error" in profile else None
    if voltages is not None and pressures is not None:
        raise ValueError("give --voltages or --pressures, not both")
    if pressures is not None:
        pressures = np.atleast_1d(np.asarray(pressures, dtype=float))
        temperature = float(profile.attrs["temperature"])
        index = None
        if has_v:
            volts = profile["voltage"].values
            if voltage is None:
                voltage = float(volts[np.argmin(np.abs(volts))])
            select_voltage(profile, voltage)  # refuses a voltage the profile lacks
            index = int(np.argmin(np.abs(volts - voltage)))
        excess = (pressures - reference_pressure) * 1e6

        def transform(free_energy: np.ndarray) -> np.ndarray:
            row = free_energy[index] if index is not None else free_energy
            return free_energy_at_pressure(grid, row, excess, temperature)

        d = profile["diffusion"].values
        d = d[index] if d.ndim == 2 else d
        row_error = None if error is None else (error[index] if index is not None else error)
        return ProfileRows(grid, transform(profile["free_energy"].values),
                           np.broadcast_to(d, (pressures.size, grid.size)), pressures, "pressure",
                           transform, None if row_error is None
                           else np.broadcast_to(row_error, (pressures.size, grid.size)),
                           attrs={"reference_pressure_MPa": float(reference_pressure),
                                  **({"voltage": float(voltage)} if has_v else {})})
    if voltages is not None:
        model = VoltageModel.fit(profile, symmetric=symmetric, extrapolate=extrapolate)
        voltages = np.atleast_1d(np.asarray(voltages, dtype=float))

        def transform(free_energy: np.ndarray) -> np.ndarray:
            return refit_model(profile, free_energy, model).free_energy(voltages, warn=False)

        return ProfileRows(grid, model.free_energy(voltages), model.diffusion_at(voltages),
                           voltages, "voltage", transform, None, model)
    free_energy = np.atleast_2d(profile["free_energy"].values)
    d = np.broadcast_to(profile["diffusion"].values, profile["free_energy"].shape)
    keys = profile["voltage"].values if has_v else None
    return ProfileRows(grid, free_energy, np.atleast_2d(d), keys, "voltage",
                       lambda f: np.atleast_2d(f),
                       None if error is None else np.atleast_2d(error))


def refit_model(profile: xr.Dataset, free_energy: np.ndarray, model):
    """The voltage model refitted, with the same terms, to other free energies of a profile.

    Parameters
    ----------
    profile : xarray.Dataset
        The profile ``model`` was fitted to.
    free_energy : ndarray
        Free energies shaped like ``profile["free_energy"]`` (kT).
    model : VoltageModel
        The model whose terms (and extrapolation setting) are kept.

    Returns
    -------
    VoltageModel
    """
    from nanopore.voltage_model import VoltageModel

    resampled = profile.drop_vars([v for v in ("free_energy_replicates",) if v in profile])
    resampled["free_energy"] = (profile["free_energy"].dims, free_energy)
    return VoltageModel.fit(resampled, symmetric=model.symmetric,
                            quartic=model.quartic is not None, extrapolate=True)


def resampled_rows(
    profile: xr.Dataset,
    rows: ProfileRows,
    n_resamples: int = RESAMPLES,
    seed: int | np.random.Generator = 0,
    correlation_length: float = CORRELATION_LENGTH,
) -> np.ndarray:
    """The rows of every resampled profile, shape (n_resamples, n_rows, n_grid) (kT)."""
    samples = resampled_free_energies(profile, n_resamples, seed, correlation_length)
    return np.stack([rows.transform(sample) for sample in samples])


def rate_intervals(
    rows: ProfileRows,
    samples: np.ndarray,
    basins: list[Basins],
    rates: xr.Dataset,
    confidence: float = CONFIDENCE,
) -> xr.Dataset:
    """Add ``k_wet_lower``, ``k_wet_upper``, ``k_dry_lower``, ``k_dry_upper`` to rates.

    Parameters
    ----------
    rows : ProfileRows
        The rows the rates were computed on.
    samples : ndarray, shape (n_resamples, n_rows, n_grid)
        Resampled rows (kT), see :func:`resampled_rows`.
    basins : list of Basins
        Basins of each row (held fixed over the resamples).
    rates : xarray.Dataset
        Output of :func:`langevin.rates.rates_dataset` for ``rows``.
    confidence : float, optional
        Coverage of the intervals.

    Returns
    -------
    xarray.Dataset
        ``rates`` with the bounds (1/s, attribute ``confidence``), and the
        attributes ``confidence`` and ``interval_method``.
    """
    n_resamples, n_rows, n_grid = samples.shape
    d = np.broadcast_to(rows.diffusion, (n_rows, n_grid))
    estimate = rate_arrays(rows.grid, rows.free_energy, d, basins, method="exact")
    flat = rate_arrays(
        rows.grid, samples.reshape(-1, n_grid), np.tile(d, (n_resamples, 1)),
        list(basins) * n_resamples, method="exact",
    )
    out = rates.copy()
    for name in ("k_wet", "k_dry"):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_hat = np.log(estimate[name])
            log_samples = np.log(flat[name].reshape(n_resamples, n_rows))
        log_samples[~np.isfinite(log_samples)] = np.nan
        lower, upper = basic_interval(log_hat, log_samples, confidence)
        reported = np.atleast_1d(np.asarray(rates[name].values, dtype=float))
        bounds = {"lower": reported * np.exp(lower - log_hat),
                  "upper": reported * np.exp(upper - log_hat)}
        for side, values in bounds.items():
            data = values if rates[name].dims else values[0]
            out[f"{name}_{side}"] = (rates[name].dims, data)
            out[f"{name}_{side}"].attrs.update(
                units="1/s", confidence=float(confidence),
                long_name=f"{side} bound of the {confidence:.0%} confidence interval of {name}")
    out.attrs["confidence"] = float(confidence)
    out.attrs["interval_method"] = (
        f"basic bootstrap over {n_resamples} resampled profiles (exact MFPT, basins held fixed)")
    return out


def basins_of(rates: xr.Dataset, grid: np.ndarray) -> list[Basins]:
    """The basins a rates dataset used (from its ``n_dry``, ``n_barrier``, ``n_wet``)."""
    index = lambda name: np.abs(
        np.atleast_1d(rates[name].values)[:, None] - grid[None, :]).argmin(axis=1)
    return [Basins(int(a), int(b), int(c))
            for a, b, c in zip(index("n_dry"), index("n_barrier"), index("n_wet"))]


def rates_for_profile(
    profile: xr.Dataset,
    rows: ProfileRows,
    method: str = "exact",
    dry: float | None = None,
    wet: float | None = None,
    barrier: float | None = None,
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    seed: int = 0,
    correlation_length: float = CORRELATION_LENGTH,
    inputs: list[str] | None = None,
    **options,
) -> xr.Dataset:
    """Rates of the rows of a profile, with intervals whenever the profile has errors.

    Basins must stand out beyond the profile's errors (the rows' own errors, or the
    spread of the resampled rows when the rows come from the voltage model).

    Parameters
    ----------
    profile : xarray.Dataset
        The profile.
    rows : ProfileRows
        From :func:`profile_rows`.
    method : str, optional
        See :func:`langevin.rates.rate_arrays`.
    dry, wet, barrier : float, optional
        Basin overrides (molecules).
    confidence, n_resamples, seed, correlation_length : optional
        Intervals (see the module docstring).
    inputs : list of str, optional
        Provenance.
    **options
        Passed to :func:`langevin.rates.rates_dataset`.

    Returns
    -------
    xarray.Dataset
        Rates along ``voltage`` or ``pressure`` (MPa); with ``k_wet_lower`` ...
        ``k_dry_upper`` when the profile has errors or replicates.
    """
    from langevin.rates import rates_dataset

    samples = None
    if has_uncertainty(profile):
        samples = resampled_rows(profile, rows, n_resamples, seed, correlation_length)
    evidence = {"free_energy_error": rows.error} if rows.error is not None else (
        {"free_energy_replicates": samples} if samples is not None else {})
    result = rates_dataset(
        rows.grid, rows.free_energy, rows.diffusion, rows.keys, method=method, dry=dry, wet=wet,
        barrier=barrier, temperature=float(profile.attrs["temperature"]), inputs=inputs,
        seed=seed, **evidence, **options,
    )
    if samples is not None:
        result = rate_intervals(rows, samples, basins_of(result, rows.grid), result, confidence)
        result.attrs["error_correlation_length"] = (
            "replicates" if "free_energy_replicates" in profile else float(correlation_length))
    if rows.key_name == "pressure":
        result = result.rename({"voltage": "pressure"})
        result["pressure"].attrs.update(units="MPa", long_name="liquid pressure")
    result.attrs.update(rows.attrs)
    if rows.model is not None:
        result.attrs.update(rows.model.summary_attrs())
    return result


#: Loop quantities that get intervals, and whether they are positive (intervals in log space).
LOOP_QUANTITIES = {"loop_area": True, "wetting_voltage": False, "drying_voltage": False}
#: the normalised loop area (|lobe 1| + |lobe 2|) / (I_max V0) cannot exceed 2: each lobe
#: lies inside the rectangle 0 <= |V| <= V0, |I| <= I_max
LOOP_AREA_MAX = 2.0


def physical_bounds(name: str, lower: np.ndarray, upper: np.ndarray,
                    amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Clip an interval of a loop quantity to the values the quantity can take.

    Basic bootstrap intervals reflect the resampled values about the estimate; where
    resampled profiles move the rates by decades (and the loop's peak frequency with
    them) the reflection can leave the physical range. The bound that lies outside is
    moved onto the range's edge.

    Parameters
    ----------
    name : str
        ``loop_area`` (range [0, LOOP_AREA_MAX]) or a switching voltage
        (``wetting_voltage``, ``drying_voltage``: range [-V0, V0], V).
    lower, upper : ndarray
        Interval bounds in the quantity's units.
    amplitude : float
        V0, the drive's amplitude (V).

    Returns
    -------
    lower, upper : ndarray
    """
    low, high = (0.0, LOOP_AREA_MAX) if name == "loop_area" else (-amplitude, amplitude)
    return np.clip(lower, low, high), np.clip(upper, low, high)


def loop_intervals(
    profile: xr.Dataset,
    model,
    loops: xr.Dataset,
    method: str = "master",
    confidence: float = CONFIDENCE,
    n_resamples: int = 100,
    seed: int = 0,
    correlation_length: float = CORRELATION_LENGTH,
    progress: bool = False,
    **loop_options,
) -> xr.Dataset:
    """Add intervals of loop areas and switching voltages to memristor loops.

    Every resampled profile is refitted with the model's terms and driven with
    the master equation; basic bootstrap intervals follow (in log space for the
    area). For another kinetic model the intervals are applied as offsets (ratios
    for the area) to its values.

    Parameters
    ----------
    profile : xarray.Dataset
        The profile the voltage model was fitted to.
    model : VoltageModel
        The fitted model.
    loops : xarray.Dataset
        Output of :func:`langevin.hysteresis.memristor_loops` for ``model``.
    method : str, optional
        The kinetic model of ``loops``.
    confidence, n_resamples, seed, correlation_length : optional
        See the module docstring.
    progress : bool, optional
        Progress bar over resamples.
    **loop_options
        Passed to :func:`langevin.hysteresis.memristor_loops` (amplitude,
        frequencies, conductance, waveform, ...).

    Returns
    -------
    xarray.Dataset
        ``loops`` with ``loop_area_lower``/``_upper``, ``wetting_voltage_lower``/
        ``_upper``, ``drying_voltage_lower``/``_upper`` along ``frequency``, each
        within the quantity's range (:func:`physical_bounds`).
    """
    from tqdm.auto import tqdm

    from langevin.basins import BasinError
    from langevin.hysteresis import memristor_loops

    samples = resampled_free_energies(profile, n_resamples, seed, correlation_length)
    reference = loops if method == "master" else memristor_loops(model, method="master",
                                                                 **loop_options)
    values = {name: [] for name in LOOP_QUANTITIES}
    failed = 0
    for sample in tqdm(samples, disable=not progress, desc="loop intervals"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the estimate's run has shown them
                result = memristor_loops(refit_model(profile, sample, model), method="master",
                                         **loop_options)
        except (BasinError, ValueError):
            failed += 1
            for name in values:
                values[name].append(np.full(loops.sizes["frequency"], np.nan))
            continue
        for name in values:
            values[name].append(np.asarray(result[name].values, dtype=float))
    out = loops.copy()
    for name, positive in LOOP_QUANTITIES.items():
        hat = np.asarray(reference[name].values, dtype=float)
        draws = np.array(values[name])
        if positive:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_hat, log_draws = np.log(hat), np.log(draws)
            log_draws[~np.isfinite(log_draws)] = np.nan
            lower, upper = basic_interval(log_hat, log_draws, confidence)
            reported = np.asarray(loops[name].values, dtype=float)
            lower, upper = reported * np.exp(lower - log_hat), reported * np.exp(upper - log_hat)
        else:
            lower, upper = basic_interval(hat, draws, confidence)
            shift = np.asarray(loops[name].values, dtype=float) - hat
            lower, upper = lower + shift, upper + shift
        # a loop area lies in [0, 2], a switching voltage within the drive's range
        lower, upper = physical_bounds(name, lower, upper,
                                       float(loops.attrs.get("amplitude", np.inf)))
        bounds = {"lower": lower, "upper": upper}
        for side, data in bounds.items():
            out[f"{name}_{side}"] = (("frequency",), data)
            out[f"{name}_{side}"].attrs.update(
                units=loops[name].attrs.get("units", "1"), confidence=float(confidence),
                long_name=f"{side} bound of the {confidence:.0%} confidence interval of {name}")
    out.attrs["confidence"] = float(confidence)
    out.attrs["interval_method"] = (
        f"basic bootstrap over {samples.shape[0]} resampled profiles (master equation; "
        f"{failed} without two basins)")
    return out
