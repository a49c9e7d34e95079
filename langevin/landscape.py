"""The one interpolant of a tabulated profile that every kinetic method integrates.

A profile is tabulated at nodes N_0 < N_1 < ... < N_{n-1}: the free energy Omega_i
(kT) and the diffusion coefficient D_i (molecules^2/ps). Between two nodes the
kinetics use

* Omega piecewise **linear**: Omega(N) = Omega_i + (Omega_{i+1} - Omega_i) u,
* D piecewise **log-linear** (geometric): D(N) = D_i (D_{i+1} / D_i)^u,

with u = (N - N_i) / (N_{i+1} - N_i). Both are continuous, pass through every
tabulated value and add no extrema, and inside a cell exp(+-Omega) / D is a single
exponential, so the mean first-passage time integrals have closed forms per cell
(evaluated in log space). The Ito drift is -D Omega' + D' = D(N) (ln D' - Omega'),
constant force per cell; the Fokker-Planck fluxes integrate exp(Omega) / D over
each cell exactly (the Scharfetter-Gummel form generalised to a varying D).

Refining the node set (:func:`refine`) leaves the function unchanged, so methods
that need finer grids (Fokker-Planck, Langevin tables) still integrate the same
landscape.
"""

from __future__ import annotations

import numpy as np

#: Short name of the interpolant, written into outputs and printed by ``nanopore profile check``.
INTERPOLANT = "linear-omega/log-linear-D"

#: One-line description of the interpolant.
INTERPOLANT_DESCRIPTION = (
    "free energy piecewise linear and diffusion coefficient piecewise log-linear between "
    "the tabulated points; exp(Omega)/D integrated exactly per cell"
)

# Gauss-Legendre nodes and weights on [0, 1] for the cells where closed forms cancel
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(6)
_GL_NODES = 0.5 * (_GL_NODES + 1.0)
_GL_WEIGHTS = 0.5 * _GL_WEIGHTS


def check_nodes(grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray) -> None:
    """Refuse tables the interpolant cannot describe.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega (kT).
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D (molecules^2/ps).

    Raises
    ------
    ValueError
        With the problem and the fix.
    """
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError("a profile needs at least two grid points along n")
    if not np.all(np.diff(grid) > 0):
        raise ValueError("the profile grid n must be strictly increasing; sort it and drop repeats")
    if not np.all(np.isfinite(free_energy)):
        raise ValueError("the free energy has NaN or infinite values; drop or fill those grid points")
    d = np.asarray(diffusion, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise ValueError("the diffusion coefficient must be positive and finite at every grid point")


def log_exprel(x: np.ndarray) -> np.ndarray:
    """log((exp(x) - 1) / x), the log of the mean of exp over [0, x], for any real x.

    Parameters
    ----------
    x : ndarray
        Exponent (dimensionless).

    Returns
    -------
    ndarray
        Same shape as ``x``; 0 at x = 0.
    """
    x = np.asarray(x, dtype=float)
    ax = np.abs(x)
    small = ax < 1e-6
    safe = np.where(small, 1.0, ax)
    # for |x| >= 1e-6: log((1 - exp(-|x|)) / |x|) + max(x, 0)
    value = np.log(-np.expm1(-safe) / safe) + np.maximum(x, 0.0)
    return np.where(small, 0.5 * x + x * x / 24.0, value)


def cell_terms(grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray):
    """Per-cell quantities of the interpolant.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega at the nodes (kT).
    diffusion : ndarray, shape (..., n_grid)
        D at the nodes (molecules^2/ps).

    Returns
    -------
    width : ndarray, shape (n_grid - 1,)
        Cell widths h (molecules).
    rise : ndarray, shape (..., n_grid - 1)
        Omega_{i+1} - Omega_i (kT).
    log_d_rise : ndarray, shape (..., n_grid - 1)
        ln D_{i+1} - ln D_i.
    """
    f = np.asarray(free_energy, dtype=float)
    log_d = np.log(np.asarray(diffusion, dtype=float))
    return np.diff(np.asarray(grid, dtype=float)), np.diff(f, axis=-1), np.diff(log_d, axis=-1)


def evaluate(
    grid: np.ndarray, free_energy: np.ndarray, diffusion: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Omega and D of the interpolant at arbitrary points on the grid.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega at the nodes (kT).
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D at the nodes (molecules^2/ps).
    points : ndarray, shape (n_points,)
        Where to evaluate (molecules), within [grid[0], grid[-1]].

    Returns
    -------
    omega : ndarray, shape (..., n_points)
        Free energy (kT).
    diffusion : ndarray, shape (..., n_points)
        D (molecules^2/ps).
    """
    grid = np.asarray(grid, dtype=float)
    points = np.asarray(points, dtype=float)
    if np.any(points < grid[0] - 1e-12 * abs(grid[0] or 1)) or np.any(
            points > grid[-1] + 1e-12 * abs(grid[-1] or 1)):
        raise ValueError(f"points must lie on the grid [{grid[0]:g}, {grid[-1]:g}] molecules")
    f = np.asarray(free_energy, dtype=float)
    log_d = np.log(np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape))
    cell = np.clip(np.searchsorted(grid, points, side="right") - 1, 0, grid.size - 2)
    u = (points - grid[cell]) / (grid[cell + 1] - grid[cell])
    omega = f[..., cell] + u * (f[..., cell + 1] - f[..., cell])
    ln_d = log_d[..., cell] + u * (log_d[..., cell + 1] - log_d[..., cell])
    return omega, np.exp(ln_d)


def subdivisions(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    max_free_energy_step: float = 0.1,
    max_log_diffusion_step: float = 0.05,
    max_points: int = 200_000,
) -> np.ndarray:
    """Sub-cells per cell so that refined cells change Omega and ln D by little.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega (kT); the largest change over the leading axes counts.
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D (molecules^2/ps).
    max_free_energy_step : float, optional
        Largest |Omega change| per refined cell (kT).
    max_log_diffusion_step : float, optional
        Largest |ln D change| per refined cell.
    max_points : int, optional
        Cap on the refined node count (the steps are relaxed to meet it).

    Returns
    -------
    ndarray of int, shape (n_grid - 1,)
        Sub-cells per cell (>= 1).
    """
    f = np.atleast_2d(np.asarray(free_energy, dtype=float))
    d = np.broadcast_to(np.asarray(diffusion, dtype=float), f.shape)
    _, rise, log_d_rise = cell_terms(grid, f, d)
    need = np.maximum(np.max(np.abs(rise), axis=0) / max_free_energy_step,
                      np.max(np.abs(log_d_rise), axis=0) / max_log_diffusion_step)
    counts = np.maximum(1, np.ceil(need)).astype(np.int64)
    total = int(counts.sum())
    if total + 1 > max_points:
        counts = np.maximum(1, np.floor(counts * (max_points - 1) / total)).astype(np.int64)
    return counts


def refine(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    counts: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split every cell into equal sub-cells; the interpolated function is unchanged.

    Parameters
    ----------
    grid : ndarray, shape (n_grid,)
        Nodes (molecules).
    free_energy : ndarray, shape (..., n_grid)
        Omega (kT).
    diffusion : ndarray, shape (..., n_grid) or (n_grid,)
        D (molecules^2/ps).
    counts : int or ndarray of int, shape (n_grid - 1,)
        Sub-cells per cell.

    Returns
    -------
    grid, free_energy, diffusion : ndarray
        The refined table (old nodes kept); ``diffusion`` keeps its leading shape.
    """
    grid = np.asarray(grid, dtype=float)
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (grid.size - 1,))
    cell = np.repeat(np.arange(grid.size - 1), counts)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    u = (np.arange(cell.size) - np.repeat(start, counts)) / np.repeat(counts, counts)
    points = np.concatenate([grid[cell] + u * (grid[cell + 1] - grid[cell]), grid[-1:]])
    f = np.asarray(free_energy, dtype=float)
    d = np.asarray(diffusion, dtype=float)
    omega, _ = evaluate(grid, f, np.ones(grid.size), points)
    _, d_fine = evaluate(grid, np.zeros(d.shape), d, points)
    points[-1] = grid[-1]
    return points, omega, d_fine


def refine_uniform(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The interpolant sampled on a uniform grid at least as fine as ``refine`` would give.

    On a uniform table with equal ``counts`` this is exactly :func:`refine`; on a
    non-uniform table the old nodes fall inside new cells, where the kink of the
    interpolant is smoothed over one (small) new cell.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        Profile table (molecules, kT, molecules^2/ps).
    counts : ndarray of int, shape (n_grid - 1,)
        Sub-cells wanted per cell (:func:`subdivisions`).

    Returns
    -------
    grid, free_energy, diffusion : ndarray
        Uniform table.
    """
    grid = np.asarray(grid, dtype=float)
    spacing = np.diff(grid)
    uniform = np.allclose(spacing, spacing.mean(), rtol=1e-9, atol=0)
    if uniform:
        return refine(grid, free_energy, diffusion, int(np.max(counts)))
    step = float(np.min(spacing / counts))
    size = int(np.ceil((grid[-1] - grid[0]) / step)) + 1
    points = np.linspace(grid[0], grid[-1], size)
    f = np.asarray(free_energy, dtype=float)
    d = np.asarray(diffusion, dtype=float)
    omega, _ = evaluate(grid, f, np.ones(grid.size), points)
    _, d_fine = evaluate(grid, np.zeros(d.shape), d, points)
    return points, omega, d_fine
