"""Shared fixtures; under pytest-xdist every worker computes on one thread.

The README's test command runs two worker processes on a 2-core machine: OpenMM's
CPU platform, BLAS and torch would each start a thread per core in both, four busy
threads on two cores. Set before numpy (and so OpenBLAS) is imported; a setup's own
``threads`` key or an explicit ``OPENMM_CPU_THREADS`` still wins.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("OPENMM_CPU_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import numpy as np
import pytest

from nanopore.synthetic import model_pore_profile, quartic_double_well


@pytest.fixture
def double_well():
    """Tilted quartic double well with a position-dependent D (grid, Omega in kT, D)."""
    n = np.linspace(-1.0, 11.0, 301)
    return n, quartic_double_well(n, 2.0, 8.0, 4.0, tilt=1.0), 0.5 + 0.1 * n


@pytest.fixture(scope="session")
def model_profile():
    return model_pore_profile()
