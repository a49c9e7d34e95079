"""Free energy at any voltage: Omega(N; V) = Omega(N; 0) + a(N) V + b(N) V^2 [+ c(N) V^4].

The "simple theory" of electrowetting: the field couples to the pore's dipole
(a, zero for a symmetric pore) and its capacitance (b <= 0, favouring the wet
pore). The coefficients are fitted per grid point by least squares from profiles at
two or more voltages. Each profile may carry its own additive constant; the fit
absorbs a smooth voltage dependence of it, which no kinetic quantity sees.

The model does not invent physics:

* The pore is symmetric (a = 0) unless the profile says ``symmetric_pore = 0`` or
  the data show a linear term beyond its error. The test fits a(N) with its
  standard error per grid point (propagated from ``free_energy_error``, from the
  spread of ``free_energy_replicates``, or, without either, from the residuals of
  four or more voltages) and finds a linear term when max_N |a / sigma_a| exceeds
  the two-sided Bonferroni threshold of ``alpha`` = 0.05 over the grid points
  (valid whatever the correlation of the errors along N).
* Among the allowed term sets (1 + V^2, 1 + V + V^2, and the same with V^4) the one
  with the smallest leave-one-voltage-out (held-out) error is chosen; the held-out
  errors of every candidate are kept (:meth:`VoltageModel.summary_attrs`).
* Voltages outside the fitted range (|V| for a symmetric model) are refused with an
  :class:`ExtrapolationError` unless extrapolation is allowed
  (``VoltageModel.extrapolate = True``, ``--extrapolate`` on the command line),
  then they warn.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.stats import norm

from nanopore.profile import ProfileError, make_profile

#: Term sets tried, as powers of V (the constant is always there).
CANDIDATES: tuple[tuple[int, ...], ...] = ((0, 2), (0, 1, 2), (0, 2, 4), (0, 1, 2, 4))
#: Family-wise false-positive rate of the test for a linear (dipole) term.
LINEAR_TEST_ALPHA = 0.05


class ExtrapolationWarning(UserWarning):
    """A voltage outside the range the voltage model was fitted on (extrapolation allowed)."""


class ExtrapolationError(ProfileError):
    """A voltage outside the range the voltage model was fitted on."""


def term_label(powers: tuple[int, ...]) -> str:
    """Readable name of a term set, e.g. ``1 + V + V^2`` for (0, 1, 2)."""
    names = {0: "1", 1: "V"}
    return " + ".join(names.get(p, f"V^{p}") for p in powers)


def _design(volts: np.ndarray, powers: tuple[int, ...]) -> np.ndarray:
    return np.column_stack([volts**p for p in powers])


def _solvable(volts: np.ndarray, powers: tuple[int, ...]) -> bool:
    design = _design(volts, powers)
    return volts.size >= len(powers) and np.linalg.matrix_rank(design) == len(powers)


def holdout_errors(
    volts: np.ndarray, free_energy: np.ndarray, powers: tuple[int, ...]
) -> np.ndarray:
    """Leave-one-voltage-out prediction errors of a term set.

    Parameters
    ----------
    volts : ndarray, shape (m,)
        Voltages (V).
    free_energy : ndarray, shape (m, n_grid)
        Profiles (kT).
    powers : tuple of int
        Powers of V in the model.

    Returns
    -------
    ndarray, shape (m,)
        Root-mean-square difference (kT) between each profile and its prediction
        from the other voltages, the additive constant removed; NaN where the
        other voltages cannot determine the model.
    """
    out = np.full(volts.size, np.nan)
    for j in range(volts.size):
        keep = np.arange(volts.size) != j
        if not _solvable(volts[keep], powers):
            continue
        coeffs, *_ = np.linalg.lstsq(_design(volts[keep], powers), free_energy[keep], rcond=None)
        difference = free_energy[j] - _design(volts[j: j + 1], powers)[0] @ coeffs
        difference -= difference.mean()
        out[j] = float(np.sqrt(np.mean(difference**2)))
    return out


def linear_term_test(
    volts: np.ndarray, free_energy: np.ndarray, error: np.ndarray | None
) -> dict[str, float | bool | str]:
    """Whether the data show a linear (dipole) term a(N) V beyond its error.

    Only voltages of both signs can show it: with voltages of one sign a(N) V is
    indistinguishable from a departure of the even part from V^2, and the test
    reports no linear term. a(N) is fitted per grid point with 1 + V + V^2 (and V^4
    when the voltages determine it, so that no even term is taken for a linear
    one); its standard error comes from
    ``error`` (standard errors of the profiles, independent between voltages) or,
    without it, from the pooled residuals (four or more voltages).

    Parameters
    ----------
    volts : ndarray, shape (m,)
        Voltages (V).
    free_energy : ndarray, shape (m, n_grid)
        Profiles (kT).
    error : ndarray, shape (m, n_grid), optional
        Standard errors of the profiles (kT).

    Returns
    -------
    dict
        ``max_z`` (largest |a / sigma_a|), ``threshold`` (Bonferroni two-sided
        threshold at level 0.05), ``significant`` (bool), ``error_source``.
    """
    result: dict[str, float | bool | str] = {
        "max_z": float("nan"), "threshold": float("nan"), "significant": False,
        "error_source": "none",
    }
    if not (volts.min() < 0.0 < volts.max()):
        # With voltages of one sign a(N) V cannot be told from the even part's
        # departure from V^2 (e.g. a V^4 term): the data cannot show a dipole.
        result["error_source"] = "one-signed voltages"
        return result
    solvable = [p for p in ((0, 1, 2, 4), (0, 1, 2)) if _solvable(volts, p)]
    if not solvable:
        return result
    powers = solvable[0]
    design = _design(volts, powers)
    pseudo = np.linalg.pinv(design)  # (3, m)
    coeffs = pseudo @ free_energy
    slope = coeffs[1]
    if error is not None:
        sigma = np.sqrt(np.sum((pseudo[1][:, None] * error) ** 2, axis=0))
        result["error_source"] = "free_energy_error"
    elif volts.size > len(powers):  # no errors given: pooled residual variance
        residual = free_energy - design @ coeffs
        variance = float(np.sum(residual**2) / ((volts.size - len(powers)) * free_energy.shape[1]))
        sigma = np.sqrt(variance * np.sum(pseudo[1] ** 2)) * np.ones(free_energy.shape[1])
        result["error_source"] = "residuals"
    else:
        return result
    tested = sigma > 1e-12 * max(1.0, float(np.max(sigma)))
    if not np.any(tested):
        return result
    z = np.abs(slope[tested]) / sigma[tested]
    threshold = float(norm.isf(LINEAR_TEST_ALPHA / (2.0 * tested.sum())))
    result.update(max_z=float(np.max(z)), threshold=threshold,
                  significant=bool(np.max(z) > threshold))
    return result


def _profile_error(profile: xr.Dataset, keep: np.ndarray) -> np.ndarray | None:
    if "free_energy_error" in profile.data_vars:
        return np.asarray(profile["free_energy_error"].values, dtype=float)[keep]
    if "free_energy_replicates" in profile.data_vars:
        replicates = np.asarray(profile["free_energy_replicates"].values, dtype=float)
        if replicates.shape[0] > 1:
            return np.std(replicates, axis=0, ddof=1)[keep]
    return None


@dataclass
class VoltageModel:
    """Polynomial voltage dependence of a filling profile.

    Attributes
    ----------
    n : ndarray
        Grid (molecules).
    free_energy_zero, linear, quadratic : ndarray
        Omega(N; 0) (kT), a(N) (kT/V) and b(N) (kT/V^2).
    fitted_voltages : ndarray
        Voltages of the profiles used in the fit (V).
    diffusion : ndarray, shape (n_fitted, n_grid)
        D(N) at those voltages (molecules^2/ps); interpolated linearly in voltage
        and held constant beyond the ends.
    temperature : float
        Temperature (K).
    symmetric : bool
        True when there is no linear term; then |V| decides extrapolation.
    quartic : ndarray, optional
        c(N) (kT/V^4), zero unless the V^4 term was chosen.
    powers : tuple of int
        Powers of V in the model, e.g. (0, 2).
    holdout : dict of str to float
        Held-out (leave-one-voltage-out) RMS error (kT) of every candidate term set
        tried (NaN where too few voltages).
    linear_test : dict
        Result of :func:`linear_term_test` (empty when not run).
    extrapolate : bool
        Allow voltages outside the fitted range (with a warning) instead of refusing.
    """

    n: np.ndarray
    free_energy_zero: np.ndarray
    linear: np.ndarray
    quadratic: np.ndarray
    fitted_voltages: np.ndarray
    diffusion: np.ndarray
    temperature: float
    symmetric: bool
    source: str = ""
    quartic: np.ndarray | None = None
    powers: tuple[int, ...] = (0, 1, 2)
    holdout: dict = field(default_factory=dict)
    linear_test: dict = field(default_factory=dict)
    extrapolate: bool = False
    reason: str = ""

    @classmethod
    def fit(
        cls,
        profile: xr.Dataset,
        exclude: float | None = None,
        symmetric: bool | None = None,
        quartic: bool | None = None,
        extrapolate: bool = False,
    ) -> VoltageModel:
        """Fit the voltage dependence to a profile dataset with a ``voltage`` dimension.

        Parameters
        ----------
        profile : xarray.Dataset
            Profile with at least two voltages (three for a linear term).
        exclude : float, optional
            A voltage (V) to hold out from the fit, for validation.
        symmetric : bool, optional
            True: impose a = 0; False: fit a(N) (the pore has a dipole). Default:
            a = 0 unless the profile's attribute ``symmetric_pore`` is 0 or the data
            show a linear term beyond its error (:func:`linear_term_test`).
        quartic : bool, optional
            True/False: force the V^4 term in or out; default: chosen by held-out
            error when enough voltages allow the comparison.
        extrapolate : bool, optional
            Allow evaluation outside the fitted voltage range (warning only).

        Returns
        -------
        VoltageModel
        """
        if "voltage" not in profile["free_energy"].dims:
            raise ProfileError(
                "the voltage model needs profiles at two or more voltages; this profile has "
                "no 'voltage' dimension"
            )
        volts = np.asarray(profile["voltage"].values, dtype=float)
        keep = np.ones(volts.size, dtype=bool)
        if exclude is not None:
            keep &= ~np.isclose(volts, exclude, atol=1e-9, rtol=0)
        volts = volts[keep]
        if volts.size < 2:
            raise ProfileError(
                f"the voltage model needs profiles at two or more voltages, got {volts.size}"
            )
        free_energy = np.asarray(profile["free_energy"].values, dtype=float)[keep]
        error = _profile_error(profile, keep)
        test = linear_term_test(volts, free_energy, error) if symmetric is None else {}
        if symmetric is None:
            attribute = profile.attrs.get("symmetric_pore")
            if attribute is not None and not bool(int(np.asarray(attribute).ravel()[0])):
                linear, reason = True, "profile attribute symmetric_pore = 0"
            elif test.get("significant"):
                linear = True
                reason = (f"linear term found: max |a/sigma_a| = {test['max_z']:.2f} > "
                          f"{test['threshold']:.2f} ({test['error_source']})")
            else:
                linear = False
                source = test.get("error_source")
                if source == "one-signed voltages":
                    why = "voltages of one sign cannot show a linear term"
                elif source == "none":
                    why = "no errors to test a linear term against"
                else:
                    why = (f"no linear term beyond its error (max |a/sigma_a| = "
                           f"{test['max_z']:.2f} <= {test['threshold']:.2f})")
                reason = "symmetric pore: " + why
        else:
            linear = not symmetric
            reason = "asymmetric (given)" if linear else "symmetric (given)"
        if linear and volts.size < 3:
            raise ProfileError("a dipole term a(N) needs profiles at three or more voltages")
        candidates = [p for p in CANDIDATES if (1 in p) == linear]
        if quartic is not None:
            candidates = [p for p in candidates if (4 in p) == quartic]
        scores = {}
        for powers in candidates:
            errors = holdout_errors(volts, free_energy, powers)
            scores[powers] = float(np.sqrt(np.mean(errors**2))) if np.all(np.isfinite(errors)) \
                else float("nan")
        simplest = candidates[0]
        if not _solvable(volts, simplest):
            raise ProfileError(
                f"voltages {list(volts)} cannot determine the model {term_label(simplest)} "
                "(two voltages of equal magnitude?); add a profile at another voltage"
            )
        scored = [p for p in candidates if np.isfinite(scores[p])]
        chosen = min(scored, key=lambda p: (scores[p], len(p))) if scored else simplest
        if chosen != simplest:
            reason += f"; terms {term_label(chosen)} chosen by held-out error"
        coeffs, *_ = np.linalg.lstsq(_design(volts, chosen), free_energy, rcond=None)
        by_power = {p: coeffs[i] for i, p in enumerate(chosen)}
        zeros = np.zeros(free_energy.shape[1])
        diffusion = profile["diffusion"]
        if "voltage" in diffusion.dims:
            diffusion_rows = np.asarray(diffusion.values, dtype=float)[keep]
        else:
            diffusion_rows = np.broadcast_to(diffusion.values, free_energy.shape).copy()
        return cls(
            n=np.asarray(profile["n"].values, dtype=float),
            free_energy_zero=by_power[0],
            linear=by_power.get(1, zeros),
            quadratic=by_power.get(2, zeros),
            fitted_voltages=volts,
            diffusion=diffusion_rows,
            temperature=float(profile.attrs["temperature"]),
            symmetric=1 not in chosen,
            source=str(profile.attrs.get("producer", "")),
            quartic=by_power.get(4, zeros) if 4 in chosen else None,
            powers=chosen,
            holdout={term_label(p): s for p, s in scores.items()},
            linear_test=test,
            extrapolate=extrapolate,
            reason=reason,
        )

    def fitted_range(self) -> tuple[float, float]:
        """Lowest and highest voltage (V) the model may be evaluated at without extrapolating."""
        if self.symmetric:
            limit = float(np.max(np.abs(self.fitted_voltages)))
            return -limit, limit
        return float(self.fitted_voltages.min()), float(self.fitted_voltages.max())

    def check_range(self, voltages: np.ndarray) -> None:
        """Refuse voltages outside the fitted range.

        Raises
        ------
        ExtrapolationError
            Unless ``extrapolate`` is set; then an :class:`ExtrapolationWarning` is
            issued instead.
        """
        v = np.atleast_1d(np.asarray(voltages, dtype=float))
        lo, hi = self.fitted_range()
        outside = (v < lo - 1e-12) | (v > hi + 1e-12)
        span = f"|V| <= {hi:g} V" if self.symmetric else f"[{lo:g}, {hi:g}] V"
        if not np.any(outside):
            return
        values = np.unique(v[outside])[:5].tolist()
        if not self.extrapolate:
            raise ExtrapolationError(
                f"voltage(s) {values} outside the fitted range {span} of the voltage model; "
                "add profiles at those voltages, or pass --extrapolate to accept an "
                "extrapolated model"
            )
        warnings.warn(
            f"voltage(s) {values} outside the fitted range {span}: the voltage model is "
            "extrapolated",
            ExtrapolationWarning,
            stacklevel=3,
        )

    def coefficient_matrix(self, voltages: np.ndarray) -> np.ndarray:
        """Coefficients (1, V, V^2[, V^4]) for :meth:`basis`, shape (k, n_basis)."""
        v = np.atleast_1d(np.asarray(voltages, dtype=float))
        columns = [np.ones_like(v), v, v**2] + ([v**4] if self.quartic is not None else [])
        return np.column_stack(columns)

    def free_energy(self, voltages: np.ndarray | float, warn: bool = True) -> np.ndarray:
        """Omega(N; V) (kT), shape (n_voltages, n_grid) (or (n_grid,) for a scalar).

        ``warn=False`` skips the range check.
        """
        if warn:
            self.check_range(voltages)
        v = np.asarray(voltages, dtype=float)
        out = self.coefficient_matrix(v) @ self.basis()
        return out[0] if v.ndim == 0 else out

    def diffusion_at(self, voltages: np.ndarray | float) -> np.ndarray:
        """D(N; V) (molecules^2/ps), interpolated linearly in V, held at the ends."""
        v = np.atleast_1d(np.asarray(voltages, dtype=float))
        key = np.abs(v) if self.symmetric else v
        fitted = np.abs(self.fitted_voltages) if self.symmetric else self.fitted_voltages
        order = np.argsort(fitted)
        fitted, rows = fitted[order], self.diffusion[order]
        out = np.empty((v.size, self.n.size))
        for i, value in enumerate(key):
            j = int(np.searchsorted(fitted, value))
            if j <= 0:
                out[i] = rows[0]
            elif j >= fitted.size:
                out[i] = rows[-1]
            else:
                w = (value - fitted[j - 1]) / (fitted[j] - fitted[j - 1])
                out[i] = (1 - w) * rows[j - 1] + w * rows[j]
        return out[0] if np.ndim(voltages) == 0 else out

    def basis(self) -> np.ndarray:
        """Basis profiles (Omega_0, a, b[, c]), shape (3 or 4, n_grid).

        Omega = :meth:`coefficient_matrix` @ basis; the fourth row (V^4) is present
        only when the quartic term was chosen.
        """
        rows = [self.free_energy_zero, self.linear, self.quadratic]
        if self.quartic is not None:
            rows.append(self.quartic)
        return np.vstack(rows)

    def summary_attrs(self) -> dict[str, object]:
        """Attributes that record the model in an output dataset (netCDF-safe)."""
        labels = list(self.holdout)
        lo, hi = self.fitted_range()
        attrs: dict[str, object] = {
            "voltage_model_terms": term_label(self.powers),
            "voltage_model_reason": self.reason,
            "voltage_model_fitted_voltages": np.asarray(self.fitted_voltages, dtype=float),
            "voltage_model_range": np.array([lo, hi]),
            "voltage_model_extrapolated": int(self.extrapolate),
            "voltage_model_candidates": "; ".join(labels),
            "voltage_model_holdout_rms_kT": np.array([self.holdout[k] for k in labels], dtype=float),
        }
        if self.linear_test:
            attrs["voltage_model_linear_max_z"] = float(self.linear_test["max_z"])
            attrs["voltage_model_linear_threshold"] = float(self.linear_test["threshold"])
        return attrs

    def to_profile(self, voltages: np.ndarray) -> xr.Dataset:
        """Profile dataset evaluated at the given voltages (V)."""
        voltages = np.atleast_1d(np.asarray(voltages, dtype=float))
        ds = make_profile(
            self.n,
            self.free_energy(voltages),
            self.diffusion_at(voltages),
            self.temperature,
            voltage=voltages,
            producer="nanopore.voltage_model.VoltageModel",
            inputs=[self.source] if self.source else None,
            parameters={"fitted_voltages": self.fitted_voltages.tolist(), "symmetric": self.symmetric,
                        "terms": term_label(self.powers)},
        )
        ds.attrs.update(self.summary_attrs())
        return ds

    def holdout_error(self, profile: xr.Dataset, voltage: float) -> float:
        """Root-mean-square error (kT) of the prediction at a held-out voltage.

        The additive constant of each profile is removed (the comparison is of shapes,
        which is all kinetics sees).
        """
        index = int(np.argmin(np.abs(profile["voltage"].values - voltage)))
        observed = np.asarray(profile["free_energy"].values[index], dtype=float)
        predicted = self.free_energy(float(profile["voltage"].values[index]), warn=False)
        difference = observed - predicted
        difference -= difference.mean()
        return float(np.sqrt(np.mean(difference**2)))
