"""The full pore: how many waters a wet pore holds and how far they reach from the axis.

A wet build is run without restraint (at the setup's largest |V|, where the wet
state is most stable, and its pressure) for ``[solvent] full_pore_equilibration`` ps. Its count N(t) is sampled every 20
steps. The *wet plateau* is the stretch from the end of the first picosecond up
to the first sample below half the starting count (a hydrophobic pore may dry
within the run; then only its wet part counts). Over the plateau:

* ``n_full`` (molecules): the mean count, with a block standard error;
* ``accessible_radius_nm``: the water-accessible radius, the oxygens' largest
  distance from the axis per slice of the pore averaged over frames
  (:class:`analysis.trajectory.PoreWater`), then over the slices inside the pore.

The state at the end of the plateau (positions and box height) becomes the
build's state, so that every window starts from liquid at the set pressure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from md_setups.setup import Setup

#: steps between samples of N
_SAMPLE_STRIDE = 20
#: samples between stored frames (for the accessible radius)
_FRAME_EVERY = 10
#: the first picosecond is the liquid settling against the wall
_SETTLE_PS = 1.0


def measure_full_pore(setup: Setup, built: Any) -> dict[str, Any]:
    """Run the wet build unrestrained and measure the full pore; update the build's state.

    Parameters
    ----------
    setup : Setup
    built : md_setups.builder.BuiltSystem
        A wet build; its positions and box are replaced by the state at the end
        of the wet plateau.

    Returns
    -------
    dict
        ``voltage`` (V, the field it ran at), ``n_full``, ``n_full_error``, ``accessible_radius_nm``, ``duration_ps``,
        ``wet_plateau_ps``, ``dried`` (whether the pore emptied within the run),
        ``box_height_nm`` (at the chosen state).
    """
    import openmm
    from openmm import unit

    from md_setups.forces import add_barostat, add_cv_restraint, add_field, sync_box_height
    from md_setups.platforms import choose_platform

    sim = setup["simulation"]
    duration = setup["solvent"]["full_pore_equilibration"]
    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(built.system))
    index = add_cv_restraint(system, setup.cv, built.oxygen_indices)
    if sim["barostat"]:
        add_barostat(system, sim["pressure"], sim["temperature"], sim["barostat_interval"])
    voltage = float(np.max(np.abs(setup.voltages)))
    add_field(system, voltage, setup.box_height)
    restraint = system.getForce(index)
    integrator = openmm.LangevinMiddleIntegrator(sim["temperature"] * unit.kelvin,
                                                 sim["friction"] / unit.picosecond,
                                                 sim["timestep"] * unit.picoseconds)
    integrator.setRandomNumberSeed(int(setup["run"]["seed"]) % (2**31 - 1) + 1)
    platform, properties = choose_platform(sim["platform"], sim["precision"], sim["threads"])
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(built.positions)
    context.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 500)
    context.setVelocitiesToTemperature(sim["temperature"] * unit.kelvin,
                                       int(setup["run"]["seed"]) % (2**31 - 1) + 1)
    n_samples = max(2, int(round(duration / (sim["timestep"] * _SAMPLE_STRIDE))))
    counts = np.empty(n_samples)
    frames: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    frame_sample: list[int] = []
    for k in range(n_samples):
        integrator.step(_SAMPLE_STRIDE)
        sync_box_height(context)
        counts[k] = restraint.getCollectiveVariableValues(context)[0]
        if k % _FRAME_EVERY == 0 or k == n_samples - 1:
            state = context.getState(getPositions=True)
            frames.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
            boxes.append(np.diag(state.getPeriodicBoxVectors(asNumpy=True)
                                 .value_in_unit(unit.nanometer)).copy())
            frame_sample.append(k)
    del context
    dt = sim["timestep"] * _SAMPLE_STRIDE
    first = min(int(round(_SETTLE_PS / dt)), n_samples // 2)
    start_count = max(float(counts[:max(first, 1)].mean()), 1.0)
    below = np.flatnonzero(counts[first:] < 0.5 * start_count)
    end = first + int(below[0]) if below.size else n_samples
    dried = bool(below.size)
    plateau = counts[first:end] if end > first else counts[:max(end, 1)]
    n_full = float(plateau.mean())
    n_full_error = _block_error(plateau)
    chosen = [i for i, k in enumerate(frame_sample) if first <= k < end] or [0]
    radius = _accessible_radius(setup, built, [frames[i] for i in chosen],
                                [boxes[i] for i in chosen])
    last = chosen[-1]
    built.positions = frames[last]
    box = boxes[last]
    vectors = [openmm.Vec3(box[0], 0, 0), openmm.Vec3(0, box[1], 0), openmm.Vec3(0, 0, box[2])]
    built.topology.setPeriodicBoxVectors(vectors * unit.nanometer)
    built.system.setDefaultPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    return {"voltage": voltage, "n_full": n_full, "n_full_error": n_full_error, "accessible_radius_nm": radius,
            "duration_ps": float(n_samples * dt), "wet_plateau_ps": float((end - first) * dt),
            "dried": dried, "box_height_nm": float(box[2])}


def _block_error(values: np.ndarray, blocks: int = 5) -> float:
    """Standard error of the mean from ``blocks`` contiguous blocks (nan if too short)."""
    if values.size < 2 * blocks:
        return float("nan")
    means = np.array([chunk.mean() for chunk in np.array_split(values, blocks)])
    return float(means.std(ddof=1) / np.sqrt(blocks))


def _accessible_radius(setup: Setup, built: Any, frames: list[np.ndarray],
                       boxes: list[np.ndarray]) -> float:
    """Water-accessible radius (nm) from frames, by :class:`analysis.trajectory.PoreWater`."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    from analysis.trajectory import ANGSTROM_TO_NM, PoreWater

    oxygens = np.array(built.oxygen_indices)
    universe = mda.Universe.empty(len(oxygens), trajectory=False)
    coordinates = np.array([frame[oxygens] for frame in frames]) / ANGSTROM_TO_NM
    dimensions = np.array([[*(box / ANGSTROM_TO_NM), 90.0, 90.0, 90.0] for box in boxes])
    universe.load_new(coordinates.astype(np.float32), format=MemoryReader, dimensions=dimensions)
    cv = setup.cv
    analysis = PoreWater(universe.atoms, cv, n_slices=12, margin=0.0,
                         search_radius=cv.radius + 0.3).run()
    values = np.asarray(analysis.results.accessible_radius, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")
