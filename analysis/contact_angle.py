"""Contact angle of a cylindrical droplet from its time-averaged density map.

A droplet that is periodic along y (a liquid cylinder lying on a flat wall) has
no contact-line tension, so its cross-section in the x-z plane is a circular
segment whose angle with the wall is the macroscopic contact angle theta. The
fit takes the liquid-vapour iso-density contour at half the liquid density,
drops the points of the first water layers next to the wall (where the density
is layered and the contour is not circular), fits a circle to the rest and
intersects it with the base plane z_base:

    cos(theta) = (z_base - z_c) / R_c,

with (x_c, z_c) the centre and R_c the radius of the circle. theta > 90 degrees
(the centre above the plane) is a hydrophobic wall. A circle that lies entirely
above the base plane is a droplet that does not wet the wall at all (it touches
it only through a thin neck of lower density): theta is then 180 degrees and the
fit says so (``CircleFit.detached``).

Lengths are in nm, densities in molecules per nm^3, angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ContactAngleError(ValueError):
    """A density map from which no contact angle can be measured."""


@dataclass(frozen=True)
class CircleFit:
    """A circle fitted to the liquid-vapour contour of a droplet.

    Attributes
    ----------
    theta : float
        Contact angle (degrees).
    center_x, center_z : float
        Centre of the circle (nm, in the map's coordinates).
    radius : float
        Radius of the circle (nm).
    z_base : float
        Height of the base plane the angle is taken at (nm).
    level : float
        Iso-density level of the contour (molecules/nm^3).
    liquid_density : float
        Liquid density used for the level (molecules/nm^3).
    base_radius : float
        Half-width of the circle's chord on the base plane (nm).
    rms_residual : float
        Root-mean-square distance of the contour points from the circle (nm).
    points : ndarray, shape (n, 2)
        Contour points (x, z) used in the fit (nm).
    detached : bool
        The circle lies above the base plane: theta is 180 degrees (no wetting).
    """

    theta: float
    center_x: float
    center_z: float
    radius: float
    z_base: float
    level: float
    liquid_density: float
    base_radius: float
    rms_residual: float
    points: np.ndarray
    detached: bool = False


def liquid_density(density: np.ndarray, z: np.ndarray, z_min: float) -> float:
    """Density of the droplet's liquid, away from the wall.

    The median of the cells above ``z_min`` whose density exceeds half of the
    first estimate (the 99th percentile), iterated once with the new value: the
    interior of the droplet dominates the median, the interface band does not.

    Parameters
    ----------
    density : ndarray, shape (n_x, n_z)
        Density map (molecules/nm^3).
    z : ndarray, shape (n_z,)
        Heights of the cell centres (nm).
    z_min : float
        Cells below this height (the layered liquid next to the wall) are ignored (nm).

    Returns
    -------
    float
        Liquid density (molecules/nm^3).
    """
    cells = density[:, z >= z_min].ravel()
    if cells.size == 0 or not np.any(cells > 0):
        raise ContactAngleError(f"the density map holds no liquid above z = {z_min:.2f} nm")
    estimate = float(np.percentile(cells, 99))
    for _ in range(2):
        estimate = float(np.median(cells[cells > 0.5 * estimate]))
    return estimate


def contour_points(density: np.ndarray, x: np.ndarray, z: np.ndarray, level: float,
                   z_min: float) -> np.ndarray:
    """Points of the droplet's iso-density contour above a height.

    The contour is traced by marching squares (``contourpy``) with linear
    interpolation between cell centres; the longest line is the droplet's outline
    (small islands of vapour or noise are dropped).

    Parameters
    ----------
    density : ndarray, shape (n_x, n_z)
        Density map (molecules/nm^3).
    x, z : ndarray
        Cell centres along x and z (nm), increasing.
    level : float
        Iso-density level (molecules/nm^3).
    z_min : float
        Points below this height are dropped (nm).

    Returns
    -------
    ndarray, shape (n, 2)
        (x, z) of the contour points (nm).
    """
    import contourpy

    generator = contourpy.contour_generator(x, z, np.asarray(density, dtype=float).T,
                                            line_type=contourpy.LineType.Separate)
    lines = generator.lines(level)
    if not lines:
        raise ContactAngleError(f"no iso-density contour at {level:.2f} molecules/nm^3")
    outline = max(lines, key=lambda line: float(np.sum(np.hypot(*np.diff(line, axis=0).T))))
    return outline[outline[:, 1] >= z_min]


def fit_circle(points: np.ndarray) -> tuple[float, float, float, float]:
    """Least-squares circle through points in a plane.

    The algebraic (Kasa) fit starts a geometric fit that minimises the distances
    of the points from the circle.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
        Points (nm); at least 3, not on one line.

    Returns
    -------
    center_x, center_z, radius, rms_residual : float
        Centre and radius of the circle and the root-mean-square distance of the
        points from it (nm).
    """
    from scipy.optimize import least_squares

    points = np.asarray(points, dtype=float)
    if len(points) < 3:
        raise ContactAngleError(f"{len(points)} contour points are too few to fit a circle")
    px, pz = points[:, 0], points[:, 1]
    matrix = np.column_stack([px, pz, np.ones_like(px)])
    coeffs, *_ = np.linalg.lstsq(matrix, px ** 2 + pz ** 2, rcond=None)
    cx, cz = 0.5 * coeffs[0], 0.5 * coeffs[1]
    r0 = np.sqrt(max(coeffs[2] + cx ** 2 + cz ** 2, 1e-12))

    def residuals(params: np.ndarray) -> np.ndarray:
        return np.hypot(px - params[0], pz - params[1]) - params[2]

    result = least_squares(residuals, x0=[cx, cz, r0], method="lm")
    cx, cz, radius = (float(v) for v in result.x)
    rms = float(np.sqrt(np.mean(result.fun ** 2)))
    if not np.isfinite([cx, cz, radius]).all() or radius <= 0:
        raise ContactAngleError("the circle fit did not converge")
    return cx, cz, abs(radius), rms


def angle_from_circle(center_z: float, radius: float, z_base: float,
                      allow_detached: bool = False) -> float:
    """Contact angle (degrees) where a circle meets the plane z = z_base.

    Parameters
    ----------
    center_z : float
        Height of the circle's centre (nm).
    radius : float
        Radius (nm).
    z_base : float
        Height of the base plane (nm).
    allow_detached : bool
        Return 180 degrees for a circle entirely above the plane instead of raising.

    Returns
    -------
    float
        theta = arccos((z_base - z_c) / R) in degrees: 90 when the centre is on the
        plane, above 90 when it lies above.
    """
    cosine = (z_base - center_z) / radius
    if cosine < -1.0 and allow_detached:
        return 180.0
    if not -1.0 <= cosine <= 1.0:
        where = "above" if cosine < -1.0 else "below"
        raise ContactAngleError(f"the fitted circle lies entirely {where} the base plane "
                                f"z = {z_base:.2f} nm; the droplet does not touch the wall")
    return float(np.degrees(np.arccos(cosine)))


def fit_contact_angle(density: np.ndarray, x: np.ndarray, z: np.ndarray, z_base: float,
                      z_min: float, level: float | None = None) -> CircleFit:
    """Contact angle of a cylindrical droplet from its density map.

    Parameters
    ----------
    density : ndarray, shape (n_x, n_z)
        Density map in the x-z plane, averaged over time and the droplet's axis
        (molecules/nm^3).
    x, z : ndarray
        Cell centres (nm), increasing.
    z_base : float
        Base plane where the angle is taken (nm).
    z_min : float
        Contour points below this height (the first water layers) are not fitted (nm).
    level : float, optional
        Iso-density level (molecules/nm^3); default half the liquid density measured
        by :func:`liquid_density`.

    Returns
    -------
    CircleFit
    """
    density = np.asarray(density, dtype=float)
    if density.shape != (len(x), len(z)):
        raise ContactAngleError(f"density map of shape {density.shape} does not match the "
                                f"{len(x)} x and {len(z)} z cells")
    if not np.isfinite(density).all():
        raise ContactAngleError("the density map holds NaN or infinite values")
    rho_liquid = liquid_density(density, z, z_min)
    level = 0.5 * rho_liquid if level is None else float(level)
    points = contour_points(density, x, z, level, z_min)
    if len(points) < 8:
        raise ContactAngleError(f"only {len(points)} contour points lie above z = {z_min:.2f} nm; "
                                "the droplet is too flat for this exclusion height (use more "
                                "waters or exclude less)")
    if _spans_box(density, x, z, level, z_min):
        raise ContactAngleError("the liquid spans the box along x (a film, not a droplet): the "
                                "wall is wetting at this size, or the box is too narrow; use a "
                                "wider box or fewer waters")
    cx, cz, radius, rms = fit_circle(points)
    theta = angle_from_circle(cz, radius, z_base, allow_detached=True)
    base_radius = float(np.sqrt(max(radius ** 2 - (z_base - cz) ** 2, 0.0)))
    return CircleFit(theta=theta, center_x=cx, center_z=cz, radius=radius, z_base=float(z_base),
                     level=level, liquid_density=rho_liquid, base_radius=base_radius,
                     rms_residual=rms, points=points, detached=cz - radius > z_base)


def _spans_box(density: np.ndarray, x: np.ndarray, z: np.ndarray, level: float,
               z_min: float) -> bool:
    """Whether liquid reaches both x edges of the map just above the exclusion height."""
    rows = np.flatnonzero(z >= z_min)[:2]
    if rows.size == 0:
        return False
    edge = density[[0, -1]][:, rows]
    return bool(np.all(edge.max(axis=1) > level))


def block_error(values: np.ndarray) -> float:
    """Standard error of the mean of block estimates.

    Parameters
    ----------
    values : ndarray
        One estimate per block (at least two).

    Returns
    -------
    float
        std(values, ddof=1) / sqrt(n_blocks), in the units of ``values``.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        raise ContactAngleError("a block error needs at least two blocks")
    return float(values.std(ddof=1) / np.sqrt(values.size))


def block_trend(values: np.ndarray) -> tuple[float, float]:
    """Drift of block estimates over a run: a straight line through them.

    Parameters
    ----------
    values : ndarray
        One estimate per block, in time order (at least three).

    Returns
    -------
    change : float
        Change of the fitted line from the first block to the last, in the units of
        ``values``.
    p_value : float
        Two-sided p-value of the slope (t-test with n_blocks - 2 degrees of
        freedom); small when the run was still relaxing.
    """
    from scipy.stats import linregress

    values = np.asarray(values, dtype=float)
    if values.size < 3:
        raise ContactAngleError("a trend over blocks needs at least three blocks")
    if np.ptp(values) == 0.0:
        return 0.0, 1.0
    fit = linregress(np.arange(values.size), values)
    return float(fit.slope * (values.size - 1)), float(fit.pvalue)


def synthetic_droplet(theta: float, radius: float, x: np.ndarray, z: np.ndarray,
                      z_base: float, liquid: float = 33.0, width: float = 0.08,
                      layering: float = 0.0, foot: float = 0.0) -> np.ndarray:
    """Density map of a cylindrical droplet with a known contact angle.

    The liquid fills the circular segment of radius ``radius`` that meets the plane
    z = ``z_base`` at ``theta``, with a tanh interface (its half-density contour is
    exactly the circle) and, optionally, damped layering next to the wall and a
    dense first layer spreading beyond the contact line, both of which the fit
    must exclude.

    Parameters
    ----------
    theta : float
        Contact angle (degrees).
    radius : float
        Radius of the circle (nm).
    x, z : ndarray
        Cell centres (nm).
    z_base : float
        Base plane (nm).
    liquid : float
        Liquid density (molecules/nm^3).
    width : float
        Interface width (nm).
    layering : float
        Relative amplitude of the layering next to the wall.
    foot : float
        Reach of a first layer (0.25 nm thick, 1.5 times the liquid density) beyond
        the contact line (nm); 0 for none.

    Returns
    -------
    ndarray, shape (len(x), len(z))
        Density (molecules/nm^3); zero below the base plane.
    """
    center_x = 0.5 * (x[0] + x[-1])
    center_z = z_base - radius * np.cos(np.radians(theta))
    xx, zz = np.meshgrid(x, z, indexing="ij")
    distance = np.hypot(xx - center_x, zz - center_z)
    rho = 0.5 * liquid * (1.0 - np.tanh((distance - radius) / width))
    height = zz - z_base
    if layering:
        rho = rho * (1.0 + layering * np.exp(-height / 0.15) * np.cos(2 * np.pi * height / 0.3))
    if foot:
        contact = radius * np.sin(np.radians(theta))
        band = (height < 0.25) & (np.abs(xx - center_x) < contact + foot)
        rho = np.where(band, np.maximum(rho, 1.5 * liquid), rho)
    return np.where(height >= 0.0, rho, 0.0)
