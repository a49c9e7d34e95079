"""The one-page report of a pipeline run: ``report.md`` and ``report.html``.

Built from the run directory's datasets and manifest only, so it can be rebuilt
at any time without rerunning anything.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nanopore.manifest import Manifest

_FIGURES = (
    ("fes.png", "Free-energy profiles with bootstrap error bands per voltage, D(N), window "
                "histograms and overlap."),
    ("rates.png", "Wetting and drying rates against voltage (exact mean first-passage times)."),
    ("loops.png", "Memristor I-V loops at several drive frequencies, and loop area against "
                  "frequency."),
    ("cycles.png", "Pressure-volume intrusion/extrusion cycles at several ramp rates."),
)


def _open(path: Path):
    import xarray as xr

    return xr.open_dataset(path, engine="h5netcdf")


def summary_rows(out: Path, setup: Any, manifest: Manifest) -> list[tuple[str, str]]:
    """The summary table: (quantity, value with units) pairs."""
    rows: list[tuple[str, str]] = [("setup", str(setup.source))]
    build = out / "md" / "build" / "build.json"
    n_full = None
    if build.exists():
        info = json.loads(build.read_text())
        rows.append(("system", f"{info['n_atoms']} atoms: {info['n_water']} waters, "
                               f"{info['n_potassium']} K+, {info.get('n_chloride', '?')} Cl-, "
                               f"{info['n_wall']} wall sites"))
        salt = info.get("salt")
        if salt:
            rows.append(("salt", f"{salt['molarity_mol_l']:.3f} mol/L, {salt['molality_mol_kg']:.3f} "
                                 f"mol/kg ({salt['n_reservoir_water']} reservoir waters)"))
        lining = info.get("lining_radius_nm")
        full = info.get("full_pore") or {}
        if lining:
            text = f"lining radius {lining['mean']:.3f} nm ({info.get('lining', 'lattice')})"
            if full.get("accessible_radius_nm") is not None:
                text += f", water-accessible radius {full['accessible_radius_nm']:.3f} nm"
            rows.append(("pore radii", text))
        if full and full.get("n_full") is not None:
            n_full = float(full["n_full"])
        if full:
            rows.append(("full pore", f"N = {full['n_full']:.2f} +- {full['n_full_error']:.2f} "
                                      f"molecules at {full.get('voltage', 0):g} V "
                                      f"({full['wet_plateau_ps']:.1f} ps wet"
                                      f"{', then it dried' if full.get('dried') else ''})"))
        charge = info.get("pore_charge") or {}
        if charge.get("net_charge_e"):
            rows.append(("pore charge", f"{charge['net_charge_e']:+g} e, dipole "
                                        f"{charge['dipole_z_debye']:+.1f} D along z"))
    rows.append(("pore", f"R = {setup['pore']['radius']} nm, L = {setup['pore']['length']} nm, "
                         f"wall-oxygen epsilon = {setup['wall']['epsilon']} kJ/mol"))
    rows.append(("windows", f"{len(setup.targets)} per voltage at {setup.voltages.tolist()} V; "
                            f"{setup['run']['production']} ps production each"))
    md = manifest.stage("md")
    if md:
        rows.append(("MD wall time", f"{md['wall_s']:.0f} s ({md.get('scheduler', 'sequential')})"))
    if (out / "profile.nc").exists():
        with _open(out / "profile.nc") as profile:
            rows.append(("profile", f"{profile.sizes['n']} grid points, N = "
                                    f"{float(profile['n'][0]):.2f} to {float(profile['n'][-1]):.2f}; "
                                    f"method {setup['pipeline']['fes_method']}"))
            if "voltage" in profile.dims:
                grid = profile["n"].values
                # the full pore as measured in the wet build, else the grid's end
                at = int(np.argmin(np.abs(grid - n_full))) if n_full is not None else grid.size - 1
                label = "full pore" if n_full is not None else "grid end"
                for voltage in profile["voltage"].values:
                    row = profile.sel(voltage=voltage)
                    free_energy = row["free_energy"].values
                    value = f"{free_energy[at]:.2f}"
                    if "free_energy_error" in row:
                        value += f" +- {float(row['free_energy_error'].values[at]):.2f}"
                    rows.append((f"Omega at {voltage:g} V",
                                 f"{value} kT at N = {grid[at]:.2f} ({label}); highest "
                                 f"{np.nanmax(free_energy):.2f} kT (0 at the dry minimum)"))
    holdout = manifest.stage("voltage_model").get("holdout_rms_kT") or {}
    for voltage, error in holdout.items():
        rows.append((f"held-out {voltage} V", f"predicted within {error:.2f} kT rms"))
    if (out / "rates.nc").exists():
        with _open(out / "rates.nc") as rates:
            for voltage in sorted({float(rates.voltage[0]), float(rates.voltage[-1])}):
                row = rates.sel(voltage=voltage, method="nearest")
                states = ""
                if "n_dry" in rates and "n_wet" in rates:
                    states = (f" (between N = {float(row.n_dry):.2f} and "
                              f"{float(row.n_wet):.2f})")
                bounds = {name: (f" ({rates.attrs.get('confidence', 0.95):.0%}: "
                                 f"{float(row[name + '_lower']):.3g}-"
                                 f"{float(row[name + '_upper']):.3g})"
                                 if f"{name}_lower" in rates else "")
                          for name in ("k_wet", "k_dry")}
                rows.append((f"rates at {float(row.voltage):g} V",
                             f"k_wet = {float(row.k_wet):.3g}{bounds['k_wet']} 1/s, "
                             f"k_dry = {float(row.k_dry):.3g}{bounds['k_dry']} 1/s{states}"))
            if "k_wet_lower" in rates:
                rows.append(("rate intervals",
                             f"{rates.attrs.get('interval_method', 'bootstrap')}: they "
                             "correct for the bias that noise in Omega gives the "
                             "rates, so an interval can lie beside its estimate"))
            ratio = np.log(rates["k_wet"].values) - np.log(rates["k_dry"].values)
            crossing = np.flatnonzero(np.diff(np.sign(ratio)) != 0)
            if crossing.size:
                k = crossing[0]
                v = rates.voltage.values
                v_cross = v[k] - ratio[k] * (v[k + 1] - v[k]) / (ratio[k + 1] - ratio[k])
                rows.append(("k_wet = k_dry at", f"{v_cross:.3f} V"))
    loops = manifest.stage("loops")
    if loops:
        rows.append(("I-V loops", f"amplitude {loops['amplitude_V']:g} V; largest normalised area "
                                  f"{loops['largest_area']:.3f} at "
                                  f"{loops['largest_area_frequency_Hz']:.3g} Hz"))
    if (out / "cycles.nc").exists():
        with _open(out / "cycles.nc") as cycles:
            pressures = np.atleast_1d(cycles["intrusion_pressure"].values).ravel()
            rows.append(("intrusion pressure", ", ".join(f"{p:.1f}" for p in pressures) + " MPa"))
    return rows


def write_report(out: str | os.PathLike, setup: Any, manifest: Manifest) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into the run directory.

    Parameters
    ----------
    out : path-like
        Run directory.
    setup : md_setups.setup.Setup
    manifest : Manifest

    Returns
    -------
    list of Path
    """
    out = Path(out)
    rows = summary_rows(out, setup, manifest)
    notes = [f"{stage}: {note}" for stage, record in manifest.data["stages"].items()
             for note in record.get("notes", [])]
    figures = [(name, caption) for name, caption in _FIGURES if (out / name).exists()]
    datasets = sorted(p.name for p in out.glob("*.nc"))

    md_lines = [f"# Pore report: {setup.name}", "", "| quantity | value |", "| --- | --- |"]
    md_lines += [f"| {key} | {value} |" for key, value in rows]
    md_lines += ["", "## Figures", ""]
    for name, caption in figures:
        md_lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    md_lines += ["## Datasets", ""] + [f"- `{name}`" for name in datasets]
    if notes:
        md_lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    md_lines += ["", "Inputs, versions and seeds: `manifest.json`.", ""]
    markdown = out / "report.md"
    markdown.write_text("\n".join(md_lines))

    esc = html.escape
    body = [f"<h1>Pore report: {esc(setup.name)}</h1>", "<table>"]
    body += [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows]
    body += ["</table>", "<h2>Figures</h2>"]
    for name, caption in figures:
        body += [f'<figure><img src="{esc(name)}" alt="{esc(caption)}">'
                 f"<figcaption>{esc(caption)}</figcaption></figure>"]
    body += ["<h2>Datasets</h2><ul>"] + [f"<li><code>{esc(n)}</code></li>" for n in datasets]
    body += ["</ul>"]
    if notes:
        body += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(n)}</li>" for n in notes] + ["</ul>"]
    body += ["<p>Inputs, versions and seeds: <code>manifest.json</code>.</p>"]
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:left}img{max-width:100%}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Pore report: "
            f"{esc(setup.name)}</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    html_path = out / "report.html"
    html_path.write_text(page)
    return [markdown, html_path]
