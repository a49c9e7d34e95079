"""MBAR through ``pymbar.FES``: histogram, kernel-density and spline profiles.

The reduced potentials are u_kn = 0.5 beta kappa_k (N_n - N_k)^2 (kT) for every
sample n in every window k; the profile is that of the unbiased state (u = 0).
MBAR's cost grows as windows x samples (memory too), so the driver gives it the
decorrelated samples by default; on every equilibrated sample of a large set it is
the slow reference the WHAM route is checked against.

``fes_type="kde"`` needs scikit-learn, which the toolkit does not require.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Any

import numpy as np

from analysis.data import UmbrellaData
from analysis.errors import AnalysisError
from analysis.estimator import FreeEnergyEstimate, bin_centers, check_edges

FES_TYPES = ("histogram", "kde", "spline")


@contextlib.contextmanager
def _quiet():
    """Silence pymbar's banner, warnings and log output."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logger = logging.getLogger("pymbar")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


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
            from pymbar import FES
            from pymbar.utils import ConvergenceError, DataError, ParameterError

            x, _ = data.concatenated()
            u_kn = data.reduced_bias(x)
            n_k = data.counts
            options = {"verbose": False, **self.mbar_options}
            if self.initialize == "wham" and "initial_f_k" not in options:
                options["initial_f_k"] = _wham_guess(data, self.edges)
            try:
                fes = FES(u_kn, n_k, mbar_options=options)
            except (ConvergenceError, DataError, ParameterError, ArithmeticError, ValueError,
                    np.linalg.LinAlgError) as err:
                raise AnalysisError(f"MBAR failed on {data.n_windows} windows ({err}); check that "
                                    "neighbouring windows overlap") from None
            u_n = np.zeros(x.size)
            centers = bin_centers(self.edges)
            low = min(float(x.min()), self.edges[0]) - 1e-9
            high = max(float(x.max()), self.edges[-1]) + 1e-9
            # outer bins catch the samples beyond the grid
            edges = np.concatenate([[low], self.edges, [high]])
            if self.fes_type == "histogram":
                fes.generate_fes(u_n, x, fes_type="histogram",
                                 histogram_parameters={"bin_edges": edges})
            elif self.fes_type == "kde":
                require_sklearn()
                bandwidth = self.bandwidth or 0.5 * float(np.median(np.diff(self.edges)))
                fes.generate_fes(u_n, x, fes_type="kde",
                                 kde_parameters={"bandwidth": bandwidth, "kernel": "gaussian"})
            else:
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
                fes.generate_fes(u_n, x, fes_type="spline",
                                 spline_parameters=parameters)
            if self.fes_type == "histogram":
                values = _histogram_profile(fes, self.edges)
            else:
                values = np.asarray(fes.get_fes(centers, reference_point="from-lowest")["f_i"],
                                    dtype=float)
            f_k = np.asarray(fes.get_mbar().f_k, dtype=float)
        values[~np.isfinite(values)] = np.nan
        return FreeEnergyEstimate(centers, values, self.name, f_k - f_k[0],
                                  {"fes_type": self.fes_type, "samples": int(x.size)})


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
