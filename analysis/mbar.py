"""MBAR through ``pymbar.FES``: histogram, kernel-density and spline profiles.

The reduced potentials are u_kn = 0.5 beta kappa_k (N_n - N_k)^2 (kT) for every
sample n in every window k; the profile is that of the unbiased state (u = 0).
MBAR's cost grows as windows x samples (memory too), so the driver gives it the
decorrelated samples by default; on every equilibrated sample of a large set it is
the slow reference the WHAM route is checked against.

``fes_type="kde"`` needs scikit-learn, which the toolkit does not require.

Errors. The histogram profile's analytic standard errors are MBAR's asymptotic
covariance (Shirts and Chodera 2008, with each grid bin added as a state whose
weights are the unbiased weights inside the bin), as ``pymbar.FES`` computes them
with ``uncertainty_method="analytical"``. pymbar forms the samples x (windows +
bins) weight matrix and takes its SVD; here the same covariance is computed from
the (windows + bins) square Gram matrix, whose bin block is diagonal because bins
do not overlap, in time and memory linear in the samples.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from typing import Any

import numpy as np

from analysis.data import UmbrellaData
from analysis.errors import AnalysisError
from analysis.estimator import FreeEnergyEstimate, bin_centers, check_edges

FES_TYPES = ("histogram", "kde", "spline")


_QUIET_LOCK = threading.Lock()
_quiet_depth = 0


@contextlib.contextmanager
def _quiet():
    """Silence pymbar's banner, warnings and log output.

    Re-entrant: only the outermost use swaps standard output and the warning
    filters, so fits on worker threads inside it (parallel bootstrap) leave them alone.
    """
    global _quiet_depth
    with _QUIET_LOCK:
        outermost = _quiet_depth == 0
        _quiet_depth += 1
    try:
        if not outermost:
            yield
            return
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            logger = logging.getLogger("pymbar")
            level = logger.level
            logger.setLevel(logging.ERROR)
            try:
                yield
            finally:
                logger.setLevel(level)
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1


def require_sklearn() -> None:
    """Raise a clear error when scikit-learn (needed by the KDE profile) is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise AnalysisError(
            "the 'kde' profile needs scikit-learn, which the toolkit does not install: "
            "pip install scikit-learn, or use --fes-type histogram or spline"
        ) from None


class MBARProfile:
    """MBAR profile estimator (``pymbar.FES``).

    Parameters
    ----------
    edges : ndarray
        Bin edges of the output grid (molecules); the histogram profile is
        computed on these bins, the others are evaluated at their centres.
    fes_type : {"histogram", "kde", "spline"}
        How ``pymbar.FES`` represents the profile.
    bandwidth : float, optional
        KDE bandwidth (molecules); default: half the bin width.
    n_knots : int, optional
        Spline knots; default: one per four bins, at least 6.
    mbar_options : dict, optional
        Passed to ``pymbar.MBAR`` (e.g. ``{"solver_protocol": "robust"}``).
    initialize : {"wham", "zeros"}, optional
        Start MBAR's solver from the window free energies of a WHAM solution on a
        fine histogram (it then needs a few iterations instead of dozens; the
        answer is MBAR's either way) or from zeros, pymbar's default.
    """

    name = "mbar"
    #: silences pymbar around several fits at once (see :mod:`analysis.resampling`)
    quiet = staticmethod(_quiet)

    def __init__(self, edges: np.ndarray, fes_type: str = "histogram", bandwidth: float | None = None,
                 n_knots: int | None = None, mbar_options: dict[str, Any] | None = None,
                 initialize: str = "wham"):
        self.edges = check_edges(edges)
        if fes_type not in FES_TYPES:
            raise ValueError(f"fes_type must be one of {FES_TYPES}, not {fes_type!r}")
        if fes_type == "kde":
            require_sklearn()
        self.fes_type = fes_type
        self.bandwidth = bandwidth
        self.n_knots = n_knots
        self.mbar_options = dict(mbar_options or {})
        if initialize not in ("wham", "zeros"):
            raise ValueError(f"initialize must be 'wham' or 'zeros', not {initialize!r}")
        self.initialize = initialize

    def fit(self, data: UmbrellaData) -> FreeEnergyEstimate:
        """Estimate Omega(N) with MBAR.

        Parameters
        ----------
        data : UmbrellaData

        Returns
        -------
        FreeEnergyEstimate
            Free energy (kT) at the bin centres, NaN in bins without samples (histogram).
        """
        with _quiet():
            from pymbar import FES, MBAR
            from pymbar.utils import ConvergenceError, DataError, ParameterError

            x, _ = data.concatenated()
            u_kn = data.reduced_bias(x)
            n_k = data.counts
            options = {"verbose": False, **self.mbar_options}
            if self.initialize == "wham" and "initial_f_k" not in options:
                options["initial_f_k"] = _wham_guess(data, self.edges)
            centers = bin_centers(self.edges)
            try:
                if self.fes_type == "histogram":
                    # the histogram profile straight from MBAR's weights of the unbiased state
                    # (what pymbar.FES computes, without its per-sample loops)
                    mbar = MBAR(u_kn, n_k, **options)
                    f_k = np.asarray(mbar.f_k, dtype=float)
                    values = _weights_histogram(u_kn, np.asarray(n_k, dtype=float), f_k, x,
                                                self.edges)
                else:
                    fes = FES(u_kn, n_k, mbar_options=options)
                    values = self._smooth_profile(fes, x, centers)
                    f_k = np.asarray(fes.get_mbar().f_k, dtype=float)
            except (ConvergenceError, DataError, ParameterError, ArithmeticError, ValueError,
                    np.linalg.LinAlgError) as err:
                raise AnalysisError(f"MBAR failed on {data.n_windows} windows ({err}); check that "
                                    "neighbouring windows overlap") from None
        values[~np.isfinite(values)] = np.nan
        self._last_fit = (u_kn, np.asarray(n_k, dtype=float), f_k, x)
        return FreeEnergyEstimate(centers, values, self.name, f_k - f_k[0],
                                  {"fes_type": self.fes_type, "samples": int(x.size)})

    def _smooth_profile(self, fes: Any, x: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """KDE or spline profile (kT) at the bin centres from a solved ``pymbar.FES``."""
        u_n = np.zeros(x.size)
        low = min(float(x.min()), self.edges[0]) - 1e-9
        high = max(float(x.max()), self.edges[-1]) + 1e-9
        if self.fes_type == "kde":
            require_sklearn()
            bandwidth = self.bandwidth or 0.5 * float(np.median(np.diff(self.edges)))
            fes.generate_fes(u_n, x, fes_type="kde",
                             kde_parameters={"bandwidth": bandwidth, "kernel": "gaussian"})
        else:
            # outer bins catch the samples beyond the grid
            edges = np.concatenate([[low], self.edges, [high]])
            fes.generate_fes(u_n, x, fes_type="histogram",
                             histogram_parameters={"bin_edges": edges})
            start = _histogram_profile(fes, self.edges)
            good = np.isfinite(start)
            knots = self.n_knots or max(6, centers.size // 4)
            parameters = {
                "spline_weights": "unbiasedstate",
                "nspline": knots,
                "spline_initialize": "explicit",
                "xinit": centers[good],
                "yinit": start[good],
                "xrange": [low, high],
                "fkbias": [],
                "kdegree": 3,
                "optimization_algorithm": "Newton-CG",
                "optimize_options": {"disp": False, "tol": 1e-6},
                "objective": "ml",
                "map_data": None,
            }
            fes.generate_fes(u_n, x, fes_type="spline", spline_parameters=parameters)
        return np.asarray(fes.get_fes(centers, reference_point="from-lowest")["f_i"], dtype=float)

    def analytic_error(self, gauge_index: int) -> np.ndarray:
        """Analytic standard error (kT) of Omega relative to a grid bin, from the last fit.

        Parameters
        ----------
        gauge_index : int
            The grid bin where Omega = 0 (its error is zero).

        Returns
        -------
        ndarray
            Standard error of Omega(bin) - Omega(gauge bin) (kT); NaN in bins
            without samples.
        """
        if getattr(self, "_last_fit", None) is None:
            raise AnalysisError("fit the MBAR profile before asking for its analytic error")
        u_kn, n_k, f_k, x = self._last_fit
        index = _bin_index(x, self.edges)
        return histogram_uncertainty(u_kn, n_k, f_k, index, self.edges.size - 1, gauge_index)


def histogram_uncertainty(u_kn: np.ndarray, n_k: np.ndarray, f_k: np.ndarray,
                          bin_index: np.ndarray, n_bins: int, reference: int) -> np.ndarray:
    """MBAR's asymptotic standard error of histogram free energies of the unbiased state.

    Parameters
    ----------
    u_kn : ndarray, shape (n_windows, n_samples)
        Reduced potentials of every sample in every window (kT).
    n_k : ndarray, shape (n_windows,)
        Samples per window.
    f_k : ndarray, shape (n_windows,)
        MBAR's window free energies (kT).
    bin_index : ndarray of int, shape (n_samples,)
        Grid bin of each sample, -1 outside the grid.
    n_bins : int
        Number of grid bins.
    reference : int
        Bin against which differences are taken.

    Returns
    -------
    ndarray, shape (n_bins,)
        Standard error (kT) of f_bin - f_reference; 0 at the reference, NaN in
        bins without samples.
    """
    from scipy.special import logsumexp

    u_kn = np.asarray(u_kn, dtype=float)
    n_k = np.asarray(n_k, dtype=float)
    f_k = np.asarray(f_k, dtype=float)
    n_windows = n_k.size
    log_denominator = logsumexp(np.log(n_k)[:, None] + f_k[:, None] - u_kn, axis=0)
    w_k = np.exp(f_k[:, None] - u_kn - log_denominator[None, :])  # (K, N): columns of W
    inside = bin_index >= 0
    occupied = np.bincount(bin_index[inside], minlength=n_bins) > 0
    if not occupied[reference]:
        raise AnalysisError("the reference bin of the MBAR error holds no samples")
    bins = np.flatnonzero(occupied)
    column = np.full(n_bins, -1)
    column[bins] = np.arange(bins.size)
    owner = column[bin_index[inside]]
    # unbiased weights (u = 0) normalised within each bin
    log_w0 = -log_denominator[inside]
    log_norm = np.full(bins.size, -np.inf)
    np.logaddexp.at(log_norm, owner, log_w0)
    w_b = np.exp(log_w0 - log_norm[owner])
    m = n_windows + bins.size
    gram = np.zeros((m, m))
    gram[:n_windows, :n_windows] = w_k @ w_k.T
    cross = np.stack([np.bincount(owner, weights=row[inside] * w_b, minlength=bins.size)
                      for row in w_k])
    gram[:n_windows, n_windows:] = cross
    gram[n_windows:, :n_windows] = cross.T
    gram[n_windows:, n_windows:] = np.diag(np.bincount(owner, weights=w_b * w_b,
                                                       minlength=bins.size))
    # W = U S V^T from the Gram matrix W^T W = V S^2 V^T; then
    # Theta = V S (I - S V^T N V S)^+ S V^T  (N: samples per state, 0 for the bins)
    values, vectors = np.linalg.eigh(gram)
    keep = values > values.max() * 1e-14
    s = np.sqrt(values[keep])
    v = vectors[:, keep]
    counts = np.concatenate([n_k, np.zeros(bins.size)])
    inner = np.eye(s.size) - (s[:, None] * (v.T * counts) @ v) * s[None, :]
    theta = (v * s) @ np.linalg.pinv(inner, rcond=1e-12, hermitian=True) @ (v * s).T
    j = n_windows + column[reference]
    diagonal = np.diag(theta)[n_windows:]
    variance = diagonal + theta[j, j] - 2.0 * theta[n_windows:, j]
    error = np.full(n_bins, np.nan)
    error[bins] = np.sqrt(np.clip(variance, 0.0, None))
    error[reference] = 0.0
    return error


def _bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Grid bin of each sample (the last edge belongs to the last bin); -1 outside."""
    index = np.searchsorted(edges, x, side="right") - 1
    index[x == edges[-1]] = edges.size - 2
    index[(index < 0) | (index >= edges.size - 1)] = -1
    return index


def _weights_histogram(u_kn: np.ndarray, n_k: np.ndarray, f_k: np.ndarray, x: np.ndarray,
                       edges: np.ndarray) -> np.ndarray:
    """Omega (kT, up to a constant) of the grid bins from MBAR's unbiased weights.

    -log of the summed weights of the samples in a bin, plus log of its width;
    NaN in bins without samples.
    """
    from scipy.special import logsumexp

    log_w = -logsumexp(np.log(n_k)[:, None] + f_k[:, None] - u_kn, axis=0)
    index = _bin_index(x, edges)
    inside = index >= 0
    log_sum = np.full(edges.size - 1, -np.inf)
    np.logaddexp.at(log_sum, index[inside], log_w[inside])
    with np.errstate(divide="ignore"):
        values = -log_sum + np.log(np.diff(edges))
    values[~np.isfinite(values)] = np.nan
    return values - np.nanmin(values) if np.any(np.isfinite(values)) else values


def _histogram_profile(fes: Any, edges: np.ndarray) -> np.ndarray:
    """Omega (kT) of the grid bins from a histogram ``FES`` built on [low, *edges, high].

    Read from the FES's bin table rather than through ``get_fes``, which fails on
    bins without samples; those are NaN here.
    """
    data = fes.histogram_data
    values = np.full(edges.size - 1, np.nan)
    for j in range(values.size):
        label = data["bin_label"].get((j + 1,))
        if label is not None and label >= 0:
            values[j] = data["f"][data["bin_order"][label]]
    return values + np.log(np.diff(edges))


def _wham_guess(data: UmbrellaData, edges: np.ndarray) -> np.ndarray:
    """Window free energies f_k (kT) from WHAM on a fine histogram, to start MBAR."""
    from analysis.wham import WHAM

    return WHAM(edges, oversample=16, tolerance=1e-7).fit(data).window_free_energies
