"""The forces a restrained pore run adds to the built system.

* :func:`add_cv_restraint`: the water count N of :class:`nanopore.cv.PoreCV` as a
  ``CustomExternalForce`` over the water oxygens inside a ``CustomCVForce`` whose
  energy is the harmonic restraint 0.5 kappa (N - N_k)^2. kappa and N_k are
  context parameters, so windows change them without rebuilding anything.
* :func:`add_field`: a uniform electric field E_z = V / L_z on every charge,
  force q E_z, as a ``CustomExternalForce`` with the charges copied from the
  ``NonbondedForce``. Its energy -q E_z z is not periodic (it drifts when ions
  cross the box), so it lives in its own force group and is left out of every
  energy that the analysis reads.
"""

from __future__ import annotations

from typing import Any

from nanopore.cv import PoreCV
from nanopore.units import EV_IN_KJ_PER_MOL

#: context parameter names
KAPPA = "cv_kappa"
TARGET = "cv_target"
FIELD = "field_kj_mol_nm_e"
#: the collective variable's name inside the CustomCVForce
CV_NAME = "n_water"
#: force groups: everything else stays in group 0
RESTRAINT_GROUP = 1
FIELD_GROUP = 2


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
    """Field parameter for a voltage across the box.

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


def add_field(system: Any, voltage: float, box_height: float) -> int:
    """Add a uniform field E_z = V / L_z acting on every charged particle.

    Parameters
    ----------
    system : openmm.System
        Must hold a ``NonbondedForce`` (the charges are copied from it).
    voltage : float
        Applied voltage (V); change it later through the context parameter
        :data:`FIELD` with :func:`field_strength`.
    box_height : float
        L_z (nm).

    Returns
    -------
    int
        Index of the force in the system.
    """
    import openmm

    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    force = openmm.CustomExternalForce(f"-charge * {FIELD} * z")
    force.addGlobalParameter(FIELD, field_strength(voltage, box_height))
    force.addPerParticleParameter("charge")
    for index in range(nonbonded.getNumParticles()):
        charge = nonbonded.getParticleParameters(index)[0]
        charge = charge.value_in_unit(openmm.unit.elementary_charge)
        if charge != 0.0:
            force.addParticle(index, [charge])
    force.setForceGroup(FIELD_GROUP)
    return system.addForce(force)


def analysis_groups() -> set[int]:
    """Force groups whose energies analysis may read: all but the field's."""
    return set(range(32)) - {FIELD_GROUP}
