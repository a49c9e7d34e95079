"""Design rules for memristive hydrophobic pores, and design maps over radius and contact angle.

A pore driven by V(t) = V0 sin(2 pi f t) behaves as a memristor when

1. it is dry at 0 V: Omega_wet - Omega_dry >= ``dry_margin`` kT (3 kT: P_wet < 5%);
2. it wets below the membrane's breakdown voltage: the critical voltage
   V_c <= V0 <= V_breakdown (for a pore with a dipole, the smaller |V_c| of the two
   polarities);
3. its switching is comparable to the drive: it wets within a period at the peak
   (k_wet(V0) >= f) and dries within a period at 0 V (k_dry(0) >= f), yet does not
   follow the drive adiabatically. The equilibrium switch at V_c is
   dV = kT / |d(Omega_wet - Omega_dry)/dV| wide and the drive crosses it in
   t_sweep = dV / (2 pi f sqrt(V0^2 - V_c^2)); the pore lags behind it (and the I-V
   loop opens) when (k_wet + k_dry)(V_c) t_sweep <= ``adiabatic_limit`` (10).

Rates are exact mean first-passage times (:mod:`langevin.rates`) between the dry
(N = 0) and the filled (N = N_wet) pore on the continuum profile of
:mod:`nanopore.continuum`; they scale with the diffusion coefficient assumed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from langevin.rates import basins_for_rows, rate_arrays
from nanopore.capillary import require_positive
from nanopore.continuum import DEFAULT_DIFFUSION, ContinuumPore
from nanopore.electrowetting import access_voltage_fraction
from nanopore.pore_conductance import KCL_1M_CONDUCTIVITY, open_pore_conductance
from nanopore.provenance import annotate, provenance_attrs

#: Verdict codes of :func:`assess`, in the order the rules are checked.
VERDICTS = {
    0: "memristor",
    1: "wet at 0 V",
    2: "wets only above V0 or breakdown",
    3: "wets too slowly",
    4: "dries too slowly",
    5: "follows the drive (no hysteresis)",
}


def switching_rates(
    pore: ContinuumPore,
    voltages: Sequence[float] | np.ndarray,
    excess_pressure: float = 0.0,
    n_points: int = 201,
    diffusion_dry: float = DEFAULT_DIFFUSION,
    diffusion_wet: float = DEFAULT_DIFFUSION,
) -> dict[str, np.ndarray]:
    """Wetting and drying rates between the dry and the filled pore at several voltages.

    Parameters
    ----------
    pore : ContinuumPore
        The pore.
    voltages : sequence of float
        Voltages (V).
    excess_pressure : float, optional
        Liquid pressure above the vapour's (Pa).
    n_points : int, optional
        Profile grid points on [0, N_wet].
    diffusion_dry, diffusion_wet : float, optional
        D of N at the two ends (molecules^2/ps).

    Returns
    -------
    dict of str to ndarray, each shape (n_voltages,)
        ``k_wet`` = 1/MFPT(0 -> N_wet), ``k_dry`` = 1/MFPT(N_wet -> 0) (1/s);
        ``barrier_wetting``, ``barrier_drying`` (kT), the profile's maximum between
        the two states above each of them.
    """
    volts = np.atleast_1d(np.asarray(voltages, dtype=float))
    grid = pore.grid(n_points)
    free_energy = pore.free_energy(grid, volts, excess_pressure)
    diffusion = pore.diffusion(grid, diffusion_dry, diffusion_wet)
    basins = basins_for_rows(grid, free_energy, volts, dry=0.0, wet=pore.n_wet)
    rates = rate_arrays(grid, free_energy, diffusion, basins, method="exact")
    rows = np.arange(volts.size)
    top = np.array([b.barrier for b in basins])
    dry = np.array([b.dry for b in basins])
    wet = np.array([b.wet for b in basins])
    rates["barrier_wetting"] = free_energy[rows, top] - free_energy[rows, dry]
    rates["barrier_drying"] = free_energy[rows, top] - free_energy[rows, wet]
    return rates


@dataclass
class DesignReport:
    """Assessment of one pore as a memristor (see the module docstring for the rules).

    Attributes hold SI units unless their name says otherwise; ``reasons`` lists,
    in words, every rule the pore fails (empty for a memristor).
    """

    pore: ContinuumPore
    excess_pressure: float
    breakdown_voltage: float
    amplitude: float
    frequency: float
    intrusion_pressure: float
    wetting_free_energy_kT: float
    critical_voltage_minus: float
    critical_voltage_plus: float
    wetting_free_energy_amplitude_kT: float
    barrier_wetting_amplitude_kT: float
    barrier_drying_zero_kT: float
    k_wet_amplitude: float
    k_dry_amplitude: float
    k_dry_zero: float
    relaxation_rate_critical: float
    adiabatic_number: float
    open_pore_conductance: float
    verdict: int
    reasons: list[str] = field(default_factory=list)

    @property
    def is_memristor(self) -> bool:
        """Whether the pore passes every rule."""
        return self.verdict == 0

    @property
    def critical_voltage(self) -> float:
        """The smaller magnitude of the two critical voltages (V)."""
        return min(abs(self.critical_voltage_minus), self.critical_voltage_plus)

    def rows(self) -> list[list[object]]:
        """(quantity, value, unit) rows for a printed table."""
        pore = self.pore
        rows: list[list[object]] = [
            ["radius", pore.radius_nm, "nm"],
            ["length", pore.length_nm, "nm"],
            ["contact angle", pore.contact_angle_deg, "deg"],
            ["temperature", pore.temperature, "K"],
            ["surface tension", pore.gamma * 1e3, "mN/m"],
            ["water in the filled pore", pore.n_wet, "molecules"],
            ["intrusion pressure (Laplace)", self.intrusion_pressure / 1e6, "MPa"],
            ["excess pressure", self.excess_pressure / 1e6, "MPa"],
            ["Omega_wet - Omega_dry at 0 V", self.wetting_free_energy_kT, "kT"],
            ["voltage fraction alpha", pore.alpha, "-"],
            ["alpha if access resistance counts",
             access_voltage_fraction(pore.radius_nm, pore.length_nm), "-"],
        ]
        if pore.symmetric:
            rows.append(["critical voltage", self.critical_voltage_plus, "V"])
        else:
            rows.append(["critical voltage (V > 0)", self.critical_voltage_plus, "V"])
            rows.append(["critical voltage (V < 0)", self.critical_voltage_minus, "V"])
        rows += [
            ["breakdown voltage", self.breakdown_voltage, "V"],
            ["drive amplitude V0", self.amplitude, "V"],
            ["drive frequency f", self.frequency, "Hz"],
            ["Omega_wet - Omega_dry at V0", self.wetting_free_energy_amplitude_kT, "kT"],
            ["wetting barrier at V0", self.barrier_wetting_amplitude_kT, "kT"],
            ["drying barrier at 0 V", self.barrier_drying_zero_kT, "kT"],
            ["k_wet at V0", self.k_wet_amplitude, "1/s"],
            ["k_dry at V0", self.k_dry_amplitude, "1/s"],
            ["k_dry at 0 V", self.k_dry_zero, "1/s"],
            ["k_wet + k_dry at V_c", self.relaxation_rate_critical, "1/s"],
            ["adiabatic number", self.adiabatic_number, "-"],
            ["open-pore conductance", self.open_pore_conductance * 1e9, "nS"],
            ["open-pore current at V0", self.open_pore_conductance * self.amplitude * 1e9, "nA"],
            ["memristor", "yes" if self.is_memristor else "no", ""],
        ]
        return rows


def assess(
    pore: ContinuumPore,
    breakdown_voltage: float = 0.5,
    frequency: float = 1.0e3,
    amplitude: float | None = None,
    excess_pressure: float = 0.0,
    diffusion_dry: float = DEFAULT_DIFFUSION,
    diffusion_wet: float = DEFAULT_DIFFUSION,
    conductivity: float = KCL_1M_CONDUCTIVITY,
    dry_margin: float = 3.0,
    adiabatic_limit: float = 10.0,
    n_points: int = 201,
) -> DesignReport:
    """Whether a pore behaves as a memristor, and why not when it does not.

    Parameters
    ----------
    pore : ContinuumPore
        The pore (geometry, contact angle, temperature, electrowetting settings).
    breakdown_voltage : float, optional
        Membrane breakdown voltage (V); a few hundred mV for lipid bilayers.
    frequency : float, optional
        Drive frequency f (Hz).
    amplitude : float, optional
        Drive amplitude V0 (V); default the breakdown voltage.
    excess_pressure : float, optional
        Liquid pressure above the vapour's (Pa).
    diffusion_dry, diffusion_wet : float, optional
        D of N at the two ends (molecules^2/ps).
    conductivity : float, optional
        Electrolyte conductivity (S/m), for the open-pore conductance.
    dry_margin : float, optional
        Smallest Omega_wet - Omega_dry at 0 V (kT) for "dry at 0 V".
    adiabatic_limit : float, optional
        Largest adiabatic number for an open loop (see the module docstring).
    n_points : int, optional
        Profile grid points on [0, N_wet].

    Returns
    -------
    DesignReport
    """
    breakdown_voltage = require_positive(breakdown_voltage, "breakdown voltage", "V")
    frequency = require_positive(frequency, "drive frequency", "Hz")
    if amplitude is None:
        amplitude = breakdown_voltage
    amplitude = require_positive(amplitude, "drive amplitude", "V")
    v_minus, v_plus = pore.critical_voltages(excess_pressure)
    v_switch = v_plus if v_plus <= abs(v_minus) else v_minus
    switch = abs(v_switch)
    wet_zero = pore.wetting_free_energy(0.0, excess_pressure)
    wet_amplitude = pore.wetting_free_energy(amplitude, excess_pressure)
    probe = np.array([0.0, amplitude] + ([v_switch] if switch > 0 else []))
    rates = switching_rates(pore, probe, excess_pressure, n_points, diffusion_dry, diffusion_wet)
    if switch > 0:
        relaxation = float(rates["k_wet"][2] + rates["k_dry"][2])
        a, b = pore.voltage_coefficients()
        slope = abs(a + 2.0 * b * v_switch) / pore.kT  # kT/V
        width = 1.0 / slope
        speed = 2.0 * np.pi * frequency * np.sqrt(max(amplitude**2 - switch**2, 0.0))
        adiabatic = relaxation * width / speed if speed > 0 else float("nan")
    else:
        relaxation, adiabatic = float("nan"), float("nan")
    k_wet_amp, k_dry_amp, k_dry_zero = (
        float(rates["k_wet"][1]), float(rates["k_dry"][1]), float(rates["k_dry"][0])
    )
    reasons: list[str] = []
    failed: list[int] = []
    if wet_zero < dry_margin:
        failed.append(1)
        if pore.contact_angle_deg <= 90.0:
            reasons.append(f"wet at 0 V: the wall is hydrophilic (contact angle "
                           f"{pore.contact_angle_deg:g} deg <= 90 deg)")
        else:
            reasons.append(f"not dry at 0 V: the filled pore is only {wet_zero:.3g} kT above the "
                           f"empty one (needs {dry_margin:g} kT); pore too wide, too short or "
                           "contact angle too close to 90 deg")
    if amplitude > breakdown_voltage:
        failed.append(2)
        reasons.append(f"drive amplitude {amplitude:.3g} V exceeds the breakdown voltage "
                       f"{breakdown_voltage:.3g} V")
    if switch > breakdown_voltage:
        failed.append(2)
        reasons.append(f"wets only at V_c = {switch:.3g} V, above the breakdown voltage "
                       f"{breakdown_voltage:.3g} V; a wider, shorter or less hydrophobic pore "
                       "lowers V_c")
    elif switch >= amplitude:
        failed.append(2)
        reasons.append(f"wets only at V_c = {switch:.3g} V, above the drive amplitude "
                       f"{amplitude:.3g} V; raise V0 (up to breakdown)")
    if not failed:
        if k_wet_amp < frequency:
            failed.append(3)
            reasons.append(f"wets too slowly: k_wet(V0) = {k_wet_amp:.3g} 1/s < f = {frequency:.3g} Hz "
                           "(raise V0 or lower f)")
        if k_dry_zero < frequency:
            failed.append(4)
            reasons.append(f"dries too slowly: k_dry(0 V) = {k_dry_zero:.3g} 1/s < f = "
                           f"{frequency:.3g} Hz; it stays wet (a memory, not a memristor)")
        if not failed and not adiabatic <= adiabatic_limit:
            failed.append(5)
            reasons.append(f"follows the drive: relaxation at V_c ({relaxation:.3g} 1/s) is "
                           f"{adiabatic:.3g} times faster than the drive crosses the switch; raise "
                           "f to open the loop")
    return DesignReport(
        pore=pore,
        excess_pressure=float(excess_pressure),
        breakdown_voltage=breakdown_voltage,
        amplitude=amplitude,
        frequency=frequency,
        intrusion_pressure=pore.intrusion_pressure(),
        wetting_free_energy_kT=wet_zero,
        critical_voltage_minus=v_minus,
        critical_voltage_plus=v_plus,
        wetting_free_energy_amplitude_kT=wet_amplitude,
        barrier_wetting_amplitude_kT=float(rates["barrier_wetting"][1]),
        barrier_drying_zero_kT=float(rates["barrier_drying"][0]),
        k_wet_amplitude=k_wet_amp,
        k_dry_amplitude=k_dry_amp,
        k_dry_zero=k_dry_zero,
        relaxation_rate_critical=relaxation,
        adiabatic_number=adiabatic,
        open_pore_conductance=open_pore_conductance(pore.radius_nm, pore.length_nm, conductivity),
        verdict=min(failed) if failed else 0,
        reasons=reasons,
    )


def design_map(
    radii_nm: Sequence[float],
    contact_angles_deg: Sequence[float],
    length_nm: float,
    temperature: float = 300.0,
    breakdown_voltage: float = 0.5,
    frequency: float = 1.0e3,
    amplitude: float | None = None,
    excess_pressure: float = 0.0,
    n_points: int = 101,
    **pore_settings,
) -> xr.Dataset:
    """Critical voltage, switching rates and verdict over radius and contact angle.

    Parameters
    ----------
    radii_nm : sequence of float
        Pore radii (nm).
    contact_angles_deg : sequence of float
        Contact angles (degrees).
    length_nm : float
        Pore length (nm).
    temperature : float, optional
        Temperature (K).
    breakdown_voltage, frequency, amplitude, excess_pressure
        As in :func:`assess` (V, Hz, V, Pa).
    n_points : int, optional
        Profile grid points on [0, N_wet] per pore.
    **pore_settings
        Further :class:`~nanopore.continuum.ContinuumPore` settings (``alpha``,
        ``dipole_debye``, ...) and the ``diffusion_dry``/``diffusion_wet`` of
        :func:`assess`.

    Returns
    -------
    xarray.Dataset
        On (``radius``, ``contact_angle``): ``critical_voltage`` (V),
        ``k_wet_amplitude``, ``k_dry_amplitude``, ``k_dry_zero`` (1/s),
        ``wetting_free_energy`` (kT at 0 V), ``intrusion_pressure`` (MPa),
        ``verdict`` (code, see :data:`VERDICTS`).
    """
    radii = np.asarray(radii_nm, dtype=float)
    angles = np.asarray(contact_angles_deg, dtype=float)
    rate_settings = {k: pore_settings.pop(k) for k in ("diffusion_dry", "diffusion_wet")
                     if k in pore_settings}
    names = ("critical_voltage", "k_wet_amplitude", "k_dry_amplitude", "k_dry_zero",
             "wetting_free_energy", "intrusion_pressure", "verdict")
    out = {name: np.empty((radii.size, angles.size)) for name in names}
    report = None
    for i, radius in enumerate(radii):
        for j, angle in enumerate(angles):
            pore = ContinuumPore(radius, length_nm, angle, temperature, **pore_settings)
            report = assess(pore, breakdown_voltage, frequency, amplitude, excess_pressure,
                            n_points=n_points, **rate_settings)
            out["critical_voltage"][i, j] = report.critical_voltage
            out["k_wet_amplitude"][i, j] = report.k_wet_amplitude
            out["k_dry_amplitude"][i, j] = report.k_dry_amplitude
            out["k_dry_zero"][i, j] = report.k_dry_zero
            out["wetting_free_energy"][i, j] = report.wetting_free_energy_kT
            out["intrusion_pressure"][i, j] = report.intrusion_pressure / 1e6
            out["verdict"][i, j] = report.verdict
    dims = ("radius", "contact_angle")
    ds = xr.Dataset(
        {name: (dims, values) for name, values in out.items()},
        coords={"radius": ("radius", radii, {"units": "nm", "long_name": "pore radius"}),
                "contact_angle": ("contact_angle", angles,
                                  {"units": "degree", "long_name": "contact angle"})},
    )
    ds["verdict"] = ds["verdict"].astype(np.int8)
    annotate(ds, {
        "critical_voltage": ("V", "smallest |V| at which the filled pore is favoured"),
        "k_wet_amplitude": ("1/s", "wetting rate at the drive amplitude"),
        "k_dry_amplitude": ("1/s", "drying rate at the drive amplitude"),
        "k_dry_zero": ("1/s", "drying rate at 0 V"),
        "wetting_free_energy": ("kT", "Omega_wet - Omega_dry at 0 V"),
        "intrusion_pressure": ("MPa", "Laplace intrusion pressure"),
        "verdict": ("1", "; ".join(f"{k}: {v}" for k, v in VERDICTS.items())),
    })
    settings = {"length_nm": float(length_nm), "temperature": float(temperature),
                "breakdown_voltage": float(breakdown_voltage), "frequency": float(frequency),
                "amplitude": float(report.amplitude) if report is not None else None,
                "excess_pressure_Pa": float(excess_pressure), "n_points": int(n_points),
                **pore_settings, **rate_settings}
    ds.attrs.update(provenance_attrs("nanopore.design.design_map (continuum model)", None, settings))
    for key in ("length_nm", "temperature", "breakdown_voltage", "frequency", "amplitude"):
        if settings[key] is not None:
            ds.attrs[key] = settings[key]
    return ds


def plot_design_map(ds: xr.Dataset, path: str | Path) -> Path:
    """Four panels over radius and contact angle: V_c, k_wet(V0), k_dry(V0), verdict.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`design_map`.
    path : str or Path
        Image file to write (PNG, PDF, SVG).

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    radius = ds["radius"].values
    angle = ds["contact_angle"].values
    frequency = float(ds.attrs["frequency"])
    breakdown = float(ds.attrs["breakdown_voltage"])
    amplitude = float(ds.attrs.get("amplitude", breakdown))
    fig, axes = plt.subplots(2, 2, figsize=(10, 8), constrained_layout=True)
    with np.errstate(divide="ignore"):
        panels = [
            (axes[0, 0], ds["critical_voltage"].values, "critical voltage (V)", "viridis", [breakdown]),
            (axes[0, 1], np.log10(ds["k_wet_amplitude"].values),
             f"log10 k_wet at V0 = {amplitude:.3g} V (1/s)", "magma", [np.log10(frequency)]),
            (axes[1, 0], np.log10(ds["k_dry_amplitude"].values),
             f"log10 k_dry at V0 = {amplitude:.3g} V (1/s)", "magma", [np.log10(frequency)]),
        ]
    for ax, values, title, cmap, levels in panels:
        finite = np.where(np.isfinite(values), values, np.nan)
        mesh = ax.pcolormesh(angle, radius, finite, cmap=cmap, shading="nearest")
        fig.colorbar(mesh, ax=ax)
        if np.nanmin(finite) < levels[0] < np.nanmax(finite):
            ax.contour(angle, radius, finite, levels=levels, colors="w", linewidths=1.2)
        ax.set_title(title, fontsize=10)
    axes[0, 0].text(0.02, 0.02, f"white: breakdown {breakdown:.3g} V", transform=axes[0, 0].transAxes,
                    fontsize=8, color="w")
    axes[0, 1].text(0.02, 0.02, f"white: f = {frequency:.3g} Hz", transform=axes[0, 1].transAxes,
                    fontsize=8, color="w")
    colours = ["#1a9850", "#4575b4", "#d73027", "#fdae61", "#abd9e9", "#984ea3"]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(-0.5, len(VERDICTS) + 0.5), cmap.N)
    verdict = axes[1, 1].pcolormesh(angle, radius, ds["verdict"].values, cmap=cmap, norm=norm,
                                    shading="nearest")
    bar = fig.colorbar(verdict, ax=axes[1, 1], ticks=list(VERDICTS))
    bar.ax.set_yticklabels([VERDICTS[k] for k in VERDICTS], fontsize=7)
    axes[1, 1].set_title(f"verdict at f = {frequency:.3g} Hz", fontsize=10)
    for ax in axes.ravel():
        ax.set_xlabel("contact angle (deg)")
        ax.set_ylabel("radius (nm)")
    fig.suptitle(f"pore length {float(ds.attrs['length_nm']):.3g} nm, "
                 f"T = {float(ds.attrs['temperature']):.4g} K")
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
