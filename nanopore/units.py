"""Physical constants and unit conversions used across the toolkit.

Conventions
-----------
* Free energies of the collective variable are stored in units of kT at the
  profile's temperature.
* Diffusion coefficients of the collective variable are in molecules^2/ps, as
  molecular dynamics gives them; every kinetic output is converted to SI.
* Voltages are in volts, pressures in pascals internally (MPa at the command
  line), times in seconds in outputs.
"""

from __future__ import annotations

#: Boltzmann constant (J/K), exact in SI 2019.
BOLTZMANN = 1.380649e-23
#: Elementary charge (C), exact in SI 2019.
ELEMENTARY_CHARGE = 1.602176634e-19
#: Avogadro constant (1/mol), exact in SI 2019.
AVOGADRO = 6.02214076e23
#: Vacuum permittivity (F/m), CODATA 2018.
VACUUM_PERMITTIVITY = 8.8541878128e-12
#: Molar gas constant (kJ/(mol K)).
GAS_CONSTANT_KJ = BOLTZMANN * AVOGADRO / 1000.0
#: One elementary charge moved through one volt, in kJ/mol (about 96.485).
EV_IN_KJ_PER_MOL = ELEMENTARY_CHARGE * AVOGADRO / 1000.0
#: Volume per molecule of liquid water at 300 K and 1 bar (nm^3), 1/rho_l.
WATER_MOLECULAR_VOLUME_NM3 = 0.0299

PICOSECOND = 1.0e-12  # s
NANOMETER = 1.0e-9  # m
MEGAPASCAL = 1.0e6  # Pa


def kT_joule(temperature: float) -> float:
    """Thermal energy kT.

    Parameters
    ----------
    temperature : float
        Temperature (K).

    Returns
    -------
    float
        kT (J).
    """
    return BOLTZMANN * temperature


def kT_kj_per_mol(temperature: float) -> float:
    """Thermal energy per mole, RT.

    Parameters
    ----------
    temperature : float
        Temperature (K).

    Returns
    -------
    float
        RT (kJ/mol).
    """
    return GAS_CONSTANT_KJ * temperature


def beta_per_kj_mol(temperature: float) -> float:
    """Inverse thermal energy 1/RT.

    Parameters
    ----------
    temperature : float
        Temperature (K).

    Returns
    -------
    float
        beta (mol/kJ).
    """
    return 1.0 / kT_kj_per_mol(temperature)


def per_ps_to_per_s(rate_per_ps):
    """Convert a rate from 1/ps to 1/s.

    Parameters
    ----------
    rate_per_ps : float or array_like
        Rate (1/ps).

    Returns
    -------
    float or ndarray
        Rate (1/s).
    """
    return rate_per_ps / PICOSECOND


def ps_to_s(time_ps):
    """Convert a time from ps to s.

    Parameters
    ----------
    time_ps : float or array_like
        Time (ps).

    Returns
    -------
    float or ndarray
        Time (s).
    """
    return time_ps * PICOSECOND


def s_to_ps(time_s):
    """Convert a time from s to ps.

    Parameters
    ----------
    time_s : float or array_like
        Time (s).

    Returns
    -------
    float or ndarray
        Time (ps).
    """
    return time_s / PICOSECOND


def pressure_work_kT(pressure_pa, molecular_volume_nm3: float, temperature: float):
    """Work P v per molecule in units of kT.

    Parameters
    ----------
    pressure_pa : float or array_like
        Pressure difference (Pa).
    molecular_volume_nm3 : float
        Volume per liquid molecule (nm^3).
    temperature : float
        Temperature (K).

    Returns
    -------
    float or ndarray
        P v / kT (dimensionless, per molecule).
    """
    return pressure_pa * molecular_volume_nm3 * NANOMETER**3 / kT_joule(temperature)
