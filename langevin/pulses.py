"""Pulse trains: the synaptic behaviour of a memristive pore (learning and forgetting).

A train of ``count`` rectangular voltage pulses of amplitude V and width w, separated
by rests of length ``interval`` at 0 V, drives the two-state master equation
dP_wet/dt = k_wet(V) (1 - P_wet) - k_dry(V) P_wet. The voltage is constant on each
piece, so each piece is solved exactly:

    P(t) = P_eq + (P(0) - P_eq) exp(-(k_wet + k_dry) t),   P_eq = k_wet / (k_wet + k_dry).

The pore starts in equilibrium at 0 V. The conductance after pulse j is
G_j = G_dry + (G_wet - G_dry) P_wet(end of pulse j). When the rest is short against
the drying (relaxation) time at 0 V, 1 / (k_wet(0) + k_dry(0)), the wet fraction
that a pulse creates survives until the next one and G grows from pulse to pulse
(learning); with rests long against it the pore dries in between and every pulse
starts afresh, so G after the train falls with the interval (forgetting).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from langevin.conductance import ConductanceModel
from nanopore.provenance import annotate, provenance_attrs
from nanopore.voltage_model import VoltageModel


def relax(p: np.ndarray, k_wet: float, k_dry: float, duration: np.ndarray | float) -> np.ndarray:
    """P_wet after ``duration`` (s) at constant rates k_wet, k_dry (1/s), from ``p``."""
    total = k_wet + k_dry
    equilibrium = k_wet / total
    return equilibrium + (np.asarray(p, dtype=float) - equilibrium) * np.exp(-total * np.asarray(duration))


def pulse_train(
    k_on: tuple[float, float],
    k_off: tuple[float, float],
    width: float,
    intervals: Sequence[float],
    count: int,
    initial: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Wet probability before and after every pulse of a train.

    Parameters
    ----------
    k_on, k_off : tuple of float
        (k_wet, k_dry) during the pulses and during the rests (1/s).
    width : float
        Pulse width (s).
    intervals : sequence of float
        Rest between the end of one pulse and the start of the next (s); one
        train per interval.
    count : int
        Pulses per train.
    initial : float, optional
        P_wet before the first pulse; default the equilibrium at rest.

    Returns
    -------
    before, after : ndarray, shape (n_intervals, count)
        P_wet at the start and at the end of each pulse.
    """
    if count < 1:
        raise ValueError("the pulse count must be at least 1")
    if width <= 0:
        raise ValueError("the pulse width must be positive (s)")
    intervals = np.atleast_1d(np.asarray(intervals, dtype=float))
    if np.any(intervals < 0) or not np.all(np.isfinite(intervals)):
        raise ValueError("pulse intervals must be finite and non-negative (s)")
    if min(*k_on, *k_off) < 0 or sum(k_on) <= 0 or sum(k_off) <= 0:
        raise ValueError("rates must be non-negative with a positive sum (1/s)")
    p = np.full(intervals.size, k_off[0] / sum(k_off) if initial is None else float(initial))
    before = np.empty((intervals.size, count))
    after = np.empty((intervals.size, count))
    for j in range(count):
        before[:, j] = p
        p = relax(p, *k_on, width)
        after[:, j] = p
        p = relax(p, *k_off, intervals)
    return before, after


def pulse_response(
    model: VoltageModel,
    amplitude: float,
    width: float,
    intervals: Sequence[float],
    count: int,
    conductance: ConductanceModel | None = None,
    inputs: list[str] | None = None,
    **basins,
) -> xr.Dataset:
    """Conductance of a pore after each pulse of trains with several rest intervals.

    Parameters
    ----------
    model : VoltageModel
        Voltage dependence of the profile; the amplitude must lie in its range
        (or extrapolation be allowed on it).
    amplitude : float
        Pulse voltage (V).
    width : float
        Pulse width (s).
    intervals : sequence of float
        Rests between pulses (s).
    count : int
        Pulses per train.
    conductance : ConductanceModel, optional
        G_dry, G_wet (S); default 0 and 1 nS.
    inputs : list of str, optional
        Provenance.
    **basins
        ``dry``, ``wet``, ``barrier`` overrides (molecules).

    Returns
    -------
    xarray.Dataset
        Along (``interval``, ``pulse``): ``conductance`` (nS, after each pulse),
        ``conductance_before`` (nS, at its start), ``p_wet``, ``p_wet_before``;
        along ``voltage`` (0 and the amplitude): ``k_wet``, ``k_dry`` (1/s);
        attributes ``drying_time`` (s, 1/k_dry at 0 V) and ``relaxation_time``
        (s, 1/(k_wet + k_dry) at 0 V).
    """
    from langevin.rates import rates_dataset

    if amplitude == 0:
        raise ValueError("the pulse amplitude must be non-zero (V)")
    conductance = conductance or ConductanceModel()
    volts = np.array(sorted({0.0, float(amplitude)}))
    model.check_range(volts)
    rates = rates_dataset(model.n, model.free_energy(volts, warn=False), model.diffusion_at(volts),
                          volts, method="exact", **{k: v for k, v in basins.items() if v is not None})
    k_wet = {float(v): float(k) for v, k in zip(volts, rates["k_wet"].values)}
    k_dry = {float(v): float(k) for v, k in zip(volts, rates["k_dry"].values)}
    k_on = (k_wet[float(amplitude)], k_dry[float(amplitude)])
    k_off = (k_wet[0.0], k_dry[0.0])
    intervals = np.atleast_1d(np.asarray(intervals, dtype=float))
    before, after = pulse_train(k_on, k_off, width, intervals, count)
    nano = 1e9
    dims = ("interval", "pulse")
    ds = xr.Dataset(
        {
            "conductance": (dims, conductance.from_wet_probability(after) * nano),
            "conductance_before": (dims, conductance.from_wet_probability(before) * nano),
            "p_wet": (dims, after),
            "p_wet_before": (dims, before),
            "k_wet": (("voltage",), rates["k_wet"].values),
            "k_dry": (("voltage",), rates["k_dry"].values),
        },
        coords={"interval": intervals, "pulse": np.arange(1, count + 1), "voltage": volts},
    )
    annotate(ds, {
        "interval": ("s", "rest at 0 V between the end of a pulse and the start of the next"),
        "pulse": ("1", "pulse number"),
        "voltage": ("V", "voltage during rests (0) and pulses"),
        "conductance": ("nS", "G_dry + (G_wet - G_dry) P_wet at the end of each pulse"),
        "conductance_before": ("nS", "conductance at the start of each pulse"),
        "p_wet": ("1", "probability that the pore is wet at the end of each pulse"),
        "p_wet_before": ("1", "probability that the pore is wet at the start of each pulse"),
        "k_wet": ("1/s", "wetting rate (exact MFPT)"),
        "k_dry": ("1/s", "drying rate (exact MFPT)"),
    })
    ds.attrs.update(provenance_attrs(
        "langevin.pulses (two-state master equation, exact per piece)", inputs,
        {"amplitude_V": float(amplitude), "width_s": float(width), "count": int(count),
         "g_dry_S": conductance.g_dry, "g_wet_S": conductance.g_wet},
    ))
    ds.attrs.update(model.summary_attrs())
    ds.attrs.update(
        amplitude=float(amplitude), width=float(width), temperature=float(model.temperature),
        drying_time=1.0 / k_off[1], relaxation_time=1.0 / sum(k_off),
        pulse_relaxation_time=1.0 / sum(k_on),
    )
    return ds


def plot_pulses(pulses: xr.Dataset, path: str | Path) -> Path:
    """Conductance after each pulse per interval (left) and after the train vs interval (right).

    Parameters
    ----------
    pulses : xarray.Dataset
        Output of :func:`pulse_response`.
    path : str or Path
        Image file to write (PNG, PDF, SVG).

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_train, ax_interval) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    intervals = pulses["interval"].values
    cmap = plt.get_cmap("viridis")
    for k, interval in enumerate(intervals):
        colour = cmap(k / max(1, intervals.size - 1))
        ax_train.plot(pulses["pulse"], pulses["conductance"][k], "o-", color=colour, ms=3,
                      label=f"{interval:.3g} s")
    ax_train.set_xlabel("pulse")
    ax_train.set_ylabel("conductance after pulse (nS)")
    ax_train.set_title(f"{pulses.attrs['amplitude']:.3g} V, {pulses.attrs['width']:.3g} s pulses")
    ax_train.legend(fontsize=8, frameon=False, title="interval")
    ax_interval.semilogx(intervals, pulses["conductance"][:, -1], "o-", color="k",
                         label="after the last pulse")
    ax_interval.semilogx(intervals, pulses["conductance"][:, 0], "s--", color="0.5",
                         label="after the first pulse")
    ax_interval.axvline(pulses.attrs["relaxation_time"], color="tab:red", lw=1,
                        label="relaxation time at 0 V")
    ax_interval.set_xlabel("interval between pulses (s)")
    ax_interval.set_ylabel("conductance (nS)")
    ax_interval.set_title("learning (short) and forgetting (long intervals)")
    ax_interval.legend(fontsize=8, frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
