"""SLURM job arrays for the restrained windows, and a dependent gather job.

``nanopore md slurm SETUP.toml --out RUN`` writes into ``RUN/slurm/``:

* ``windows.sbatch``: a job array with one task per (voltage, window), or per
  voltage with ``--per-voltage`` (then windows start from their neighbour's final
  state, as in a sequential run); each task runs ``nanopore md run``;
* ``gather.sbatch``: the downstream stages, ``nanopore pipeline`` on the same run
  directory (it finds the windows finished and skips the MD stage);
* ``submit.sh``: submits the array and the gather job with ``--dependency=afterok``.

Tasks of an array share nothing but the run directory; a task that is requeued or
resubmitted resumes its window from the last checkpoint.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from md_setups.setup import Setup
from nanopore.safe_io import atomic_write_text


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of the SLURM jobs.

    Attributes
    ----------
    partition : str, optional
        ``--partition``.
    time : str
        Wall time per array task (``HH:MM:SS`` or ``D-HH:MM:SS``).
    gather_time : str
        Wall time of the gather job.
    gpus : int
        GPUs per task (``--gpus-per-task``); 0 for CPU tasks.
    cpus : int
        CPU cores per task (``--cpus-per-task``).
    memory : str
        Memory per task (``--mem``).
    account : str, optional
        ``--account``.
    max_parallel : int
        Array throttle (``%N``); 0 for none.
    setup_lines : tuple of str
        Shell lines run before the command (``module load ...``, ``source venv/bin/activate``).
    """

    partition: str | None = None
    time: str = "24:00:00"
    gather_time: str = "01:00:00"
    gpus: int = 1
    cpus: int = 4
    memory: str = "8G"
    account: str | None = None
    max_parallel: int = 0
    setup_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.gpus < 0 or self.cpus < 1 or self.max_parallel < 0:
            raise ValueError("gpus and max_parallel must be >= 0 and cpus >= 1")
        for value in (self.time, self.gather_time):
            parts = str(value).replace("-", ":").split(":")
            if not all(part.isdigit() for part in parts) or not 1 <= len(parts) <= 4:
                raise ValueError(f"time {value!r} is not a SLURM time (HH:MM:SS or D-HH:MM:SS)")
        check_directive("--mem", self.memory, _MEMORY, "a size such as 8G, 16000M or 1T")
        for option, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and value != "":
                check_directive(option, value, _NAME, "letters, digits, '_', '-', '.' and ','")
        for line in self.setup_lines:
            if any(char in str(line) for char in "\n\r\0"):
                raise ValueError(f"--setup-line {line!r} holds a line break; give each shell line "
                                 "as its own --setup-line")


_MEMORY = re.compile(r"^[0-9]+[KMGT]?B?$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.,-]+$")
_PATH = re.compile(r"^[A-Za-z0-9_./%+=@:,~-]+$")


def check_directive(option: str, value: str, pattern: re.Pattern[str], allowed: str) -> str:
    """Refuse a value that an ``#SBATCH`` line cannot carry as it is.

    Parameters
    ----------
    option : str
        The sbatch option, for the message.
    value : str
    pattern : re.Pattern
        What the value may look like.
    allowed : str
        The same in words, for the message.

    Returns
    -------
    str
        The value.

    Raises
    ------
    ValueError
        A value with a line break, space, quote or shell metacharacter, or
        anything else outside ``pattern``.
    """
    text = str(value)
    if not pattern.match(text):
        raise ValueError(f"{option} {text!r} is not allowed in a SLURM script: use {allowed} "
                         "(no spaces, line breaks, quotes or shell characters)")
    return text


def job_name(name: str) -> str:
    """A SLURM job name from a setup name: characters other than letters, digits, '.', '_', '-' become '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "nanopore"


def _header(name: str, options: SlurmOptions, log_dir: Path, time: str, gpus: int,
            cpus: int) -> list[str]:
    output = check_directive("--output", f"{log_dir}/%x_%A_%a.out", _PATH,
                             "a run directory whose path has only letters, digits and . _ - / + = @ : , ~")
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name(name)}", f"#SBATCH --time={time}",
             f"#SBATCH --cpus-per-task={int(cpus)}", f"#SBATCH --mem={options.memory}",
             f"#SBATCH --output={output}"]
    if options.partition:
        lines.append(f"#SBATCH --partition={options.partition}")
    if options.account:
        lines.append(f"#SBATCH --account={options.account}")
    if gpus:
        lines.append(f"#SBATCH --gpus-per-task={int(gpus)}")
    return lines


def write_slurm_scripts(setup: Setup, out: str | os.PathLike, options: SlurmOptions,
                        per_voltage: bool = False) -> dict[str, Path]:
    """Write the array, gather and submit scripts.

    Parameters
    ----------
    setup : Setup
    out : path-like
        Run directory (on a file system every node sees).
    options : SlurmOptions
    per_voltage : bool
        One task per voltage (windows chained) instead of one per window.

    Returns
    -------
    dict of str to Path
        ``windows``, ``gather``, ``submit``.
    """
    out = Path(out).resolve()
    directory = out / "slurm"
    logs = directory / "logs"
    check_directive("--output", f"{logs}/%x_%A_%a.out", _PATH,
                    "a run directory whose path has only letters, digits and . _ - / + = @ : , ~")
    logs.mkdir(parents=True, exist_ok=True)
    setup_path = Path(setup.source).resolve()
    voltages = " ".join(f"{v:g}" for v in setup.voltages)
    n_windows = len(setup.targets)
    n_tasks = len(setup.voltages) * (1 if per_voltage else n_windows)
    throttle = f"%{options.max_parallel}" if options.max_parallel else ""
    platform = "auto" if options.gpus else "CPU"
    md_dir = shlex.quote(str(out / "md"))
    setup_arg = shlex.quote(str(setup_path))

    array = _header(f"{setup.name}-windows", options, logs, options.time, options.gpus, options.cpus)
    array.append(f"#SBATCH --array=0-{n_tasks - 1}{throttle}")
    array += ["set -euo pipefail", *options.setup_lines,
              f"export OPENMM_CPU_THREADS=${{SLURM_CPUS_PER_TASK:-{options.cpus}}}",
              f"VOLTAGES=({voltages})", f"N_WINDOWS={n_windows}"]
    if per_voltage:
        array += ["VOLTAGE=${VOLTAGES[$SLURM_ARRAY_TASK_ID]}",
                  f"nanopore md run {setup_arg} --voltage \"$VOLTAGE\" --all --out {md_dir} "
                  f"--platform {platform} --no-progress"]
    else:
        array += ["VOLTAGE=${VOLTAGES[$((SLURM_ARRAY_TASK_ID / N_WINDOWS))]}",
                  "WINDOW=$((SLURM_ARRAY_TASK_ID % N_WINDOWS))",
                  f"nanopore md run {setup_arg} --voltage \"$VOLTAGE\" --window \"$WINDOW\" "
                  f"--out {md_dir} --platform {platform} --no-progress"]

    gather = _header(f"{setup.name}-gather", options, logs, options.gather_time, 0, 2)
    gather += ["set -euo pipefail", *options.setup_lines,
               f"nanopore pipeline {setup_arg} --out {shlex.quote(str(out))} --scheduler sequential "
               "--resume --no-progress"]

    submit = ["#!/bin/bash", "# Submit the window array, then the gather job once every task succeeded.",
              "set -euo pipefail", f"cd {shlex.quote(str(directory))}",
              "ARRAY_ID=$(sbatch --parsable windows.sbatch)",
              "GATHER_ID=$(sbatch --parsable --dependency=afterok:${ARRAY_ID} gather.sbatch)",
              'echo "windows: job ${ARRAY_ID}; gather: job ${GATHER_ID}"']

    paths = {"windows": directory / "windows.sbatch", "gather": directory / "gather.sbatch",
             "submit": directory / "submit.sh"}
    for key, lines in (("windows", array), ("gather", gather), ("submit", submit)):
        atomic_write_text(paths[key], "\n".join(lines) + "\n")
        paths[key].chmod(0o755)
    return paths
