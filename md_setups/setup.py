"""Setup files: the TOML description of a model pore system and its restrained runs.

A setup has the sections ``[pore]``, ``[wall]``, ``[solvent]``, ``[box]``,
``[simulation]``, ``[cv]``, ``[windows]`` and ``[run]``; :data:`SCHEMA` lists every
key with its type, default, allowed range and units, and :func:`load_setup`
refuses a file with a message naming the bad key and what it may be.
Lengths are in nm, times in ps, energies in kJ/mol, voltages in V.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from nanopore.cv import PoreCV


class SetupError(ValueError):
    """A setup file that cannot be used."""


@dataclass(frozen=True)
class Key:
    """Schema entry of one setup key.

    Attributes
    ----------
    kind : type
        ``float``, ``int``, ``str``, ``bool`` or ``list`` (of floats).
    default : object
        Value when the key is absent; ``None`` for a required key.
    low, high : float, optional
        Inclusive allowed range of numbers (or of list items).
    choices : tuple of str, optional
        Allowed strings.
    units : str
        Units shown in messages.
    help : str
        One-line description.
    """

    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    units: str = ""
    help: str = ""


REQUIRED = None

SCHEMA: dict[str, dict[str, Key]] = {
    "pore": {
        "radius": Key(float, REQUIRED, 0.2, 3.0, units="nm",
                      help="radius of the pore: distance from the axis to the centres of the "
                           "lining sites (at the lower mouth for a cone or a step)"),
        "length": Key(float, REQUIRED, 0.3, 10.0, units="nm",
                      help="length of the pore, the thickness of the wall slab"),
        "lining": Key(str, "cylinder", choices=("cylinder", "lattice"),
                      help="cylinder: rings of sites on the pore surface, so that the radius is "
                           "the lining radius; lattice: the pore cut out of the wall lattice "
                           "(faceted, lining 0.05-0.1 nm beyond the nominal radius)"),
        "shape": Key(str, "straight", choices=("straight", "cone", "step"),
                     help="straight; cone (radius changes linearly from the lower to the upper "
                          "mouth); step (lower half at radius, upper half at radius_top)"),
        "radius_top": Key(float, 0.0, 0.0, 3.0, units="nm",
                          help="radius at the upper mouth (+z) for a cone or a step; 0 means "
                               "the radius"),
    },
    "charges": {
        "ring_charge": Key(float, 0.0, -2.0, 2.0, units="e",
                           help="charge of each charged lining site; 0 leaves the pore uncharged"),
        "ring_sites": Key(int, 0, 0, 64, help="charged sites per ring, evenly spaced in angle"),
        "ring_z": Key(list, [0.0], -5.0, 5.0, units="nm",
                      help="axial positions of the charged rings relative to the pore centre "
                           "(e.g. one mouth only for an asymmetric pore)"),
    },
    "wall": {
        "lattice": Key(str, "cubic", choices=("cubic", "fcc"), help="lattice of the wall sites"),
        "spacing": Key(float, 0.3, 0.15, 1.0, units="nm", help="lattice constant"),
        "sigma": Key(float, 0.34, 0.1, 1.0, units="nm",
                     help="wall-water-oxygen Lennard-Jones sigma"),
        "epsilon": Key(float, 0.4, 0.0, 10.0, units="kJ/mol",
                       help="wall-water-oxygen Lennard-Jones epsilon (lower is more hydrophobic)"),
    },
    "solvent": {
        "water_model": Key(str, "tip3p", choices=("tip3p", "spce", "tip4pew"),
                           help="rigid water model from OpenMM's amber14 force-field files"),
        "salt_concentration": Key(float, 1.0, 0.0, 5.0, units="mol/L", help="KCl concentration"),
        "fill": Key(str, "wet", choices=("wet", "dry"), help="pore filled or empty at build time"),
        "full_pore_equilibration": Key(float, 10.0, 0.0, 1.0e5, units="ps",
                                       help="unrestrained MD of the wet build that measures the "
                                            "full-pore count and the water-accessible radius "
                                            "(0 skips it)"),
    },
    "box": {
        "lateral": Key(float, REQUIRED, 1.5, 20.0, units="nm", help="box edge in x and y"),
        "reservoir": Key(float, REQUIRED, 0.5, 20.0, units="nm",
                         help="height of the water reservoir on each side of the wall"),
    },
    "simulation": {
        "temperature": Key(float, 300.0, 200.0, 600.0, units="K", help="temperature"),
        "timestep": Key(float, 0.002, 0.0005, 0.004, units="ps", help="integration time step"),
        "friction": Key(float, 1.0, 0.01, 100.0, units="1/ps", help="Langevin friction"),
        "nonbonded": Key(str, "pme", choices=("pme", "cutoff"),
                         help="PME, or reaction-field cutoff electrostatics (no applied voltage: "
                              "V = E L_z needs PME)"),
        "pressure": Key(float, 0.1, -100.0, 1000.0, units="MPa",
                        help="normal pressure of the liquid (0.1 MPa = 1 bar)"),
        "barostat": Key(bool, True,
                        help="Monte Carlo barostat on the box height (the wall stays rigid at "
                             "z = 0); false gives a closed box (NVT)"),
        "barostat_interval": Key(int, 100, 1, 100000, units="steps",
                                 help="steps between the barostat's trial moves of the box "
                                      "height"),
        "cutoff": Key(float, 0.9, 0.5, 2.0, units="nm", help="nonbonded cutoff"),
        "platform": Key(str, "auto", choices=("auto", "CUDA", "OpenCL", "CPU", "Reference"),
                        help="OpenMM platform; auto picks CUDA, then OpenCL, then CPU"),
        "precision": Key(str, "mixed", choices=("single", "mixed", "double"),
                         help="precision on GPU platforms"),
        "threads": Key(int, 0, 0, 1024, help="CPU threads; 0 lets OpenMM decide"),
    },
    "cv": {
        "radius": Key(float, 0.0, 0.0, 3.0, units="nm",
                      help="radius of the counting cylinder; 0 means the pore radius"),
        "z_half_length": Key(float, 0.0, 0.0, 5.0, units="nm",
                             help="half length of the counting region; 0 means half the pore"),
        "smoothing": Key(float, 0.02, 0.002, 0.2, units="nm", help="switching width lambda"),
    },
    "windows": {
        "targets": Key(list, None, 0.0, 1000.0, units="molecules",
                       help="restraint targets N_k (or give start, stop, step)"),
        "start": Key(float, None, 0.0, 1000.0, units="molecules", help="first target"),
        "stop": Key(float, None, 0.0, 1000.0, units="molecules",
                    help="last target (inclusive); default 1.3 times the full pore's estimate "
                         "at bulk density, so that the windows run beyond the full pore"),
        "step": Key(float, None, 0.05, 100.0, units="molecules", help="target spacing"),
        "spring_constant": Key(float, 5.0, 0.01, 1000.0, units="kJ/mol/molecule^2",
                               help="kappa of the restraint 0.5 kappa (N - N_k)^2"),
        "start_from": Key(str, "neighbour", choices=("neighbour", "built", "first_voltage"),
                          help="start each window from its neighbour's final state, from the "
                               "build, or (first_voltage) at every other voltage from the final "
                               "state of the same window at the first voltage, so that no "
                               "voltage's chain drags a filled pore down to the emptier "
                               "windows"),
    },
    "run": {
        "voltages": Key(list, [0.0], -10.0, 10.0, units="V", help="applied voltages"),
        "equilibration": Key(float, 2.0, 0.0, 1.0e6, units="ps",
                             help="equilibration per window; the target is pulled in its first half"),
        "production": Key(float, 10.0, 0.001, 1.0e7, units="ps", help="production per window"),
        "cv_stride": Key(int, 10, 1, 100000, units="steps", help="steps between CV samples"),
        "checkpoint_interval": Key(float, 5.0, 0.01, 1.0e6, units="ps",
                                   help="simulated time between checkpoints"),
        "pressure_stride": Key(int, 500, 1, 10000000, units="steps",
                               help="steps between readings of the normal pressure P_zz with a "
                                    "barostat (each costs several energy evaluations); rounded "
                                    "up to a multiple of cv_stride"),
        "trajectory": Key(str, "none", choices=("none", "dcd", "xtc"), help="trajectory output"),
        "trajectory_stride": Key(int, 500, 1, 10000000, units="steps",
                                 help="steps between trajectory frames"),
        "seed": Key(int, 1, 0, 2**31 - 1, help="random seed of velocities and the integrator"),
    },
    "pipeline": {
        "fes_method": Key(str, "wham", choices=("wham", "mbar", "ui"),
                          help="free-energy estimator of `nanopore pipeline`"),
        "bootstrap": Key(int, 20, 0, 10000, help="bootstrap replicates of the profile error"),
        "detect_equilibration": Key(bool, True,
                                    help="discard each window's detected equilibration region "
                                         "(off for windows of a few ps, where it leaves too little "
                                         "and makes the bootstrap errors too small)"),
        "rate_voltages": Key(list, [0.0, 1.5], -10.0, 10.0, units="V",
                             help="[first, last] voltage of the rate scan"),
        "rate_points": Key(int, 61, 2, 10000, help="voltages in the rate scan"),
        "rate_states": Key(str, "full_pore", choices=("full_pore", "basins"),
                           help="states between which the pipeline's rates are computed: "
                                "full_pore = the dry minimum at 0 V and the full-pore count "
                                "measured in the wet build (k_wet is the rate of filling the "
                                "pore; basins when the build measured none); basins = the "
                                "minima found in the profiles"),
        "loop_amplitude": Key(float, 0.0, 0.0, 10.0, units="V",
                              help="amplitude of the sinusoidal drive; 0 means the largest run voltage"),
        "loop_frequencies": Key(list, [0.0], 0.0, 1.0e15, units="Hz",
                                help="drive frequencies; [0] picks 13 around the switching rates"),
        "loop_method": Key(str, "fokker-planck", choices=("master", "fokker-planck", "langevin"),
                           help="kinetic model of the I-V loops"),
        "conductivity": Key(float, 10.5, 0.0, 1000.0, units="S/m",
                            help="electrolyte conductivity of the open-pore conductance"),
        "pressures": Key(list, [0.0], -1000.0, 10000.0, units="MPa",
                         help="[low, high] pressure of intrusion/extrusion cycles; [0] skips them"),
        "ramp_rates": Key(list, [1.0, 1.0e3, 1.0e6], 1.0e-6, 1.0e15, units="MPa/s",
                          help="pressure ramp rates of the cycles"),
        "scheduler": Key(str, "sequential",
                         help="sequential, local (a Dask LocalCluster), slurm or pbs "
                              "(dask-jobqueue), or a Dask scheduler address tcp://host:port"),
        "workers": Key(int, 2, 1, 10000, help="Dask workers"),
    },
}

_WATER_FILES = {"tip3p": "amber14/tip3p.xml", "spce": "amber14/spce.xml",
                "tip4pew": "amber14/tip4pew.xml"}


@dataclass(frozen=True)
class Setup:
    """A validated setup: ``values[section][key]`` plus derived quantities.

    Attributes
    ----------
    values : dict
        Every key of :data:`SCHEMA`, defaults filled in.
    source : str
        The file it was read from (or ``"<dict>"``).
    """

    values: dict[str, dict[str, Any]]
    source: str = "<dict>"

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    @property
    def name(self) -> str:
        """Name of the setup: the file's stem."""
        return Path(self.source).stem if self.source != "<dict>" else "setup"

    @property
    def box_height(self) -> float:
        """Box edge along z (nm): wall plus two reservoirs."""
        return self["pore"]["length"] + 2.0 * self["box"]["reservoir"]

    @property
    def box_edges(self) -> np.ndarray:
        """Box edge lengths (nm)."""
        lateral = self["box"]["lateral"]
        return np.array([lateral, lateral, self.box_height])

    @property
    def pore_center(self) -> np.ndarray:
        """Centre of the pore (nm): the middle of the box in x and y, z = 0.

        The wall is centred on z = 0, the point about which a barostat scales the
        box, so that the wall never moves (the reservoirs lie on both sides of it
        and meet across the periodic boundary at z = +-L_z / 2).
        """
        lateral = self["box"]["lateral"]
        return np.array([0.5 * lateral, 0.5 * lateral, 0.0])

    def pore_radius_at(self, z: np.ndarray | float) -> np.ndarray:
        """Lining radius (nm) at heights z (nm, relative to the pore centre).

        Parameters
        ----------
        z : array_like
            Axial positions (nm).

        Returns
        -------
        ndarray
        """
        pore = self["pore"]
        z = np.asarray(z, dtype=float)
        bottom = pore["radius"]
        top = pore["radius_top"] or bottom
        half = 0.5 * pore["length"]
        if pore["shape"] == "cone":
            fraction = np.clip((z + half) / (2 * half), 0.0, 1.0)
            return bottom + (top - bottom) * fraction
        if pore["shape"] == "step":
            return np.where(z < 0.0, bottom, top)
        return np.full_like(z, bottom)

    @property
    def mirror_symmetric(self) -> bool:
        """Whether the pore is the same seen from +z and -z (shape and charges)."""
        pore, charges = self["pore"], self["charges"]
        straight = pore["shape"] == "straight" or (pore["radius_top"] or pore["radius"]) == pore["radius"]
        uncharged = charges["ring_charge"] == 0.0 or charges["ring_sites"] == 0
        rings = sorted(round(z, 9) for z in charges["ring_z"])
        mirrored = rings == sorted(round(-z, 9) for z in charges["ring_z"])
        return straight and (uncharged or mirrored)

    def full_pore_estimate(self) -> float:
        """Molecules in the pore when it is full at bulk density (estimate).

        Bulk water (33.4 molecules/nm^3) in the CV region out to the lining radius
        less the wall-oxygen contact distance (0.85 sigma).

        Returns
        -------
        float
        """
        cv = self.cv
        z = np.linspace(cv.z_lo, cv.z_hi, 101)
        accessible = np.clip(np.minimum(self.pore_radius_at(z), cv.radius)
                             - 0.85 * self["wall"]["sigma"], 0.0, None)
        area = np.pi * accessible ** 2
        volume = float(np.sum(0.5 * (area[1:] + area[:-1]) * np.diff(z)))
        return 33.4 * volume

    @property
    def water_forcefield(self) -> str:
        """OpenMM force-field file of the water model (with ion parameters)."""
        return _WATER_FILES[self["solvent"]["water_model"]]

    @property
    def cv(self) -> PoreCV:
        """The collective variable of this setup."""
        cv = self["cv"]
        radius = cv["radius"] or max(self["pore"]["radius"], self["pore"]["radius_top"])
        half = cv["z_half_length"] or 0.5 * self["pore"]["length"]
        center = [float(c) for c in self.pore_center]
        return PoreCV(radius=float(radius), z_lo=center[2] - half, z_hi=center[2] + half,
                      smoothing=cv["smoothing"], center_x=center[0], center_y=center[1])

    @property
    def targets(self) -> np.ndarray:
        """Window targets N_k (molecules), increasing."""
        windows = self["windows"]
        if windows["targets"] is not None:
            return np.array(sorted(windows["targets"]), dtype=float)
        start, stop, step = windows["start"], windows["stop"], windows["step"]
        if stop is None:
            stop = start + step * math.ceil((1.3 * self.full_pore_estimate() - start) / step)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        return start + step * np.arange(count)

    @property
    def voltages(self) -> np.ndarray:
        """Applied voltages (V)."""
        return np.array(self["run"]["voltages"], dtype=float)

    def steps(self, duration_ps: float) -> int:
        """Number of integration steps in a duration, a multiple of the CV stride."""
        stride = self["run"]["cv_stride"]
        raw = int(round(duration_ps / self["simulation"]["timestep"]))
        return int(math.ceil(raw / stride)) * stride

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """A plain copy of the values."""
        return json.loads(json.dumps(self.values))

    def digest(self, sections: tuple[str, ...] | None = None) -> str:
        """Hash of the setup (or of some sections), to recognise a changed setup."""
        chosen = {s: self.values[s] for s in (sections or tuple(self.values))}
        return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:16]


def load_setup(path: str | os.PathLike) -> Setup:
    """Read and validate a setup file.

    Parameters
    ----------
    path : path-like
        A TOML setup file, or the name of a bundled setup (``quick``, ``production``).

    Returns
    -------
    Setup
    """
    path = resolve_setup_path(path)
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise SetupError(f"{path} is not valid TOML: {err}") from None
    return validate_setup(raw, source=str(path))


def resolve_setup_path(path: str | os.PathLike) -> Path:
    """Path of a setup file, accepting the bundled names ``quick`` and ``production``."""
    candidate = Path(path)
    if candidate.exists():
        return candidate
    bundled = Path(__file__).parent / f"{candidate.stem}.toml"
    if candidate.suffix in ("", ".toml") and candidate.parent == Path(".") and bundled.exists():
        return bundled
    names = ", ".join(p.stem for p in bundled_setups())
    raise SetupError(f"setup file {path} does not exist (bundled setups: {names})")


def bundled_setups() -> list[Path]:
    """The setup files shipped with the package."""
    return sorted(Path(__file__).parent.glob("*.toml"))


def validate_setup(raw: Mapping[str, Any], source: str = "<dict>") -> Setup:
    """Check a parsed setup against :data:`SCHEMA` and fill in defaults.

    Parameters
    ----------
    raw : mapping
        Sections of keys, as parsed from TOML.
    source : str
        Name used in messages.

    Returns
    -------
    Setup
    """
    if "system" in raw:  # a pore prepared elsewhere: md_setups.external
        from md_setups.external import external_setup

        return external_setup(raw, source)
    unknown = set(raw) - set(SCHEMA)
    if unknown:
        raise SetupError(f"{source}: unknown section(s) {sorted(unknown)}; "
                         f"allowed: {', '.join(SCHEMA)}")
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, Mapping):
            raise SetupError(f"{source}: [{section}] must be a table of keys")
        extra = set(given) - set(keys)
        if extra:
            raise SetupError(f"{source}: unknown key(s) {sorted(extra)} in [{section}]; "
                             f"allowed: {', '.join(keys)}")
        values[section] = {}
        for key, spec in keys.items():
            where = f"{source}: [{section}] {key}"
            if given.get(key) is not None:  # None: absent (as written by Setup.to_dict)
                values[section][key] = _check(where, given[key], spec)
            elif spec.default is REQUIRED and section not in ("windows",):
                raise SetupError(f"{where} is required ({spec.help}, {spec.units})")
            else:
                values[section][key] = spec.default
    _check_consistency(values, source)
    return Setup(values=values, source=source)


def _range_text(spec: Key) -> str:
    return f"between {spec.low} and {spec.high}{' ' + spec.units if spec.units else ''}"


def _check(where: str, value: Any, spec: Key) -> Any:
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise SetupError(f"{where} must be true or false, got {value!r}")
        return value
    if spec.kind is str:
        if not isinstance(value, str):
            raise SetupError(f"{where} must be a string, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise SetupError(f"{where} = {value!r} is not one of {', '.join(spec.choices)}")
        return value
    if spec.kind is list:
        if not isinstance(value, list) or not value:
            raise SetupError(f"{where} must be a non-empty list of numbers ({spec.units})")
        return [_number(f"{where} item", item, float, spec) for item in value]
    return _number(where, value, spec.kind, spec)


def _number(where: str, value: Any, kind: type, spec: Key) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SetupError(f"{where} must be a number ({spec.units or 'no units'}), got {value!r}")
    if kind is int and not float(value).is_integer():
        raise SetupError(f"{where} must be a whole number, got {value!r}")
    number = kind(value)
    if not math.isfinite(number):
        raise SetupError(f"{where} must be finite, got {value!r}")
    if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
        raise SetupError(f"{where} = {value} is out of range: it must be {_range_text(spec)}")
    return number


def _check_consistency(values: dict[str, dict[str, Any]], source: str) -> None:
    pore, box, sim, windows, run = (values[s] for s in ("pore", "box", "simulation", "windows", "run"))
    if box["lateral"] < 2.0 * (pore["radius"] + values["wall"]["spacing"]):
        raise SetupError(f"{source}: [box] lateral = {box['lateral']} nm leaves no wall around a "
                         f"pore of radius {pore['radius']} nm; make it at least "
                         f"{2 * (pore['radius'] + values['wall']['spacing']):.2f} nm")
    if 2.0 * sim["cutoff"] > min(box["lateral"], pore["length"] + 2 * box["reservoir"]):
        raise SetupError(f"{source}: [simulation] cutoff = {sim['cutoff']} nm is more than half "
                         f"the smallest box edge; lower it or enlarge [box]")
    given_range = [windows[k] is not None for k in ("start", "stop", "step")]
    if windows["targets"] is None:
        if windows["start"] is None or windows["step"] is None:
            raise SetupError(f"{source}: [windows] needs targets = [...] or start and step "
                             "(and optionally stop; molecules)")
        if windows["stop"] is not None and windows["stop"] < windows["start"]:
            raise SetupError(f"{source}: [windows] stop = {windows['stop']} is below start = "
                             f"{windows['start']}")
    elif any(given_range):
        raise SetupError(f"{source}: [windows] give either targets or start/stop/step, not both")
    elif len(set(windows["targets"])) != len(windows["targets"]):
        raise SetupError(f"{source}: [windows] targets has duplicates: {windows['targets']}")
    if len(set(run["voltages"])) != len(run["voltages"]):
        raise SetupError(f"{source}: [run] voltages has duplicates: {run['voltages']}")
    if sim["nonbonded"] != "pme" and any(v != 0.0 for v in run["voltages"]):
        raise SetupError(f"{source}: [simulation] nonbonded = {sim['nonbonded']!r} with an applied "
                         "voltage: the voltage across the box equals E L_z only with Ewald "
                         "electrostatics; set nonbonded = \"pme\" or run at 0 V only")
    if pore["shape"] != "straight" and pore["lining"] != "cylinder":
        raise SetupError(f"{source}: [pore] shape = {pore['shape']!r} needs lining = \"cylinder\"")
    widest = max(pore["radius"], pore["radius_top"])
    if box["lateral"] < 2.0 * (widest + values["wall"]["spacing"]):
        raise SetupError(f"{source}: [box] lateral = {box['lateral']} nm leaves no wall around a "
                         f"pore of radius {widest} nm; make it at least "
                         f"{2 * (widest + values['wall']['spacing']):.2f} nm")
    charges = values["charges"]
    if charges["ring_charge"] != 0.0 and charges["ring_sites"] > 0:
        half = 0.5 * pore["length"]
        for z in charges["ring_z"]:
            if abs(z) > half + 1e-9:
                raise SetupError(f"{source}: [charges] ring_z = {z} nm lies outside the pore "
                                 f"(|z| <= {half} nm)")
