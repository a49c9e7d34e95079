"""Where a static free-energy profile describes a driven pore.

A profile Omega(N; V) is an equilibrium object: using it under a drive V(t)
assumes that everything except N (water's orientation and hydrogen bonds, the
ions, the pore's own water network) follows the drive instantly, and that N
itself moves diffusively with the D(N) measured from its autocorrelation. Two
times bound this:

* the dielectric (Debye) relaxation time of water, tau_D: about 8.3 ps at
  25 C, taken here as Arrhenius in T with 19 kJ/mol (about 17 ps at 0 C and
  4 ps at 60 C, the measured trend);
* the pore's own relaxation within a basin, tau_pore = var(N) / D at the
  basin's minimum (Hummer's relation between the variance, D and the
  integrated correlation time of N): below it N does not yet diffuse on the
  profile.

A drive faster than about 1 / (2 pi max(tau_D, tau_pore)) is beyond the static
model: loops there are flagged and shaded, not trusted.
"""

from __future__ import annotations

import math

import numpy as np

from langevin.basins import Basins

#: Debye relaxation time of liquid water at 298.15 K (ps).
WATER_DEBYE_TIME_PS = 8.3
#: Activation energy of water's Debye relaxation (J/mol).
WATER_DEBYE_ACTIVATION = 19_000.0
_GAS_CONSTANT = 8.314462618


def water_debye_time(temperature: float) -> float:
    """Dielectric relaxation time of water (ps) at ``temperature`` (K)."""
    return WATER_DEBYE_TIME_PS * math.exp(
        WATER_DEBYE_ACTIVATION / _GAS_CONSTANT * (1.0 / temperature - 1.0 / 298.15))


def basin_relaxation_time(
    grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray, basins: Basins
) -> float:
    """Longest intra-basin relaxation time var(N) / D(minimum) of the two basins (ps).

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile: grid (molecules), free energy (kT), D (molecules^2/ps).
    basins : Basins
        Dry and wet minima and the barrier between them.

    Returns
    -------
    float
        tau_pore (ps).
    """
    grid = np.asarray(grid, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    d = np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape)
    times = []
    for minimum, part in ((basins.dry, slice(0, basins.barrier + 1)),
                          (basins.wet, slice(basins.barrier, grid.size))):
        x = grid[part]
        weight = np.exp(-(f[part] - f[part].min()))
        weight = weight / weight.sum()
        mean = float(weight @ x)
        variance = float(weight @ (x - mean) ** 2)
        times.append(variance / float(d[minimum]))
    return max(times)


def static_limit_frequency(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    basins: Basins,
    temperature: float,
) -> tuple[float, str]:
    """Highest drive frequency at which the static profile holds (Hz), and what sets it.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile at a representative drive (molecules, kT, molecules^2/ps).
    basins : Basins
        Its basins.
    temperature : float
        Temperature (K).

    Returns
    -------
    frequency : float
        1 / (2 pi max(tau_D, tau_pore)) (Hz).
    source : str
        Which relaxation sets it, with its time.
    """
    water = water_debye_time(temperature)
    pore = basin_relaxation_time(grid, free_energy, diffusion, basins)
    if pore > water:
        tau, source = pore, f"pore relaxation var(N)/D = {pore:.3g} ps"
    else:
        tau, source = water, f"dielectric relaxation of water tau_D = {water:.3g} ps"
    return 1.0 / (2.0 * math.pi * tau * 1e-12), source
