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
