"""Start-up benchmark: how long ``nanopore --help`` and a command's ``--help`` take.

Run ``python benchmarks/bench_startup.py``. Each command runs in a fresh process
(best and median of seven), beside the bare interpreter (``python -c pass``) as
the baseline; the target is ``nanopore --help`` under 0.5 s. The command line
imports a stage only when that stage runs (``nanopore.cli.LazyGroup``), so the
help lists the commands from their stored one-line help. The last table lists
the slowest imports of ``nanopore --help`` (``python -X importtime``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "nanopore --help": [sys.executable, "-m", "nanopore", "--help"],
    "nanopore --version": [sys.executable, "-m", "nanopore", "--version"],
    "nanopore fes --help": [sys.executable, "-m", "nanopore", "fes", "--help"],
    "nanopore md --help": [sys.executable, "-m", "nanopore", "md", "--help"],
}
REPEATS = 7


def wall_times(command: list[str]) -> list[float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(count: int = 8) -> list[list[object]]:
    """Cumulative import times (ms) of ``nanopore --help``, slowest first."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "nanopore", "--help"],
                            capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and not match[3]:  # top-level imports only
            rows.append([match[4], int(match[2]) / 1000.0])
    return sorted(rows, key=lambda row: -row[1])[:count]


def main() -> None:
    from langevin.plots import format_table

    rows = []
    for label, command in CASES.items():
        times = wall_times(command)
        target = "< 0.5 s" if label == "nanopore --help" else ""
        rows.append([label, min(times), float(np.median(times)), target])
    print(format_table(["command", "best (s)", "median (s)", "target"], rows))
    print()
    print(format_table(["top-level import of nanopore --help", "cumulative (ms)"],
                       slowest_imports()))


if __name__ == "__main__":
    main()
