"""Figures of kinetic results: I-V loops, loop area vs frequency, rates vs voltage, P-V cycles.

matplotlib is imported lazily with the non-interactive Agg backend, so the functions
work on clusters without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loops(loops: xr.Dataset, path: str | Path) -> Path:
    """I-V loops coloured by frequency (left) and loop area vs frequency (right).

    Frequencies above the dataset's ``static_limit_frequency`` are shaded (the
    static profile does not describe the pore there); loops that did not become
    periodic within the tolerance are crossed out.

    Parameters
    ----------
    loops : xarray.Dataset
        Output of :func:`langevin.hysteresis.memristor_loops`.
    path : str or Path
        Image file to write (PNG, PDF, SVG).

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    fig, (ax_iv, ax_area) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    freqs = loops["frequency"].values
    cmap = plt.get_cmap("viridis")
    for k, f in enumerate(freqs):
        colour = cmap(k / max(1, freqs.size - 1))
        ax_iv.plot(loops["voltage"][k], loops["current"][k] * 1e9, color=colour, lw=1.5,
                   label=f"{f:.3g} Hz")
    ax_iv.axhline(0, color="0.7", lw=0.5)
    ax_iv.axvline(0, color="0.7", lw=0.5)
    ax_iv.set_xlabel("voltage (V)")
    ax_iv.set_ylabel("current (nA)")
    ax_iv.set_title("I-V loops")
    ax_iv.legend(fontsize=8, frameon=False)
    ax_area.semilogx(freqs, loops["loop_area"], "o-", color="k")
    if "loop_area_lower" in loops:  # confidence band (langevin.uncertainty)
        ax_area.fill_between(freqs, loops["loop_area_lower"], loops["loop_area_upper"],
                             color="k", alpha=0.15, lw=0,
                             label=f"{loops.attrs.get('confidence', float('nan')):.0%} interval")
        ax_area.legend(fontsize=8, frameon=False)
    limit = loops.attrs.get("static_limit_frequency")
    if limit is not None and np.isfinite(limit) and freqs.max() > limit:
        # beyond the static profile's validity (langevin.validity): shaded, not trusted
        ax_area.axvspan(limit, freqs.max() * 2.0, color="0.85", zorder=0,
                        label="beyond the static profile")
        ax_area.set_xlim(freqs.min() / 2.0, freqs.max() * 2.0)
        ax_area.legend(fontsize=8, frameon=False)
    if "converged" in loops and not bool(loops["converged"].all()):
        bad = loops["converged"].values == 0
        ax_area.plot(freqs[bad], loops["loop_area"].values[bad], "x", color="tab:red", ms=8,
                     label="not periodic within tolerance")
        ax_area.legend(fontsize=8, frameon=False)
    ax_area.set_xlabel("drive frequency (Hz)")
    ax_area.set_ylabel("normalised loop area")
    ax_area.set_title(f"V0 = {loops.attrs.get('amplitude', float('nan')):.3g} V")
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_rates(rates: xr.Dataset, path: str | Path) -> Path:
    """Wetting and drying rates vs voltage on a log scale.

    Parameters
    ----------
    rates : xarray.Dataset
        Output of :func:`langevin.rates.rates_dataset` with a ``voltage`` (or
        ``pressure``) dimension; ``k_wet_lower`` ... ``k_dry_upper`` are drawn as bands.
    path : str or Path
        Image file to write.

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
    key = "voltage" if "voltage" in rates.dims else "pressure"
    v = rates[key].values
    for name, colour, label in (("k_wet", "tab:blue", "wetting"), ("k_dry", "tab:red", "drying")):
        error = rates.get(f"{name}_error")
        if error is not None:
            ax.errorbar(v, rates[name], yerr=error, fmt="o", color=colour, label=label)
        else:
            ax.plot(v, rates[name], "o-", color=colour, label=label, ms=3)
        if f"{name}_lower" in rates:  # confidence band (langevin.uncertainty)
            ax.fill_between(v, rates[f"{name}_lower"], rates[f"{name}_upper"], color=colour,
                            alpha=0.2, lw=0,
                            label=f"{rates.attrs.get('confidence', float('nan')):.0%} interval")
    ax.set_yscale("log")
    ax.set_xlabel("voltage (V)" if key == "voltage" else "pressure (MPa)")
    ax.set_ylabel("rate (1/s)")
    ax.legend(frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_cycles(cycles: xr.Dataset, path: str | Path) -> Path:
    """P-V intrusion/extrusion cycles and intrusion/extrusion pressures vs ramp rate.

    Parameters
    ----------
    cycles : xarray.Dataset
        Output of :func:`langevin.intrusion.intrusion_cycles`.
    path : str or Path
        Image file to write.

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    fig, (ax_pv, ax_p) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    temps = cycles["temperature"].values
    rates = cycles["ramp_rate"].values
    cmap = plt.get_cmap("plasma")
    for i, temperature in enumerate(temps):
        for j, rate in enumerate(rates):
            colour = cmap((i * rates.size + j) / max(1, temps.size * rates.size - 1))
            ax_pv.plot(cycles["pressure"][i, j], cycles["intruded_volume"][i, j], color=colour,
                       label=f"{temperature:.0f} K, {rate:.3g} MPa/s")
        ax_p.semilogx(rates, cycles["intrusion_pressure"][i], "o-", label=f"intrusion {temperature:.0f} K")
        ax_p.semilogx(rates, cycles["extrusion_pressure"][i], "s--", label=f"extrusion {temperature:.0f} K")
    ax_pv.set_xlabel("pressure (MPa)")
    ax_pv.set_ylabel("intruded volume (nm$^3$)")
    ax_pv.legend(fontsize=7, frameon=False)
    ax_p.set_xlabel("ramp rate (MPa/s)")
    ax_p.set_ylabel("pressure (MPa)")
    ax_p.legend(fontsize=7, frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_interpolant(
    grid: np.ndarray,
    free_energy: np.ndarray,
    diffusion: np.ndarray,
    error: np.ndarray | None = None,
    path: str | Path | None = None,
    points_per_cell: int = 20,
):
    """The tabulated profile and the interpolant the kinetics integrate.

    Parameters
    ----------
    grid, free_energy, diffusion : ndarray
        One profile: grid (molecules), Omega (kT), D (molecules^2/ps).
    error : ndarray, optional
        Standard errors of Omega (kT), drawn as error bars.
    path : str or Path, optional
        Image file to write; None returns the figure.
    points_per_cell : int, optional
        Samples of the interpolant per cell.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    from langevin.landscape import INTERPOLANT, evaluate, refine

    plt = _pyplot()
    fig, (ax_f, ax_d) = plt.subplots(2, 1, figsize=(6, 5), sharex=True, constrained_layout=True,
                                     gridspec_kw={"height_ratios": [2, 1]})
    x, omega, _ = refine(grid, free_energy, diffusion, points_per_cell)
    ax_f.plot(x, omega, color="tab:blue", lw=1.2, label=f"interpolant ({INTERPOLANT})")
    if error is not None:
        ax_f.errorbar(grid, free_energy, yerr=error, fmt="o", color="k", ms=3, lw=0.8,
                      label="tabulated points, +-1 sigma")
    else:
        ax_f.plot(grid, free_energy, "o", color="k", ms=3, label="tabulated points")
    ax_f.set_ylabel(r"$\Omega$ (kT)")
    ax_f.legend(fontsize=8, frameon=False)
    ax_d.plot(x, evaluate(grid, free_energy, diffusion, x)[1], color="tab:red", lw=1.2)
    ax_d.plot(grid, diffusion, "o", color="k", ms=3)
    ax_d.set_yscale("log")
    ax_d.set_xlabel("N (molecules)")
    ax_d.set_ylabel(r"D (molecules$^2$/ps)")
    if path is None:
        return fig
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def format_table(header: list[str], rows: list[list[object]]) -> str:
    """Plain-text table with right-aligned columns (numbers in 4 significant digits)."""
    def cell(value: object) -> str:
        if isinstance(value, (float, np.floating)):
            return f"{value:.4g}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in text)) if text else len(h) for k, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in text]
    return "\n".join(lines)
