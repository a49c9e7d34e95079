"""Intrusion/extrusion cycles of a pore under a triangular pressure ramp.

Omega(N; P) = Omega(N; P0) - (P - P0) v_l N; the pressure goes from ``low`` to
``high`` and back at a constant ramp rate. The intrusion pressure is where P_wet
rises through 1/2 on the way up, the extrusion pressure where it falls through 1/2
on the way down. Temperature enters through beta (see
:mod:`nanopore.thermodynamics`). The wet/dry threshold (the barrier top at
coexistence) is found once, on the profile at its own temperature, and used at
every cycle temperature: the profile's shape in energy units does not change with
T, so neither does the dividing surface. Each cycle is the periodic steady state
of the repeated ramp (:func:`langevin.driven.periodic_response`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from langevin.driven import (
    DrivenLandscape,
    periodic_response,
    refined_landscape,
    warn_unconverged,
)
from langevin.landscape import INTERPOLANT
from langevin.loops import crossing
from nanopore.provenance import annotate, provenance_attrs
from nanopore.thermodynamics import free_energy_at_temperature, pressure_basis
from nanopore.units import MEGAPASCAL, WATER_MOLECULAR_VOLUME_NM3


def pressure_landscape(
    n: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    profile_temperature: float,
    temperature: float,
    reference_pressure: float = 0.0,
    molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3,
    **basins,
) -> DrivenLandscape:
    """Driven landscape of a profile under pressure (drive in MPa).

    Parameters
    ----------
    n, free_energy, diffusion : ndarray
        Profile at ``reference_pressure``: grid (molecules), free energy (kT at
        ``profile_temperature``), D (molecules^2/ps).
    profile_temperature, temperature : float
        Temperature of the profile and of the cycle (K).
    reference_pressure : float, optional
        Pressure of the profile, P0 (MPa).
    molecular_volume_nm3 : float, optional
        Volume per liquid molecule (nm^3).
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    DrivenLandscape
    """
    grid = np.asarray(n, dtype=float)
    d = np.asarray(diffusion, dtype=float)
    f = free_energy_at_temperature(np.asarray(free_energy, dtype=float), profile_temperature,
                                   temperature)
    slope = pressure_basis(grid, temperature, molecular_volume_nm3) * MEGAPASCAL
    p0 = float(reference_pressure)
    return DrivenLandscape(
        grid=grid,
        basis=np.vstack([f, slope]),
        coefficients=lambda p: np.column_stack([np.ones_like(p), p - p0]),
        diffusion=d,
        drive_name="pressure",
        drive_units="MPa",
        basins_override={k: v for k, v in basins.items() if v is not None},
    )


def intrusion_cycles(
    n: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    profile_temperature: float,
    low: float,
    high: float,
    ramp_rates: Sequence[float],
    temperatures: Sequence[float] | None = None,
    method: str = "master",
    steps_per_cycle: int = 800,
    reference_pressure: float = 0.0,
    molecular_volume_nm3: float = WATER_MOLECULAR_VOLUME_NM3,
    progress: bool = False,
    inputs: list[str] | None = None,
    **basins,
) -> xr.Dataset:
    """Intrusion/extrusion cycles over ramp rates and temperatures.

    Parameters
    ----------
    n, free_energy, diffusion : ndarray
        Profile (molecules, kT, molecules^2/ps) at ``reference_pressure``.
    profile_temperature : float
        Temperature of the profile (K).
    low, high : float
        Pressure range of the ramp (MPa).
    ramp_rates : sequence of float
        |dP/dt| (MPa/s).
    temperatures : sequence of float, optional
        Cycle temperatures (K); default the profile's.
    method : {"master", "fokker-planck"}
        Kinetic model.
    steps_per_cycle : int, optional
        Samples per up-and-down cycle.
    reference_pressure : float, optional
        P0 of the profile (MPa).
    molecular_volume_nm3 : float, optional
        Volume per liquid molecule (nm^3).
    progress : bool, optional
        Progress bar.
    inputs : list of str, optional
        Provenance.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        Dims (``temperature``, ``ramp_rate``, ``phase``): ``time`` (s), ``pressure``
        (MPa), ``p_wet``, ``intruded_volume`` (nm^3, mean N v_l; master equation:
        P_wet times the wet-minus-dry N at coexistence); along (``temperature``,
        ``ramp_rate``): ``intrusion_pressure``, ``extrusion_pressure`` (MPa).
    """
    if method not in ("master", "fokker-planck"):
        raise ValueError("pressure cycles use the master or the fokker-planck model")
    if not high > low:
        raise ValueError("the upper pressure must exceed the lower one (MPa)")
    rates = np.atleast_1d(np.asarray(ramp_rates, dtype=float))
    if np.any(rates <= 0):
        raise ValueError("ramp rates must be positive (MPa/s)")
    temps = np.atleast_1d(np.asarray(
        temperatures if temperatures is not None else [profile_temperature], dtype=float))
    half = steps_per_cycle // 2
    steps_per_cycle = 2 * half
    shape = (temps.size, rates.size, steps_per_cycle + 1)
    out = {name: np.empty(shape) for name in ("time", "pressure", "p_wet", "intruded_volume")}
    p_int = np.empty(shape[:2])
    p_ext = np.empty(shape[:2])
    base = pressure_landscape(n, free_energy, diffusion, profile_temperature, profile_temperature,
                              reference_pressure, molecular_volume_nm3, **basins)
    n_dry, threshold, n_wet = base.reference_basins((low, high)).positions(base.grid)
    jobs = [(i, j) for i in range(temps.size) for j in range(rates.size)]
    landscapes = {}
    responses = []
    periodic_error = np.empty(shape[:2])
    for i, j in tqdm(jobs, disable=not progress, desc=f"pressure cycles ({method})"):
        if i not in landscapes:
            landscapes[i] = refined_landscape(pressure_landscape(
                n, free_energy, diffusion, profile_temperature, temps[i],
                reference_pressure, molecular_volume_nm3, **basins,
            ), (low, high))
        landscape = landscapes[i].with_threshold(threshold)
        ramp_time = (high - low) / rates[j]
        response = periodic_response(
            landscape, lambda phase: low + (high - low) * (1.0 - np.abs(1.0 - 2.0 * phase)),
            1.0 / (2.0 * ramp_time), method, steps_per_cycle, threshold,
        )
        responses.append(response)
        if method == "master":
            volume = response.p_wet * (n_wet - n_dry) * molecular_volume_nm3
        else:
            volume = response.mean_n * molecular_volume_nm3
        out["time"][i, j] = response.time
        out["pressure"][i, j] = response.drive
        out["p_wet"][i, j] = response.p_wet
        out["intruded_volume"][i, j] = volume
        periodic_error[i, j] = response.periodic_error
        p_int[i, j], _ = crossing(response.drive[: half + 1], response.p_wet[: half + 1], 0.5, True)
        p_ext[i, j], _ = crossing(response.drive[half:], response.p_wet[half:], 0.5, False)
    warn_unconverged("pressure cycle(s)", responses, 1e-3)
    dims = ("temperature", "ramp_rate", "phase")
    ds = xr.Dataset(
        {name: (dims, values) for name, values in out.items()}
        | {"intrusion_pressure": (dims[:2], p_int), "extrusion_pressure": (dims[:2], p_ext),
           "periodic_error": (dims[:2], periodic_error)},
        coords={"temperature": temps, "ramp_rate": rates,
                "phase": np.linspace(0.0, 1.0, steps_per_cycle + 1)},
    )
    annotations = {
        "temperature": ("K", "temperature of the cycle"),
        "ramp_rate": ("MPa/s", "pressure ramp rate"),
        "phase": ("1", "fraction of the cycle"),
        "time": ("s", "time"),
        "pressure": ("MPa", "pressure"),
        "p_wet": ("1", "probability that the pore is wet"),
        "intruded_volume": ("nm^3", "volume of intruded liquid"),
        "intrusion_pressure": ("MPa", "pressure where P_wet rises through 1/2"),
        "extrusion_pressure": ("MPa", "pressure where P_wet falls through 1/2"),
        "periodic_error": ("1", "max |change of P_wet| between the last two cycles"),
    }
    annotate(ds, annotations)
    ds.attrs.update(provenance_attrs(
        f"langevin.intrusion (model={method})", inputs,
        {"low_MPa": low, "high_MPa": high, "reference_pressure_MPa": reference_pressure,
         "molecular_volume_nm3": molecular_volume_nm3, "steps_per_cycle": steps_per_cycle,
         "wet_threshold_molecules": threshold},
    ))
    ds.attrs["interpolant"] = INTERPOLANT
    return ds
