"""Electrodrying: a pore with an intrinsic dipole, whose wetting depends on the sign of V.

With a dipole the voltage model has a linear term,
Omega(N; V) = Omega(N; 0) + a(N) V + b(N) V^2, and for abs(V) below abs(a / b) the
linear term dominates: one polarity wets the pore, the other dries it, so the
wet and dry states swap with the sign of V (at larger abs(V) the capacitive
b V^2 <= 0 wets the pore at either sign).

In a driven loop the conductance G(V) traced while V rises and while it falls
forms two branches. For a mirror-symmetric pore G depends on V^2 only, the
branches are mirror images, G_rising(V) = G_falling(-V), and they cross at
V = 0. A dipole breaks that symmetry and moves the crossing to V_c != 0:
:func:`crossing_voltages` finds it from a loop dataset, and
:func:`dipolar_pore_profile` makes a model profile with the dipole term for
tutorials and tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from nanopore.provenance import annotate


def dipolar_pore_profile(voltages: Sequence[float] = (-0.6, -0.3, 0.0, 0.3, 0.6),
                         dipole: float = 30.0, wet_excess: float = -2.0,
                         **model: float) -> xr.Dataset:
    """Model filling profile with an intrinsic dipole: Omega0 + a(N) V + b(N) V^2.

    The symmetric part is :func:`nanopore.synthetic.model_pore_profile`; the
    dipole adds a(N) = -``dipole`` * N / N_wet (kT/V), linear in the filling
    (the ordered water column's dipole along the pore's field grows with N).
    The profile carries ``symmetric_pore = 0``.

    Parameters
    ----------
    voltages : sequence of float
        Voltages of the profile rows (V).
    dipole : float
        -a at the full pore (kT/V); positive: V > 0 favours the wet pore.
    wet_excess : float
        Omega(wet) - Omega(dry) at 0 V (kT); negative: wet at rest.
    **model
        Other parameters of :func:`nanopore.synthetic.model_pore_profile`
        (``wet_count``, ``barrier_height``, ``electrowetting``, ...).

    Returns
    -------
    xarray.Dataset
        A profile dataset with a ``voltage`` dimension.
    """
    from nanopore.synthetic import model_pore_profile

    volts = tuple(float(v) for v in voltages)
    profile = model_pore_profile(voltages=volts, wet_excess=wet_excess, **model)
    wet_count = float(model.get("wet_count", 40.0))
    n = profile["n"].values
    linear = -dipole * n / wet_count
    profile["free_energy"] = profile["free_energy"] + xr.DataArray(
        np.outer(volts, linear), dims=profile["free_energy"].dims)
    profile["free_energy"] = profile["free_energy"] - profile["free_energy"].min(dim="n")
    profile["free_energy"].attrs.update(units="kT", long_name="free energy of pore filling")
    profile.attrs["symmetric_pore"] = 0
    profile.attrs["dipole_kT_per_V"] = float(dipole)
    return profile


def crossing_voltages(voltage: np.ndarray, conductance: np.ndarray,
                      tolerance: float = 1e-3) -> np.ndarray:
    """Voltages where the rising-V and falling-V branches of a G(V) loop cross.

    Parameters
    ----------
    voltage, conductance : ndarray
        One period of a drive that sweeps V up and down once (a sine or triangle).
    tolerance : float
        Differences between the branches below ``tolerance`` times the largest
        abs(G) count as equal (branches that coincide do not cross).

    Returns
    -------
    ndarray
        Crossing voltages (V), ordered by abs(V); empty when the branches do not cross.
    """
    v = np.asarray(voltage, dtype=float)
    g = np.asarray(conductance, dtype=float)
    slope = np.gradient(v)
    rising, falling = slope > 0, slope < 0
    if rising.sum() < 2 or falling.sum() < 2:
        return np.array([])
    lo = max(v[rising].min(), v[falling].min())
    hi = min(v[rising].max(), v[falling].max())
    grid = np.linspace(lo, hi, 2001)[1:-1]
    branch = []
    for mask in (rising, falling):
        order = np.argsort(v[mask])
        branch.append(np.interp(grid, v[mask][order], g[mask][order]))
    difference = branch[0] - branch[1]
    scale = float(np.max(np.abs(g))) or 1.0
    significant = np.flatnonzero(np.abs(difference) > tolerance * scale)
    found = []
    for a, b in zip(significant[:-1], significant[1:]):
        if np.sign(difference[a]) != np.sign(difference[b]):
            # the zero between the last significant points of each sign, interpolated
            w = difference[a] / (difference[a] - difference[b])
            found.append(float(grid[a] + w * (grid[b] - grid[a])))
    return np.array(sorted(found, key=abs))


def add_crossing_voltages(loops: xr.Dataset) -> xr.Dataset:
    """Add ``crossing_voltage`` (V, per frequency) to a loop dataset of :mod:`langevin.hysteresis`.

    The crossing nearest V = 0 of the G(V) branches (NaN where they do not cross);
    ``crossing_count`` gives how many crossings there are.

    Parameters
    ----------
    loops : xarray.Dataset
        With ``voltage`` and ``conductance`` along (``frequency``, ``phase``).

    Returns
    -------
    xarray.Dataset
        The same dataset, with the two variables added.
    """
    nearest, count = [], []
    for k in range(loops.sizes["frequency"]):
        found = crossing_voltages(loops["voltage"].values[k], loops["conductance"].values[k])
        nearest.append(found[0] if found.size else np.nan)
        count.append(found.size)
    loops["crossing_voltage"] = ("frequency", np.array(nearest))
    loops["crossing_count"] = ("frequency", np.array(count, dtype=int))
    annotate(loops, {"crossing_voltage": ("V", "voltage where the rising-V and falling-V "
                                               "conductance branches cross (0 for a symmetric pore)"),
                     "crossing_count": ("1", "number of crossings of the two branches")})
    return loops
