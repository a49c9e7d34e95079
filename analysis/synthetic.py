"""Synthetic umbrella windows drawn from a known free-energy profile.

For tests and benchmarks: the answer is known, so an estimator can be checked
against it. Three kinds of samples, each in window k from the biased distribution
p_k(N) proportional to exp(-Omega(N) - 0.5 beta kappa (N - N_k)^2) (Omega in kT):

* independent samples, drawn exactly by rejection (:func:`biased_samples`);
* overdamped Langevin trajectories with a Metropolis correction (MALA), whose
  stationary distribution is exactly p_k and whose dynamics approach the
  Langevin equation dN = -D dU/dN dt + sqrt(2 D) dW as the step shrinks
  (:func:`langevin_series`);
* the exact Ornstein-Uhlenbeck process of a flat profile under the restraint,
  whose autocorrelation C(t) = exp(-D beta kappa t) / (beta kappa) is known
  (:func:`ou_series`), for the diffusion estimator.

These are models, not simulation data; every window made here says so in its
``source``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import trapezoid
from scipy.signal import lfilter

from nanopore.units import kT_kj_per_mol
from nanopore.windows import Window

Profile = Callable[[np.ndarray], np.ndarray]


def _derivative(free_energy: Profile, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    return (free_energy(x + step) - free_energy(x - step)) / (2.0 * step)


def biased_samples(
    free_energy: Profile,
    center: float,
    kappa_reduced: float,
    n_samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Independent samples of N from one window's biased distribution, by rejection.

    The proposal is a Gaussian at the mode of the biased distribution, 1.25 times
    wider than the restraint alone; samples are accepted with the ratio of target
    to proposal divided by its largest value on a fine grid of +-14 restraint
    widths. For a profile bounded below and smooth on the grid's scale this draws
    exp(-Omega(N) - 0.5 beta kappa (N - N_k)^2) exactly.

    Parameters
    ----------
    free_energy : callable
        Omega(N) (kT), vectorised.
    center : float
        N_k (molecules).
    kappa_reduced : float
        beta kappa (1/molecule^2).
    n_samples : int
        Number of samples.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray, shape (n_samples,)
        N (molecules).
    """
    scale = 1.0 / np.sqrt(kappa_reduced)
    span = np.linspace(center - 14 * scale, center + 14 * scale, 40001)
    potential = free_energy(span) + 0.5 * kappa_reduced * (span - center) ** 2
    mean = float(span[np.argmin(potential)])
    # wider than the restraint alone, so the proposal's tails are heavier than the target's
    width = 1.25 * scale

    def remainder(x: np.ndarray) -> np.ndarray:
        # log proposal - log target, up to a constant
        return (free_energy(x) + 0.5 * kappa_reduced * (x - center) ** 2
                - 0.5 * ((x - mean) / width) ** 2)

    floor = float(np.min(remainder(span)))
    out = np.empty(0)
    while out.size < n_samples:
        batch = max(1024, 2 * (n_samples - out.size))
        x = rng.normal(mean, width, size=batch)
        keep = rng.random(batch) < np.exp(-(remainder(x) - floor))
        out = np.concatenate([out, x[keep]])
    return out[:n_samples]


def langevin_series(
    free_energy: Profile,
    centers: Sequence[float],
    kappa_reduced: float | Sequence[float],
    diffusion: float,
    n_samples: int,
    interval: float,
    rng: np.random.Generator,
    substeps: int = 20,
) -> np.ndarray:
    """Time-correlated series of N in several windows: overdamped Langevin with MALA.

    Each window starts from an exact sample of its biased distribution, so the
    series are stationary from the first sample. Each Euler-Maruyama step of the
    potential U = Omega + 0.5 beta kappa (N - N_k)^2 is accepted or rejected by
    the Metropolis-Hastings rule of the Langevin proposal, which keeps the
    stationary distribution exact for any step.

    Parameters
    ----------
    free_energy : callable
        Omega(N) (kT), vectorised.
    centers : sequence of float
        N_k of each window (molecules).
    kappa_reduced : float or sequence of float
        beta kappa (1/molecule^2), one or one per window.
    diffusion : float
        D (molecules^2/ps).
    n_samples : int
        Samples per window.
    interval : float
        Time between samples (ps).
    rng : numpy.random.Generator
        Random source.
    substeps : int, optional
        Langevin steps per sample.

    Returns
    -------
    ndarray, shape (n_windows, n_samples)
        N (molecules).
    """
    centers = np.asarray(centers, dtype=float)
    kappa = np.broadcast_to(np.asarray(kappa_reduced, dtype=float), centers.shape)
    dt = interval / substeps
    step = np.sqrt(2.0 * diffusion * dt)

    def potential(x: np.ndarray) -> np.ndarray:
        return free_energy(x) + 0.5 * kappa * (x - centers) ** 2

    def force(x: np.ndarray) -> np.ndarray:
        return -(_derivative(free_energy, x) + kappa * (x - centers))

    x = np.array([biased_samples(free_energy, c, k, 1, rng)[0] for c, k in zip(centers, kappa)])
    u, f = potential(x), force(x)
    out = np.empty((centers.size, n_samples))
    for i in range(n_samples):
        for _ in range(substeps):
            y = x + diffusion * dt * f + step * rng.standard_normal(x.size)
            uy, fy = potential(y), force(y)
            forward = (y - x - diffusion * dt * f) ** 2
            backward = (x - y - diffusion * dt * fy) ** 2
            log_ratio = -(uy - u) - (backward - forward) / (4.0 * diffusion * dt)
            accept = np.log(rng.random(x.size)) < log_ratio
            x = np.where(accept, y, x)
            u = np.where(accept, uy, u)
            f = np.where(accept, fy, f)
        out[:, i] = x
    return out


def ou_series(
    center: float,
    kappa_reduced: float,
    diffusion: float,
    n_samples: int,
    interval: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Exact Ornstein-Uhlenbeck series of N under a restraint on a flat profile.

    The stationary variance is 1/(beta kappa) and the autocorrelation
    C(t) = exp(-D beta kappa t) / (beta kappa), so Hummer's estimator should give D.

    Parameters
    ----------
    center : float
        N_k (molecules).
    kappa_reduced : float
        beta kappa (1/molecule^2).
    diffusion : float
        D (molecules^2/ps).
    n_samples : int
        Number of samples.
    interval : float
        Time between samples (ps).
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray, shape (n_samples,)
        N (molecules), stationary from the first sample.
    """
    variance = 1.0 / kappa_reduced
    rho = np.exp(-diffusion * kappa_reduced * interval)
    noise = rng.standard_normal(n_samples) * np.sqrt(variance * (1.0 - rho**2))
    noise[0] = rng.standard_normal() * np.sqrt(variance)
    return center + lfilter([1.0], [1.0, -rho], noise)


def synthetic_windows(
    free_energy: Profile,
    centers: Sequence[float],
    kappa_reduced: float,
    n_samples: int,
    seed: int | np.random.Generator,
    temperature: float = 300.0,
    voltage: float = 0.0,
    correlated: bool = False,
    diffusion: float = 1.0,
    interval: float = 0.1,
    substeps: int = 20,
) -> list[Window]:
    """Umbrella windows on a known profile, as :class:`nanopore.windows.Window` objects.

    Parameters
    ----------
    free_energy : callable
        Omega(N) (kT), vectorised.
    centers : sequence of float
        Restraint centres N_k (molecules).
    kappa_reduced : float
        beta kappa (1/molecule^2); stored as kappa = beta kappa * RT (kJ/mol/molecule^2).
    n_samples : int
        Samples per window.
    seed : int or numpy.random.Generator
        Random seed or generator.
    temperature : float, optional
        Temperature (K).
    voltage : float, optional
        Voltage label (V).
    correlated : bool, optional
        Langevin (MALA) series instead of independent samples.
    diffusion : float, optional
        D (molecules^2/ps) of the Langevin series.
    interval : float, optional
        Time between samples (ps).
    substeps : int, optional
        Langevin steps per sample.

    Returns
    -------
    list of Window
    """
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=float)
    if correlated:
        series = langevin_series(free_energy, centers, kappa_reduced, diffusion, n_samples,
                                 interval, rng, substeps=substeps)
    else:
        series = np.array([biased_samples(free_energy, c, kappa_reduced, n_samples, rng)
                           for c in centers])
    kappa = kappa_reduced * kT_kj_per_mol(temperature)
    time = interval * np.arange(n_samples)
    kind = "Langevin" if correlated else "independent"
    return [
        Window(time=time, n=series[k], center=c, spring_constant=kappa, temperature=temperature,
               voltage=voltage, source=f"synthetic {kind} window {k} (N_k = {c:g})",
               metadata={"synthetic": True})
        for k, c in enumerate(centers)
    ]


def bin_averaged(free_energy: Profile, edges: np.ndarray, points: int = 201) -> np.ndarray:
    """The profile a histogram estimator sees: -ln of the bin average of exp(-Omega).

    Parameters
    ----------
    free_energy : callable
        Omega(N) (kT), vectorised.
    edges : ndarray
        Bin edges (molecules).
    points : int, optional
        Quadrature points per bin.

    Returns
    -------
    ndarray, shape (len(edges) - 1,)
        Omega of each bin (kT).
    """
    edges = np.asarray(edges, dtype=float)
    u = np.linspace(0.0, 1.0, points)
    x = edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * u[None, :]
    values = -free_energy(x.ravel()).reshape(x.shape)
    top = values.max(axis=1, keepdims=True)
    return -(top[:, 0] + np.log(trapezoid(np.exp(values - top), u, axis=1)))
