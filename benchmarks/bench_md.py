"""MD benchmark: ns/day of the quick and production pore systems, with and without
pressure control, the CV restraint and the field, in the same run.

Run ``python benchmarks/bench_md.py [--steps N] [--platform NAME] [--systems quick,production]``.
For each system it times, on one context per variant (same positions, same
integrator settings):

* ``plain``: water, ions and wall only (the baseline);
* ``+cv``: plus the restrained water count (CustomCVForce), the CV read every
  ``cv_stride`` steps as a window run does;
* ``+cv+field``: plus the uniform field (the field's box height kept current
  every ``cv_stride`` steps, as a window run does);
* ``+barostat``: plain plus the z-only Monte Carlo barostat (the rigid wall
  bound into one molecule);
* ``+barostat+cv+field``: everything a window run adds, with the box height
  read every CV sample and P_zz every ``pressure_stride`` steps, as a window
  run does.

and prints ns/day and the cost of the extra forces relative to the baseline,
and of pressure control on its own (target on CPU: at most 10 %). Variants are
timed in interleaved rounds: ns/day is that of the best round, and each cost is
the median over rounds of the ratio of two variants timed in the same round
(with the range over rounds), which cancels most of the drift of a shared
machine; the best-round ratio is shown too.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from langevin.plots import format_table
from md_setups.builder import build_system
from md_setups.forces import add_barostat, add_cv_restraint, add_field, sync_box_height
from md_setups.runner import pressure_every
from md_setups.platforms import choose_platform
from md_setups.setup import load_setup, validate_setup


def make_context(setup, built, variant: str, platform, properties):
    """A context of one variant, minimised briefly and thermalised."""
    import openmm

    system = copy.deepcopy(built.system)
    restraint = barostat = None
    if "+barostat" in variant:
        sim = setup["simulation"]
        barostat = system.getForce(add_barostat(system, sim["pressure"], sim["temperature"],
                                                sim["barostat_interval"]))
    if "+cv" in variant:
        index = add_cv_restraint(system, setup.cv, built.oxygen_indices,
                                 setup["windows"]["spring_constant"], float(setup.targets[-1]) / 2)
        restraint = system.getForce(index)
    if "+field" in variant:
        add_field(system, 1.0, setup.box_height)
    sim = setup["simulation"]
    integrator = openmm.LangevinMiddleIntegrator(sim["temperature"], sim["friction"], sim["timestep"])
    integrator.setRandomNumberSeed(1)
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 200)
    context.setVelocitiesToTemperature(sim["temperature"], 1)
    integrator.step(50)
    return context, integrator, restraint, barostat, "+field" in variant


def time_variant(context, integrator, restraint, barostat, field: bool, steps: int,
                 stride: int, every: int) -> float:
    """Seconds for ``steps`` steps, doing every ``stride`` steps what a window run does."""
    start = time.perf_counter()
    for sample in range(steps // stride):
        integrator.step(stride)
        if field:
            sync_box_height(context)
        if restraint is not None:
            restraint.getCollectiveVariableValues(context)
        if barostat is not None and restraint is not None and (sample + 1) % every == 0:
            barostat.computeCurrentPressure(context)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--platform", default="auto")
    parser.add_argument("--systems", default="quick,production")
    parser.add_argument("--barostat-interval", type=int, default=0,
                        help="steps between barostat trials (default: the setup's)")
    args = parser.parse_args()

    rows = []
    for name in args.systems.split(","):
        setup = load_setup(name)
        if args.barostat_interval:
            values = copy.deepcopy(setup.values)
            values["simulation"]["barostat_interval"] = args.barostat_interval
            setup = validate_setup(values, source=setup.source)
        built = build_system(setup, full_pore=False)
        sim = setup["simulation"]
        platform, properties = choose_platform(args.platform, sim["precision"], sim["threads"])
        variants = ("plain", "+cv", "+cv+field", "+barostat", "+barostat+cv+field")
        contexts = {v: make_context(setup, built, v, platform, properties) for v in variants}
        stride = setup["run"]["cv_stride"]
        every = pressure_every(setup)
        steps = max(stride, args.steps // stride * stride)
        times = {v: [] for v in variants}
        for _ in range(args.rounds):
            for variant in variants:
                times[variant].append(time_variant(*contexts[variant], steps, stride, every))
        times = {v: np.array(t) for v, t in times.items()}

        def cost(variant: str, reference: str) -> str:
            ratio = times[variant] / times[reference] - 1.0
            best_ratio = times[variant].min() / times[reference].min() - 1.0
            return (f"{100 * np.median(ratio):+.1f} % ({100 * ratio.min():+.1f} .. "
                    f"{100 * ratio.max():+.1f}; best rounds {100 * best_ratio:+.1f})")

        for variant in variants:
            ns_day = steps * sim["timestep"] / times[variant].min() * 86400 / 1000
            rows.append([name, str(built.info["n_atoms"]), platform.getName(), variant,
                         f"{ns_day:.1f}", "baseline" if variant == "plain" else cost(variant, "plain")])
        rows.append([name, "", "", "pressure control alone", "",
                     cost("+barostat+cv+field", "+cv+field") + " vs +cv+field"])
    print(format_table(["system", "atoms", "platform", "variant", "ns/day (best)",
                        "cost: median over rounds (range; best rounds)"], rows))


if __name__ == "__main__":
    main()
