"""The forces a restrained pore run adds to the built system.

* :func:`add_cv_restraint`: the water count N of :class:`nanopore.cv.PoreCV` as a
  ``CustomExternalForce`` over the water oxygens inside a ``CustomCVForce`` whose
  energy is the harmonic restraint 0.5 kappa (N - N_k)^2. kappa and N_k are
  context parameters, so windows change them without rebuilding anything.
* :func:`add_field`: the applied voltage V as a uniform field E_z = V / L_z on
  every mobile charge, force q E_z, with L_z the current box height, so that
  V = E_z L_z holds while a barostat changes L_z. The energy is written so that
  the barostat's volume moves feel no work from the field (as in codes where an
  external field adds no virial): the reservoirs then sit at the set *mechanical*
  pressure, with no Maxwell stress of fictitious electrodes compressing them
  (which would raise the water's chemical potential and favour filling). Ions:
  -q V zeta / L_z with zeta the ion's z wrapped into the box and L_z read inside
  the expression (see below); the barostat scales an ion's z with L_z, so the
  term does not change, and the ion's unwrapped z, which grows as it carries
  current, never enters. Atoms of molecules: -q V z / L_ref with z unwrapped and
  L_ref the context parameter :data:`BOX_HEIGHT`, which the runners set to the
  current L_z every few steps; a neutral molecule's term is then -V mu_z / L_ref,
  unchanged by the rigid translations of a box move. The energy is not periodic,
  so it lives in its own force group and stays out of every energy that the
  analysis reads. Massless particles (the wall) never move and are left out.
* :func:`add_barostat`: a Monte Carlo barostat acting on the box height only
  (x and y stay commensurate with the wall lattice). The wall is one rigid
  "molecule" (zero-strength bonds, see :func:`bind_rigid`) centred at z = 0, the
  point the barostat scales about, so it never moves; the reservoirs take up
  every change of volume, and the liquid sits at the set normal pressure.

The current box height inside an expression: for an orthorhombic box,
``periodicdistance(0, 0, 0, 0, 0, a)`` is L_z - a whenever L_z / 2 < a < L_z, so
``a + periodicdistance(0, 0, 0, 0, 0, a)`` with a = 0.75 L_z(build) is L_z for any
height between 0.75 and 1.5 times the built one.
"""

from __future__ import annotations

from typing import Any

from nanopore.cv import PoreCV
from nanopore.units import EV_IN_KJ_PER_MOL

#: context parameter names
KAPPA = "cv_kappa"
TARGET = "cv_target"
#: the applied voltage times the elementary charge, in kJ/mol (1 V = 96.485 kJ/mol/e)
VOLTAGE = "voltage_kj_mol_e"
#: the box height (nm) that the field on atoms of molecules divides by
BOX_HEIGHT = "field_box_height_nm"
#: the collective variable's name inside the CustomCVForce
CV_NAME = "n_water"
#: force groups: everything else stays in group 0
RESTRAINT_GROUP = 1
FIELD_GROUP = 2
#: the barostat's attempts at a new box height: every this many steps (a trial
#: costs an energy evaluation; with the CV and field forces, trials every 25 steps
#: made the quick pore's windows 14 % slower, every 100 steps 6 %)
BAROSTAT_INTERVAL = 100
#: bar per MPa
BAR_PER_MPA = 10.0


def add_cv_restraint(system: Any, cv: PoreCV, oxygen_indices: list[int],
                     spring_constant: float = 0.0, target: float = 0.0) -> int:
    """Add the restrained water count to a system.

    Parameters
    ----------
    system : openmm.System
    cv : PoreCV
        The collective variable's definition.
    oxygen_indices : list of int
        Particles counted: the water oxygens.
    spring_constant : float
        Initial kappa (kJ/mol per molecule^2); 0 reads N without restraining it.
    target : float
        Initial N_k (molecules).

    Returns
    -------
    int
        Index of the ``CustomCVForce`` in the system.
    """
    import openmm

    counter = openmm.CustomExternalForce(cv.openmm_expression())
    for index in oxygen_indices:
        counter.addParticle(int(index), [])
    restraint = openmm.CustomCVForce(f"0.5 * {KAPPA} * ({CV_NAME} - {TARGET})^2")
    restraint.addGlobalParameter(KAPPA, float(spring_constant))
    restraint.addGlobalParameter(TARGET, float(target))
    restraint.addCollectiveVariable(CV_NAME, counter)
    restraint.setForceGroup(RESTRAINT_GROUP)
    return system.addForce(restraint)


def field_strength(voltage: float, box_height: float) -> float:
    """Field of a voltage across the box, for reports.

    Parameters
    ----------
    voltage : float
        Applied voltage V (V).
    box_height : float
        Box edge along the field, L_z (nm).

    Returns
    -------
    float
        E_z in kJ/mol per nm per elementary charge (1 V = 96.485 kJ/mol/e).
    """
    return voltage / box_height * EV_IN_KJ_PER_MOL


def voltage_parameter(voltage: float) -> float:
    """Value of the context parameter :data:`VOLTAGE` for an applied voltage.

    Parameters
    ----------
    voltage : float
        Applied voltage V (V).

    Returns
    -------
    float
        V e in kJ/mol.
    """
    return float(voltage) * EV_IN_KJ_PER_MOL


def box_height_expression(reference_height: float) -> str:
    """Expression evaluating to the current box height L_z (nm) inside a custom force.

    Parameters
    ----------
    reference_height : float
        The built box height (nm); the expression holds for heights between 0.75
        and 1.5 times it.

    Returns
    -------
    str
    """
    anchor = repr(0.75 * float(reference_height))
    return f"{anchor} + periodicdistance(0, 0, 0, 0, 0, {anchor})"


def add_field(system: Any, voltage: float, box_height: float) -> int:
    """Add the applied voltage: a uniform field E_z = V / L_z on every mobile charge.

    Parameters
    ----------
    system : openmm.System
        Must hold a ``NonbondedForce`` (the charges are copied from it).
    voltage : float
        Applied voltage (V); change it later through the context parameter
        :data:`VOLTAGE` with :func:`voltage_parameter`.
    box_height : float
        The built L_z (nm), the initial value of :data:`BOX_HEIGHT`; keep that
        parameter at the current L_z (see the module docstring).

    Returns
    -------
    int
        Index of the force in the system.
    """
    import openmm

    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    force = openmm.CustomExternalForce(
        f"-charge * {VOLTAGE} * (wrap * zeta / lz + (1 - wrap) * z / {BOX_HEIGHT});"
        f" zeta = z - lz * floor(z / lz + 0.5);"
        f" lz = {box_height_expression(box_height)}")
    force.addGlobalParameter(VOLTAGE, voltage_parameter(voltage))
    force.addGlobalParameter(BOX_HEIGHT, float(box_height))
    force.addPerParticleParameter("charge")
    force.addPerParticleParameter("wrap")
    molecule_size = _molecule_sizes(system)
    for index in range(nonbonded.getNumParticles()):
        charge = nonbonded.getParticleParameters(index)[0]
        charge = charge.value_in_unit(openmm.unit.elementary_charge)
        if charge != 0.0 and system.getParticleMass(index).value_in_unit(openmm.unit.dalton) > 0:
            # single-atom molecules (ions) wrap; atoms of molecules stay unwrapped
            force.addParticle(index, [charge, 1.0 if molecule_size[index] == 1 else 0.0])
    force.setForceGroup(FIELD_GROUP)
    return system.addForce(force)


def _molecule_sizes(system: Any) -> list[int]:
    """Number of atoms in each particle's molecule (constraints and two-particle bonds)."""
    import openmm

    parent = list(range(system.getNumParticles()))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    pairs = [system.getConstraintParameters(k)[:2] for k in range(system.getNumConstraints())]
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            pairs += [force.getBondParameters(k)[:2] for k in range(force.getNumBonds())]
    for first, second in pairs:
        parent[root(first)] = root(second)
    roots = [root(index) for index in range(len(parent))]
    counts: dict[int, int] = {}
    for value in roots:
        counts[value] = counts.get(value, 0) + 1
    return [counts[value] for value in roots]


def sync_box_height(context: Any) -> float:
    """Set :data:`BOX_HEIGHT` to the context's current box height.

    Parameters
    ----------
    context : openmm.Context
        A context whose system holds the force of :func:`add_field`.

    Returns
    -------
    float
        L_z (nm).
    """
    from openmm import unit

    height = context.getState().getPeriodicBoxVectors()[2][2].value_in_unit(unit.nanometer)
    if context.getParameter(BOX_HEIGHT) != height:
        context.setParameter(BOX_HEIGHT, height)
    return float(height)


def bind_rigid(system: Any, indices: list[int]) -> int:
    """Make particles one molecule for the barostat (zero-strength bonds in a chain).

    A Monte Carlo barostat scales molecule centres; bound into one molecule the
    wall is translated as a whole instead of being stretched site by site.

    Parameters
    ----------
    system : openmm.System
    indices : list of int
        Particles to bind (the wall sites).

    Returns
    -------
    int
        Index of the (energy-free) ``HarmonicBondForce``.
    """
    import openmm

    bonds = openmm.HarmonicBondForce()
    for first, second in zip(indices[:-1], indices[1:]):
        bonds.addBond(int(first), int(second), 0.1, 0.0)
    return system.addForce(bonds)


def add_barostat(system: Any, pressure_mpa: float, temperature: float,
                 interval: int = BAROSTAT_INTERVAL) -> int:
    """Add a Monte Carlo barostat on the box height only.

    Parameters
    ----------
    system : openmm.System
    pressure_mpa : float
        Normal pressure P_zz of the liquid (MPa).
    temperature : float
        Temperature (K).
    interval : int
        Steps between attempted box moves.

    Returns
    -------
    int
        Index of the barostat in the system.
    """
    import openmm
    from openmm import unit

    bar = pressure_mpa * BAR_PER_MPA
    barostat = openmm.MonteCarloAnisotropicBarostat(
        openmm.Vec3(bar, bar, bar) * unit.bar, temperature * unit.kelvin, False, False, True,
        int(interval))
    return system.addForce(barostat)


def analysis_groups() -> set[int]:
    """Force groups whose energies analysis may read: all but the field's."""
    return set(range(32)) - {FIELD_GROUP}
