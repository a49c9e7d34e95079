"""Figures of the free-energy stage: profiles, D(N), window histograms, overlap.

matplotlib is imported lazily with the Agg backend, so plots work without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.fes import FESResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fes(result: FESResult, path: str | Path) -> Path:
    """Four panels: Omega(N) with error bands per voltage, D(N) with error bands,
    the window histograms and the overlap matrix (of the lowest voltage).

    Parameters
    ----------
    result : FESResult
        Output of :func:`analysis.fes.compute_profile`.
    path : str or Path
        Image file to write (PNG, PDF, SVG).

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    ax_f, ax_d, ax_h, ax_o = axes.ravel()
    cmap = plt.get_cmap("viridis")
    n = result.profile["n"].values
    count = len(result.voltages)
    for k, item in enumerate(result.voltages):
        colour = cmap(k / max(1, count - 1)) if count > 1 else "k"
        label = f"{item.voltage:g} V"
        ax_f.plot(n, item.free_energy, color=colour, lw=1.5, label=label)
        if item.error is not None:
            ax_f.fill_between(n, item.free_energy - item.error, item.free_energy + item.error,
                              color=colour, alpha=0.25, lw=0)
        ax_d.plot(n, item.diffusion_grid, color=colour, lw=1.2, label=label)
        ax_d.fill_between(n, item.diffusion_grid - item.diffusion_error,
                          item.diffusion_grid + item.diffusion_error, color=colour, alpha=0.2, lw=0)
        positions = [d.position for d in item.diffusion]
        ax_d.errorbar(positions, [d.diffusion for d in item.diffusion],
                      yerr=[0 if not np.isfinite(d.error) else d.error for d in item.diffusion],
                      fmt="o", ms=3, color=colour)
    ax_f.set_xlabel("N (molecules)")
    ax_f.set_ylabel("free energy (kT)")
    ax_f.set_title(f"profile ({result.profile.attrs.get('method', '')}), zero at the dry minimum")
    ax_f.legend(fontsize=8, frameon=False)
    ax_d.set_xlabel("N (molecules)")
    ax_d.set_ylabel("D (molecules$^2$/ps)")
    ax_d.set_title("diffusion (Hummer), per window and interpolated")
    first = result.voltages[0]
    width = np.diff(result.edges)
    for k, counts in enumerate(first.histograms):
        ax_h.plot(n, counts / width, lw=1, color=plt.get_cmap("tab20")(k % 20))
    ax_h.set_xlabel("N (molecules)")
    ax_h.set_ylabel("samples per molecule")
    ax_h.set_title(f"window histograms at {first.voltage:g} V")
    order = np.argsort(first.independent.centers, kind="stable")
    image = ax_o.imshow(first.overlap[np.ix_(order, order)], cmap="magma", vmin=0,
                        vmax=max(0.5, float(first.overlap.max())), origin="upper")
    ax_o.set_xlabel("window (by centre)")
    ax_o.set_ylabel("window (by centre)")
    ax_o.set_title(f"overlap matrix at {first.voltage:g} V")
    fig.colorbar(image, ax=ax_o, shrink=0.8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
