"""MD benchmark: ns/day of the quick and production pore systems, with and without
the CV restraint and the field, in the same run.

Run ``python benchmarks/bench_md.py [--steps N] [--platform NAME] [--systems quick,production]``.
For each system it times, on one context per variant (same positions, same
integrator settings):

* ``plain``: water, ions and wall only (the baseline);
* ``+cv``: plus the restrained water count (CustomCVForce), the CV read every
  ``cv_stride`` steps as a window run does;
* ``+cv+field``: plus the uniform field.

and prints ns/day and the cost of the extra forces relative to the baseline
(target on CPU: at most 10 %). Variants are timed in interleaved rounds and the
best round is kept, which damps the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from langevin.plots import format_table
from md_setups.builder import build_system
from md_setups.forces import add_cv_restraint, add_field
from md_setups.platforms import choose_platform
from md_setups.setup import load_setup


def make_context(setup, built, variant: str, platform, properties):
    """A context of one variant, minimised briefly and thermalised."""
    import openmm

    system = copy.deepcopy(built.system)
    restraint = None
    if variant in ("+cv", "+cv+field"):
        index = add_cv_restraint(system, setup.cv, built.oxygen_indices,
                                 setup["windows"]["spring_constant"], float(setup.targets[-1]) / 2)
        restraint = system.getForce(index)
    if variant == "+cv+field":
        add_field(system, 1.0, setup.box_height)
    sim = setup["simulation"]
    integrator = openmm.LangevinMiddleIntegrator(sim["temperature"], sim["friction"], sim["timestep"])
    integrator.setRandomNumberSeed(1)
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 200)
    context.setVelocitiesToTemperature(sim["temperature"], 1)
    integrator.step(50)
    return context, integrator, restraint


def time_variant(context, integrator, restraint, steps: int, stride: int) -> float:
    """Seconds for ``steps`` steps, reading the CV every ``stride`` steps when present."""
    start = time.perf_counter()
    if restraint is None:
        for _ in range(steps // stride):
            integrator.step(stride)
    else:
        for _ in range(steps // stride):
            integrator.step(stride)
            restraint.getCollectiveVariableValues(context)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per timing round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--platform", default="auto")
    parser.add_argument("--systems", default="quick,production")
    args = parser.parse_args()

    rows = []
    for name in args.systems.split(","):
        setup = load_setup(name)
        built = build_system(setup)
        sim = setup["simulation"]
        platform, properties = choose_platform(args.platform, sim["precision"], sim["threads"])
        variants = ("plain", "+cv", "+cv+field")
        contexts = {v: make_context(setup, built, v, platform, properties) for v in variants}
        stride = setup["run"]["cv_stride"]
        steps = max(stride, args.steps // stride * stride)
        best = {v: np.inf for v in variants}
        for _ in range(args.rounds):
            for variant in variants:
                best[variant] = min(best[variant], time_variant(*contexts[variant], steps, stride))
        for variant in variants:
            ns_day = steps * sim["timestep"] / best[variant] * 86400 / 1000
            cost = best[variant] / best["plain"] - 1.0
            rows.append([name, str(built.info["n_atoms"]), platform.getName(), variant,
                         f"{ns_day:.1f}", "baseline" if variant == "plain" else f"{100 * cost:+.1f} %"])
    print(format_table(["system", "atoms", "platform", "variant", "ns/day", "cost vs plain"], rows))


if __name__ == "__main__":
    main()
