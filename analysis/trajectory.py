"""Pore water from any trajectory MDAnalysis reads: N(t), density, occupancy, radius.

:class:`PoreWater` is an MDAnalysis analysis class. Per frame it evaluates the
toolkit's collective variable (:class:`nanopore.cv.PoreCV`, the same function the
MD stage restrains) on the water oxygens, and bins the oxygens within
``search_radius`` of the pore axis into slices along z. MDAnalysis works in
Angstrom and ps; positions and box edges are converted to nm before the CV sees
them.

Results (``run()`` returns the object; everything is in ``results``):

* ``time`` (ps) and ``n`` (molecules) per frame;
* ``z`` (nm): slice centres, relative to the pore centre;
* ``density`` (molecules/nm^3): mean number of oxygens per slice volume
  pi search_radius^2 dz;
* ``occupancy``: fraction of frames in which a slice holds at least one oxygen;
* ``accessible_radius`` (nm): the radius of the water-accessible region, the
  largest radial distance of an oxygen in the slice averaged over the frames in
  which the slice is occupied (NaN where it never is).

The box must be orthorhombic, as for the CV.
"""

from __future__ import annotations

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase, ResultsGroup

from nanopore.cv import PoreCV, _minimum_image

ANGSTROM_TO_NM = 0.1


class PoreWater(AnalysisBase):
    """Water count, density, occupancy and accessible radius of a pore.

    Parameters
    ----------
    oxygens : MDAnalysis.AtomGroup
        The water oxygens (e.g. ``u.select_atoms("name OW")``).
    cv : PoreCV
        The collective-variable definition (nm).
    n_slices : int, optional
        Slices along z over the CV region plus ``margin`` on each side.
    margin : float, optional
        How far beyond the CV region the slices reach (nm).
    search_radius : float, optional
        Radius around the axis within which oxygens are binned (nm); default:
        the CV radius plus 0.2 nm.
    **kwargs
        Passed to :class:`MDAnalysis.analysis.base.AnalysisBase` (``verbose``).
    """

    _analysis_algorithm_is_parallelizable = True

    @classmethod
    def get_supported_backends(cls) -> tuple[str, ...]:
        """Backends of ``run(backend=...)``: frames are independent."""
        return ("serial", "multiprocessing", "dask")

    def __init__(self, oxygens, cv: PoreCV, n_slices: int = 20, margin: float = 0.5,
                 search_radius: float | None = None, **kwargs):
        super().__init__(oxygens.universe.trajectory, **kwargs)
        if len(oxygens) == 0:
            raise ValueError("the oxygen selection is empty; check the selection string "
                             "(e.g. 'name OW' or 'name O and resname SOL HOH WAT')")
        if n_slices < 1:
            raise ValueError("n_slices must be at least 1")
        self.oxygens = oxygens
        self.cv = cv
        self.n_slices = int(n_slices)
        self.margin = float(margin)
        self.search_radius = float(cv.radius + 0.2 if search_radius is None else search_radius)
        half = cv.half_length + self.margin
        self._edges = np.linspace(-half, half, self.n_slices + 1)

    def _prepare(self) -> None:
        frames = self.n_frames
        self.results.time = np.zeros(frames)
        self.results.n = np.zeros(frames)
        self.results.slice_count = np.zeros((frames, self.n_slices))
        self.results.slice_radius = np.full((frames, self.n_slices), np.nan)

    def _box_nm(self) -> np.ndarray:
        dimensions = self._ts.dimensions
        if dimensions is None:
            raise ValueError("the trajectory has no box; the CV needs an orthorhombic periodic "
                             "box (set u.dimensions or use a format that stores the box)")
        if not np.allclose(dimensions[3:], 90.0, atol=1e-3):
            raise ValueError(f"box angles {dimensions[3:]} are not 90 degrees; the CV needs an "
                             "orthorhombic box")
        return np.asarray(dimensions[:3], dtype=float) * ANGSTROM_TO_NM

    def _single_frame(self) -> None:
        frame = self._frame_index
        box = self._box_nm()
        positions = self.oxygens.positions.astype(float) * ANGSTROM_TO_NM
        self.results.time[frame] = self._ts.time
        self.results.n[frame] = self.cv.count(positions, box)
        dx = _minimum_image(positions[:, 0] - self.cv.center_x, box[0])
        dy = _minimum_image(positions[:, 1] - self.cv.center_y, box[1])
        dz = _minimum_image(positions[:, 2] - self.cv.center_z, box[2])
        radial = np.sqrt(dx * dx + dy * dy)
        near = (radial < self.search_radius) & (dz >= self._edges[0]) & (dz < self._edges[-1])
        index = np.searchsorted(self._edges, dz[near], side="right") - 1
        self.results.slice_count[frame] = np.bincount(index, minlength=self.n_slices)
        radius = np.full(self.n_slices, -np.inf)
        np.maximum.at(radius, index, radial[near])
        radius[~np.isfinite(radius)] = np.nan
        self.results.slice_radius[frame] = radius

    def _get_aggregator(self) -> ResultsGroup:
        return ResultsGroup(lookup={
            "time": ResultsGroup.ndarray_hstack,
            "n": ResultsGroup.ndarray_hstack,
            "slice_count": ResultsGroup.ndarray_vstack,
            "slice_radius": ResultsGroup.ndarray_vstack,
        })

    def _conclude(self) -> None:
        counts = self.results.slice_count
        width = np.diff(self._edges)
        volume = np.pi * self.search_radius**2 * width
        self.results.z = 0.5 * (self._edges[1:] + self._edges[:-1])
        self.results.density = counts.mean(axis=0) / volume if counts.size else np.zeros(self.n_slices)
        occupied = counts > 0
        self.results.occupancy = occupied.mean(axis=0) if counts.size else np.zeros(self.n_slices)
        with np.errstate(invalid="ignore"):
            radius = np.where(occupied, self.results.slice_radius, np.nan)
            total = np.nansum(radius, axis=0)
            frames = occupied.sum(axis=0)
            self.results.accessible_radius = np.where(frames > 0, total / np.maximum(frames, 1), np.nan)
