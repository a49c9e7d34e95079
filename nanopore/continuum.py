"""Continuum free-energy profile Omega(N; V, P, T) of pore filling for a cylindrical pore.

The model (sharp interfaces)
----------------------------
A cylinder of radius R and length L, wall contact angle theta, holds N water
molecules. The filled pore holds N_wet = pi R^2 L / v_l. For 0 <= N <= N_wet the
liquid fills the length L x, x = N / N_wet, and a vapour region of length
l = L (1 - x) takes the rest, separated from the liquid by a flat meniscus of
area pi R^2. Relative to the dry pore (N = 0), in joules:

* wall: -2 pi R L gamma cos(theta) x (wetted wall replaces dry wall; Young);
* pressure: -dP v_l N (liquid at excess pressure dP replaces vapour);
* menisci: gamma pi R^2 [M(l) - M(L)]. Wetting proceeds by one liquid front
  entering from a mouth, drying by the reverse. With the long-pore convention of
  :mod:`nanopore.capillary` (mouth discs of the dry pore not counted) the front
  is a full meniscus only away from both mouths: M(l) = s(l) s(L - l) with
  s(u) = 1 - exp(-u / xi). A vapour slab thinner than the interface width xi has
  no fully formed interface, and a meniscus within xi of a mouth merges with the
  reservoir's surface. With ``mouth_menisci`` the dry pore keeps a disc at each
  mouth and the vapour region is always bounded by two interfaces:
  M(l) = 2 s(l) / s(L). Creating the meniscus is the barrier of both wetting and
  drying; it sits near the wet end, where the last vapour disappears;
* electric: (a V + b V^2) x, the dipole and capacitive terms of
  :mod:`nanopore.electrowetting`, grown in proportion to the water content;
* compression: above N_wet the column can only be compressed, at the cost
  (N - N_wet)^2 v_l / (2 N_wet kappa_T) (kappa_T the isothermal compressibility of
  water); the wet state's count then fluctuates with variance
  N_wet kT kappa_T / v_l, as in bulk liquid.

At the two ends M vanishes (or equals M(L)), so Omega(N_wet) - Omega(0) is exactly
the capillary difference plus the electrowetting terms, and the critical voltage
of :mod:`nanopore.electrowetting` is where the two ends cross. The pressure enters
as -dP v_l N at every N, the form :mod:`nanopore.thermodynamics` applies to any
profile, and the voltage as a(N) V + b(N) V^2, the form the voltage model fits.

Assumptions: the macroscopic surface tension (IAPWS, at the temperature) and
contact angle hold down to the pore size; flat menisci (meniscus curvature, line
tension and the wall's molecular roughness are left out); the radius R is that
of the water-filled cylinder (the pore's radius less the wall's exclusion
distance); the vapour holds no molecules; v_l and kappa_T are those of bulk
water near 300 K; the diffusion coefficient D(N) is not predicted by the model
and is a setting (linear in the filling between a dry and a wet value; default
1 molecule^2/ps throughout, the order of magnitude of D(N) in restrained MD of
sub-nanometre pores). Every rate computed from the profile scales with D.
Free energies are in kT at the temperature, with Omega = 0 for the dry pore.

Consequences for the kinetics: the dry state is a basin at the grid's lower end
whose walls rise linearly (not a harmonic well), so the harmonic Kramers formula
does not apply there (``--method kramers`` reports NaN for k_wet); the exact and
Fokker-Planck rates do. The macroscopic crossing (equal Omega at N = 0 and
N_wet) is not quite where P_wet = 1/2: the two basins differ in width, which
shifts, e.g., the equilibrium intrusion pressure of ``nanopore cycle`` a few
percent below the Laplace value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from nanopore.capillary import (
    filled_water_count,
    intrusion_pressure,
    require_contact_angle,
    require_positive,
    water_surface_tension,
    wetting_free_energy,
)
from nanopore.electrowetting import (
    WATER_PERMITTIVITY,
    critical_voltages,
    dipole_coefficient,
    electrowetting_coefficient,
    require_fraction,
)
from nanopore.profile import make_profile
from nanopore.units import NANOMETER, WATER_MOLECULAR_VOLUME_NM3, kT_joule

#: Isothermal compressibility of liquid water at 25 C (1/Pa).
WATER_COMPRESSIBILITY = 4.52e-10
#: Default width of the liquid-vapour interface (nm), about one molecular diameter.
INTERFACE_WIDTH_NM = 0.3
#: Default diffusion coefficient of N (molecules^2/ps).
DEFAULT_DIFFUSION = 1.0


@dataclass(frozen=True)
class ContinuumPore:
    """A cylindrical pore in the sharp-interface continuum model.

    Attributes
    ----------
    radius_nm, length_nm : float
        Radius of the water-filled cylinder and its length (nm), positive.
    contact_angle_deg : float
        Contact angle of water on the wall (degrees, 0 to 180; above 90 is
        hydrophobic).
    temperature : float
        Temperature (K); sets kT and, unless ``surface_tension`` is given, the
        IAPWS surface tension.
    surface_tension : float, optional
        Liquid-vapour surface tension (N/m); default IAPWS at ``temperature``.
    alpha : float
        Fraction of the applied voltage across the pore, in (0, 1].
    permittivity : float
        Relative permittivity of water.
    dipole_debye : float
        Axial dipole of the filled pore's water (debye); 0 for a symmetric pore.
    interface_width_nm : float
        Width xi over which a meniscus forms (nm).
    mouth_menisci : bool
        Count the liquid-vapour discs that close the dry pore at its mouths.
    molecular_volume_nm3 : float
        Volume per liquid molecule v_l (nm^3).
    compressibility : float
        Isothermal compressibility of the liquid kappa_T (1/Pa).
    """

    radius_nm: float
    length_nm: float
    contact_angle_deg: float
    temperature: float = 300.0
    surface_tension: float | None = None
    alpha: float = 1.0
    permittivity: float = WATER_PERMITTIVITY
    dipole_debye: float = 0.0
    interface_width_nm: float = INTERFACE_WIDTH_NM
    mouth_menisci: bool = False
    molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3
    compressibility: float = WATER_COMPRESSIBILITY

    def __post_init__(self) -> None:
        require_positive(self.radius_nm, "radius", "nm")
        require_positive(self.length_nm, "length", "nm")
        require_contact_angle(self.contact_angle_deg)
        require_positive(self.temperature, "temperature", "K")
        if self.surface_tension is None:
            water_surface_tension(self.temperature)  # checks the range
        else:
            require_positive(self.surface_tension, "surface tension", "N/m")
        require_fraction(self.alpha)
        if not np.isfinite(self.dipole_debye):
            raise ValueError(f"dipole must be a finite number of debye, got {self.dipole_debye}")
        require_positive(self.interface_width_nm, "interface width", "nm")
        require_positive(self.molecular_volume_nm3, "molecular volume", "nm^3")
        require_positive(self.compressibility, "compressibility", "1/Pa")
        electrowetting_coefficient(self.radius_nm, self.length_nm, self.alpha, self.permittivity)

    @property
    def gamma(self) -> float:
        """Surface tension (N/m)."""
        if self.surface_tension is not None:
            return float(self.surface_tension)
        return water_surface_tension(self.temperature)

    @property
    def kT(self) -> float:
        """Thermal energy (J)."""
        return kT_joule(self.temperature)

    @property
    def n_wet(self) -> float:
        """Water molecules in the filled pore, pi R^2 L / v_l."""
        return filled_water_count(self.radius_nm, self.length_nm, self.molecular_volume_nm3)

    @property
    def wet_fluctuation(self) -> float:
        """Standard deviation of N in the wet state, sqrt(N_wet kT kappa_T / v_l) (molecules)."""
        volume = self.molecular_volume_nm3 * NANOMETER**3
        return float(np.sqrt(self.n_wet * self.kT * self.compressibility / volume))

    @property
    def symmetric(self) -> bool:
        """Whether the pore has no intrinsic dipole (Omega depends on V^2 only)."""
        return self.dipole_debye == 0.0

    def intrusion_pressure(self) -> float:
        """Laplace intrusion pressure -2 gamma cos(theta) / R (Pa)."""
        return intrusion_pressure(self.radius_nm, self.contact_angle_deg, self.gamma)

    def capillary_free_energy(self, excess_pressure: float = 0.0) -> float:
        """Omega_wet - Omega_dry at V = 0 (J), :func:`nanopore.capillary.wetting_free_energy`."""
        return wetting_free_energy(
            self.radius_nm, self.length_nm, self.contact_angle_deg, self.gamma,
            excess_pressure, self.mouth_menisci,
        )

    def voltage_coefficients(self) -> tuple[float, float]:
        """(a, b) of Omega_wet - Omega_dry = C + a V + b V^2, in J/V and J/V^2."""
        return (
            dipole_coefficient(self.length_nm, self.dipole_debye, self.alpha),
            electrowetting_coefficient(self.radius_nm, self.length_nm, self.alpha, self.permittivity),
        )

    def wetting_free_energy(self, voltage=0.0, excess_pressure: float = 0.0):
        """Omega_wet - Omega_dry (kT) at the voltage(s) (V) and excess pressure (Pa).

        Parameters
        ----------
        voltage : float or array_like, optional
            Applied voltage (V).
        excess_pressure : float, optional
            Liquid pressure above the vapour's (Pa).

        Returns
        -------
        float or ndarray
            Free-energy difference (kT); positive when the dry pore is favoured.
        """
        a, b = self.voltage_coefficients()
        v = np.asarray(voltage, dtype=float)
        out = (self.capillary_free_energy(excess_pressure) + a * v + b * v**2) / self.kT
        return float(out) if out.ndim == 0 else out

    def critical_voltages(self, excess_pressure: float = 0.0) -> tuple[float, float]:
        """Negative and positive voltages (V) at which wet and dry pores are equally likely.

        Both 0 when the pore is wet already at V = 0, see
        :func:`nanopore.electrowetting.critical_voltages`.
        """
        return critical_voltages(
            self.capillary_free_energy(excess_pressure), self.radius_nm, self.length_nm,
            self.alpha, self.permittivity, self.dipole_debye,
        )

    def critical_voltage(self, excess_pressure: float = 0.0) -> float:
        """Smallest positive voltage (V) at which the filled pore is favoured (0 if wet at 0 V)."""
        return self.critical_voltages(excess_pressure)[1]

    def grid(self, n_points: int = 201) -> np.ndarray:
        """Grid of N: ``n_points`` from 0 to N_wet, then on to N_wet + 5 sigma_wet.

        Parameters
        ----------
        n_points : int, optional
            Points on [0, N_wet] (at least 3).

        Returns
        -------
        ndarray
            Grid (molecules), uniform, with N_wet on it.
        """
        if int(n_points) != n_points or n_points < 3:
            raise ValueError(f"n_points must be an integer of at least 3, got {n_points}")
        filling = np.linspace(0.0, self.n_wet, int(n_points))
        step = filling[1] - filling[0]
        extra = int(np.ceil(5.0 * self.wet_fluctuation / step))
        return np.concatenate([filling, self.n_wet + step * np.arange(1, extra + 1)])

    def wet_index(self, grid: np.ndarray) -> int:
        """Index of N_wet on a grid (the grid point nearest to it)."""
        return int(np.argmin(np.abs(np.asarray(grid, dtype=float) - self.n_wet)))

    def _meniscus_count(self, vapour_length: np.ndarray) -> np.ndarray:
        xi = self.interface_width_nm

        def onset(u):
            return -np.expm1(-np.clip(u, 0.0, None) / xi)

        if self.mouth_menisci:
            return 2.0 * onset(vapour_length) / onset(self.length_nm)
        return onset(vapour_length) * onset(self.length_nm - vapour_length)

    def terms(self, n: np.ndarray) -> dict[str, np.ndarray]:
        """The parts of Omega(N) (kT) at V = 0, dP = 0, and the voltage and pressure slopes.

        Parameters
        ----------
        n : ndarray
            Grid (molecules), non-negative.

        Returns
        -------
        dict of str to ndarray
            ``wall``, ``menisci``, ``compression`` (kT); ``linear`` a(N) (kT/V),
            ``quadratic`` b(N) (kT/V^2) and ``pressure`` d(Omega)/d(dP) (kT/Pa).
        """
        n = np.asarray(n, dtype=float)
        if np.any(n < 0):
            raise ValueError("the water count N must be non-negative")
        kT = self.kT
        x = np.clip(n / self.n_wet, 0.0, 1.0)
        radius = self.radius_nm * NANOMETER
        length = self.length_nm * NANOMETER
        theta = np.deg2rad(self.contact_angle_deg)
        wall = -2.0 * np.pi * radius * length * self.gamma * np.cos(theta) * x
        menisci = self.gamma * np.pi * radius**2 * (
            self._meniscus_count(self.length_nm * (1.0 - x)) - self._meniscus_count(np.array(self.length_nm))
        )
        volume = self.molecular_volume_nm3 * NANOMETER**3
        excess = np.clip(n - self.n_wet, 0.0, None)
        compression = excess**2 * volume / (2.0 * self.n_wet * self.compressibility)
        a, b = self.voltage_coefficients()
        return {
            "wall": wall / kT,
            "menisci": menisci / kT,
            "compression": compression / kT,
            "linear": a * x / kT,
            "quadratic": b * x / kT,
            "pressure": -volume * n / kT,
        }

    def free_energy(self, n: np.ndarray, voltage=0.0, excess_pressure: float = 0.0) -> np.ndarray:
        """Omega(N; V, dP) (kT), zero for the dry pore.

        Parameters
        ----------
        n : ndarray, shape (n_grid,)
            Grid (molecules).
        voltage : float or array_like, shape (n_voltages,), optional
            Applied voltage(s) (V).
        excess_pressure : float, optional
            Liquid pressure above the vapour's (Pa).

        Returns
        -------
        ndarray, shape (n_grid,) or (n_voltages, n_grid)
            Free energy (kT).
        """
        parts = self.terms(n)
        base = parts["wall"] + parts["menisci"] + parts["compression"]
        base = base + float(excess_pressure) * parts["pressure"]
        v = np.asarray(voltage, dtype=float)
        vv = np.atleast_1d(v)[:, None]
        out = base[None, :] + parts["linear"][None, :] * vv + parts["quadratic"][None, :] * vv**2
        return out[0] if v.ndim == 0 else out

    def diffusion(
        self, n: np.ndarray, dry: float = DEFAULT_DIFFUSION, wet: float = DEFAULT_DIFFUSION
    ) -> np.ndarray:
        """D(N) (molecules^2/ps), linear in the filling from ``dry`` at N = 0 to ``wet`` at N_wet.

        Parameters
        ----------
        n : ndarray
            Grid (molecules).
        dry, wet : float, optional
            D of the empty and of the filled pore (molecules^2/ps), positive.

        Returns
        -------
        ndarray
            D (molecules^2/ps), held at ``wet`` above N_wet.
        """
        require_positive(dry, "diffusion coefficient of the dry pore", "molecules^2/ps")
        require_positive(wet, "diffusion coefficient of the wet pore", "molecules^2/ps")
        x = np.clip(np.asarray(n, dtype=float) / self.n_wet, 0.0, 1.0)
        return dry + (wet - dry) * x

    def describe(self) -> dict[str, float | int]:
        """Settings as plain numbers, for dataset attributes."""
        return {
            "pore_radius_nm": float(self.radius_nm),
            "pore_length_nm": float(self.length_nm),
            "contact_angle_deg": float(self.contact_angle_deg),
            "surface_tension_N_per_m": self.gamma,
            "voltage_fraction_alpha": float(self.alpha),
            "water_permittivity": float(self.permittivity),
            "dipole_debye": float(self.dipole_debye),
            "interface_width_nm": float(self.interface_width_nm),
            "mouth_menisci": int(bool(self.mouth_menisci)),
            "molecular_volume_nm3": float(self.molecular_volume_nm3),
            "compressibility_per_Pa": float(self.compressibility),
            "n_wet": self.n_wet,
        }


def continuum_profile(
    pore: ContinuumPore,
    voltages: Sequence[float] | float = (0.0,),
    excess_pressure: float = 0.0,
    n_points: int = 201,
    diffusion_dry: float = DEFAULT_DIFFUSION,
    diffusion_wet: float = DEFAULT_DIFFUSION,
) -> xr.Dataset:
    """The continuum profile as a profile dataset (:mod:`nanopore.profile`).

    Parameters
    ----------
    pore : ContinuumPore
        The pore and its model settings.
    voltages : float or sequence of float, optional
        Voltage(s) (V); several give a ``voltage`` dimension (sorted, duplicates
        dropped), one gives a one-dimensional profile with the attribute ``voltage``.
    excess_pressure : float, optional
        Liquid pressure above the vapour's (Pa), recorded as
        ``excess_pressure_MPa``.
    n_points : int, optional
        Grid points from N = 0 to N_wet (the grid continues above, see
        :meth:`ContinuumPore.grid`).
    diffusion_dry, diffusion_wet : float, optional
        D at N = 0 and at N_wet (molecules^2/ps), linear in between.

    Returns
    -------
    xarray.Dataset
        A validated profile: ``free_energy`` (kT), ``diffusion`` (molecules^2/ps) on
        ``n`` (and ``voltage``), attribute ``temperature`` (K) and the model's
        settings.
    """
    volts = np.unique(np.atleast_1d(np.asarray(voltages, dtype=float)))
    if volts.size == 0 or not np.all(np.isfinite(volts)):
        raise ValueError("voltages must be one or more finite numbers (V)")
    grid = pore.grid(n_points)
    diffusion = pore.diffusion(grid, diffusion_dry, diffusion_wet)
    attrs: dict[str, float | int] = {
        **pore.describe(),
        "excess_pressure_MPa": float(excess_pressure) / 1e6,
        "symmetric_pore": int(pore.symmetric),
    }
    if volts.size == 1:
        free_energy = pore.free_energy(grid, float(volts[0]), excess_pressure)
        voltage_coord = None
        attrs["voltage"] = float(volts[0])
    else:
        free_energy = pore.free_energy(grid, volts, excess_pressure)
        voltage_coord = volts
    parameters = {**pore.describe(), "voltages": volts.tolist(),
                  "excess_pressure_Pa": float(excess_pressure), "n_points": int(n_points),
                  "diffusion_dry": float(diffusion_dry), "diffusion_wet": float(diffusion_wet)}
    return make_profile(
        grid,
        free_energy,
        diffusion,
        pore.temperature,
        voltage=voltage_coord,
        producer="nanopore.continuum.continuum_profile (sharp-interface continuum model, "
        "not simulation data)",
        parameters=parameters,
        attrs=attrs,
    )
