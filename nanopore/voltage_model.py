"""Free energy at any voltage: Omega(N; V) = Omega(N; 0) + a(N) V + b(N) V^2.

The "simple theory" of electrowetting: the field couples to the pore's dipole
(a, zero for a symmetric pore) and its capacitance (b <= 0, favouring the wet
pore). a(N) and b(N) are fitted per grid point by least squares from profiles at
two or more voltages; with exactly two voltages the pore is taken as symmetric
(a = 0). Each profile may carry its own additive constant; the fit absorbs a
smooth voltage dependence of it, which no kinetic quantity sees.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from nanopore.profile import ProfileError, make_profile


class ExtrapolationWarning(UserWarning):
    """A voltage outside the range the voltage model was fitted on."""


@dataclass
class VoltageModel:
    """Quadratic voltage dependence of a filling profile.

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
        True when a = 0 was imposed (two voltages); then |V| decides extrapolation.
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

    @classmethod
    def fit(
        cls, profile: xr.Dataset, exclude: float | None = None, symmetric: bool | None = None
    ) -> "VoltageModel":
        """Fit a(N) and b(N) to a profile dataset with a ``voltage`` dimension.

        Parameters
        ----------
        profile : xarray.Dataset
            Profile with at least two voltages (three for a non-zero a).
        exclude : float, optional
            A voltage (V) to hold out from the fit, for validation.
        symmetric : bool, optional
            Impose a = 0 (a pore without an intrinsic dipole: Omega depends on V^2
            only, so negative voltages are covered by positive ones). Default: the
            profile's attribute ``symmetric_pore`` if present, else True only for
            two voltages.

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
        if symmetric is None:
            symmetric = bool(profile.attrs.get("symmetric_pore", volts.size == 2))
        if not symmetric and volts.size < 3:
            raise ProfileError("a dipole term a(N) needs profiles at three or more voltages")
        if symmetric:
            design = np.column_stack([np.ones_like(volts), volts**2])
        else:
            design = np.column_stack([np.ones_like(volts), volts, volts**2])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise ProfileError(
                f"voltages {list(volts)} cannot determine the model (two voltages of equal "
                "magnitude?); add a profile at another voltage"
            )
        coeffs, *_ = np.linalg.lstsq(design, free_energy, rcond=None)
        if symmetric:
            zero, quadratic = coeffs
            linear = np.zeros_like(zero)
        else:
            zero, linear, quadratic = coeffs
        diffusion = profile["diffusion"]
        if "voltage" in diffusion.dims:
            diffusion_rows = np.asarray(diffusion.values, dtype=float)[keep]
        else:
            diffusion_rows = np.broadcast_to(diffusion.values, free_energy.shape).copy()
        return cls(
            n=np.asarray(profile["n"].values, dtype=float),
            free_energy_zero=zero,
            linear=linear,
            quadratic=quadratic,
            fitted_voltages=volts,
            diffusion=diffusion_rows,
            temperature=float(profile.attrs["temperature"]),
            symmetric=symmetric,
            source=str(profile.attrs.get("producer", "")),
        )

    def check_range(self, voltages: np.ndarray) -> None:
        """Warn (:class:`ExtrapolationWarning`) for voltages outside the fitted range."""
        v = np.atleast_1d(np.asarray(voltages, dtype=float))
        if self.symmetric:
            limit = float(np.max(np.abs(self.fitted_voltages)))
            outside = np.abs(v) > limit + 1e-12
            span = f"|V| <= {limit:g} V"
        else:
            lo, hi = float(self.fitted_voltages.min()), float(self.fitted_voltages.max())
            outside = (v < lo - 1e-12) | (v > hi + 1e-12)
            span = f"[{lo:g}, {hi:g}] V"
        if np.any(outside):
            warnings.warn(
                f"voltage(s) {np.unique(v[outside])[:5].tolist()} outside the fitted range "
                f"{span}: the quadratic voltage model is extrapolated",
                ExtrapolationWarning,
                stacklevel=3,
            )

    def free_energy(self, voltages: np.ndarray | float, warn: bool = True) -> np.ndarray:
        """Omega(N; V) (kT), shape (n_voltages, n_grid) (or (n_grid,) for a scalar)."""
        if warn:
            self.check_range(voltages)
        v = np.asarray(voltages, dtype=float)
        vv = np.atleast_1d(v)[:, None]
        out = self.free_energy_zero + self.linear * vv + self.quadratic * vv**2
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
        """Basis profiles (Omega_0, a, b), shape (3, n_grid): Omega = c . basis, c = (1, V, V^2)."""
        return np.vstack([self.free_energy_zero, self.linear, self.quadratic])

    def to_profile(self, voltages: np.ndarray) -> xr.Dataset:
        """Profile dataset evaluated at the given voltages (V)."""
        voltages = np.atleast_1d(np.asarray(voltages, dtype=float))
        return make_profile(
            self.n,
            self.free_energy(voltages),
            self.diffusion_at(voltages),
            self.temperature,
            voltage=voltages,
            producer="nanopore.voltage_model.VoltageModel",
            inputs=[self.source] if self.source else None,
            parameters={"fitted_voltages": self.fitted_voltages.tolist(), "symmetric": self.symmetric},
        )

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
