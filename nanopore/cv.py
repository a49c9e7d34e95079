"""The collective variable: the number of water molecules in the pore.

One definition, evaluated two ways. During a simulation OpenMM evaluates the
expression from :meth:`PoreCV.openmm_expression`; afterwards
:meth:`PoreCV.count` evaluates the same function in NumPy on any frames. Both use
the same switching function, so the two agree to round-off.

Definition
----------
For every water oxygen at (x, y, z),

    chi = s(R - r) * s(h + dz) * s(h - dz),    s(u) = 1 / (1 + exp(-u / lambda)),

with r the minimum-image distance from the pore axis in the xy plane, dz the
minimum-image distance along z from the pore centre, h half the CV region's
length, R its radius and lambda the smoothing width. N is the sum of chi over
oxygens. The switching function is written as s(u) = (1 + tanh(u / (2 lambda))) / 2,
the same function, because it never overflows (the logistic form's derivative
gives inf/inf far from the boundary).

The box is orthorhombic. Lengths are in nm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


class CVError(ValueError):
    """A collective-variable definition that cannot be used."""


@dataclass(frozen=True)
class PoreCV:
    """Smooth count of water molecules in a cylindrical region along z.

    Attributes
    ----------
    radius : float
        Radius R of the counting cylinder (nm).
    z_lo, z_hi : float
        Lower and upper ends of the counting region along the pore axis (nm).
    smoothing : float
        Width lambda of the switching function (nm). 0.01-0.03 nm is typical: a
        sharper switch makes only a thin boundary layer feel a restraint.
    center_x, center_y : float
        Position of the pore axis in the xy plane (nm).
    """

    radius: float
    z_lo: float
    z_hi: float
    smoothing: float = 0.02
    center_x: float = 0.0
    center_y: float = 0.0

    def __post_init__(self) -> None:
        for name in ("radius", "z_lo", "z_hi", "smoothing", "center_x", "center_y"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise CVError(f"CV {name} = {value} is not a finite number (nm)")
        if self.radius <= 0:
            raise CVError(f"CV radius must be positive, got {self.radius} nm")
        if self.z_hi <= self.z_lo:
            raise CVError(
                f"CV region is empty: z_hi = {self.z_hi} nm is not above z_lo = {self.z_lo} nm"
            )
        if self.smoothing <= 0:
            raise CVError(f"CV smoothing width must be positive, got {self.smoothing} nm")

    @property
    def center_z(self) -> float:
        """Centre of the counting region along z (nm)."""
        return 0.5 * (self.z_lo + self.z_hi)

    @property
    def half_length(self) -> float:
        """Half the length of the counting region (nm)."""
        return 0.5 * (self.z_hi - self.z_lo)

    def to_dict(self) -> dict[str, float]:
        """Plain mapping of the definition (nm), for metadata and setup files."""
        return {key: float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PoreCV:
        """Rebuild a definition written by :meth:`to_dict`.

        Parameters
        ----------
        values : mapping
            Keys ``radius``, ``z_lo``, ``z_hi`` and optionally ``smoothing``,
            ``center_x``, ``center_y`` (nm).

        Returns
        -------
        PoreCV
        """
        known = {"radius", "z_lo", "z_hi", "smoothing", "center_x", "center_y"}
        unknown = set(values) - known
        if unknown:
            raise CVError(f"unknown CV keys {sorted(unknown)}; allowed: {sorted(known)}")
        missing = {"radius", "z_lo", "z_hi"} - set(values)
        if missing:
            raise CVError(f"CV definition lacks {sorted(missing)} (nm)")
        return cls(**{key: float(value) for key, value in values.items()})

    # ------------------------------------------------------------------ NumPy
    def indicator(self, positions: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Per-molecule weight chi in [0, 1].

        Parameters
        ----------
        positions : ndarray, shape (..., n_atoms, 3)
            Oxygen positions (nm); any leading frame dimensions.
        box : ndarray, shape (..., 3)
            Orthorhombic box edge lengths (nm), one row per frame or one for all.

        Returns
        -------
        ndarray, shape (..., n_atoms)
            chi of each molecule.
        """
        positions = np.asarray(positions, dtype=float)
        box = np.asarray(box, dtype=float)
        if positions.shape[-1] != 3:
            raise CVError(f"positions must end in a dimension of 3, got shape {positions.shape}")
        if box.shape[-1] != 3 or np.any(box <= 0):
            raise CVError(f"box must hold three positive edge lengths (nm), got {box}")
        lengths = box[..., None, :]
        dx = _minimum_image(positions[..., 0] - self.center_x, lengths[..., 0])
        dy = _minimum_image(positions[..., 1] - self.center_y, lengths[..., 1])
        dz = np.abs(_minimum_image(positions[..., 2] - self.center_z, lengths[..., 2]))
        radial = np.sqrt(dx * dx + dy * dy)
        h = self.half_length
        return (
            switch(self.radius - radial, self.smoothing)
            * switch(h + dz, self.smoothing)
            * switch(h - dz, self.smoothing)
        )

    def count(self, positions: np.ndarray, box: np.ndarray) -> np.ndarray | float:
        """Number of water molecules in the pore, N.

        Parameters
        ----------
        positions : ndarray, shape (..., n_oxygens, 3)
            Water oxygen positions (nm).
        box : ndarray, shape (..., 3)
            Orthorhombic box edge lengths (nm).

        Returns
        -------
        float or ndarray, shape (...)
            N (molecules) per frame.
        """
        total = self.indicator(positions, box).sum(axis=-1)
        return float(total) if np.ndim(total) == 0 else total

    # ----------------------------------------------------------------- OpenMM
    def openmm_expression(self) -> str:
        """Energy expression of a ``CustomExternalForce`` evaluating chi.

        The force has no per-particle parameters; its particles are the water
        oxygens, and its energy summed over them is N. Lengths are in nm, as in
        OpenMM. ``periodicdistance`` applies the minimum image.

        Returns
        -------
        str
        """
        lam = repr(float(self.smoothing))
        return (
            f"sw_r * sw_lo * sw_hi;"
            f" sw_r = 0.5 * (1 + tanh(({self.radius!r} - radial) / (2 * {lam})));"
            f" sw_lo = 0.5 * (1 + tanh(({self.half_length!r} + axial) / (2 * {lam})));"
            f" sw_hi = 0.5 * (1 + tanh(({self.half_length!r} - axial) / (2 * {lam})));"
            f" radial = periodicdistance(x, y, 0, {self.center_x!r}, {self.center_y!r}, 0);"
            f" axial = periodicdistance(0, 0, z, 0, 0, {self.center_z!r})"
        )


def switch(u: np.ndarray | float, width: float) -> np.ndarray:
    """Logistic switching function s(u) = 1 / (1 + exp(-u / width)).

    Evaluated as (1 + tanh(u / (2 width))) / 2, which is the same function and
    never overflows.

    Parameters
    ----------
    u : array_like
        Signed distance from the boundary (nm), positive inside.
    width : float
        Smoothing width (nm).

    Returns
    -------
    ndarray
        Values in [0, 1].
    """
    return 0.5 * (1.0 + np.tanh(np.asarray(u, dtype=float) / (2.0 * width)))


def _minimum_image(delta: np.ndarray, length: np.ndarray) -> np.ndarray:
    return delta - length * np.round(delta / length)
