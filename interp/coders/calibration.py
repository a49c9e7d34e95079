"""Choosing the L1 coefficient of a ReLU coder to reach a target sparsity.

Comparisons between TopK and ReLU+L1 coders are only fair at matched L0.
TopK fixes L0 through ``k``; for ReLU coders L0 falls as the L1 coefficient
grows, so the coefficient is found by bisection on its logarithm, training a
coder at every probe with the same settings as the final run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from torch import Tensor
from tqdm.auto import tqdm

from interp.coders.config import CoderConfig
from interp.coders.metrics import evaluate
from interp.coders.training import TrainConfig, TrainResult, train_coder


@dataclass(frozen=True)
class Probe:
    """One trained probe of the bisection."""

    l1_coefficient: float
    l0: float
    fvu: float


@dataclass
class L1Calibration:
    """Outcome of :func:`match_l0_by_l1`.

    Attributes
    ----------
    l1_coefficient : float
        Chosen coefficient (the probe whose L0 is closest to the target).
    l0 : float
        Whole-dataset L0 of the coder trained with it.
    target_l0 : float
        The requested L0.
    result : TrainResult
        The coder trained at the chosen coefficient.
    probes : list of Probe
        Every probe, in the order tried.
    """

    l1_coefficient: float
    l0: float
    target_l0: float
    result: TrainResult
    probes: list[Probe] = field(default_factory=list)

    @property
    def relative_error(self) -> float:
        """``|L0 - target| / target``."""
        return abs(self.l0 - self.target_l0) / self.target_l0


def match_l0_by_l1(
    x: Tensor,
    *,
    target_l0: float,
    coder_config: CoderConfig,
    train_config: TrainConfig,
    seed: int = 0,
    low: float = 1e-3,
    high: float = 10.0,
    rel_tol: float = 0.05,
    max_probes: int = 12,
    progress: bool = True,
) -> L1Calibration:
    """Bisect ``log10`` of the L1 coefficient until the trained L0 hits a target.

    L0 is measured on all of ``x`` after training. The bracket ``[low, high]``
    is widened by factors of 10 (counted as probes) if it does not contain the
    target.

    Parameters
    ----------
    x : Tensor, shape (n, d)
        Training activations (autoencoding).
    target_l0 : float
        Desired mean number of active latents per row.
    coder_config : CoderConfig
        A ReLU coder configuration.
    train_config : TrainConfig
        Settings of every probe; its ``l1_coefficient`` is overridden.
    seed : int
        Initialisation seed of the probes.
    low, high : float
        Initial bracket of the coefficient.
    rel_tol : float
        Stop when ``|L0 - target| / target <= rel_tol``.
    max_probes : int
        Maximum number of coders trained.
    progress : bool
        Show a progress bar over probes.

    Returns
    -------
    L1Calibration
    """
    if coder_config.activation != "relu":
        raise ValueError("L1 calibration needs a ReLU coder configuration")
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got {low} and {high}")
    if target_l0 <= 0:
        raise ValueError(f"target_l0 must be > 0, got {target_l0}")

    probes: list[Probe] = []
    best: dict[str, TrainResult] = {}
    bar = tqdm(total=max_probes, desc="L1 bisection", disable=not progress, leave=False)

    def probe(coef: float) -> float:
        cfg = dataclasses.replace(train_config, l1_coefficient=coef)
        result = train_coder(
            x, coder_config=coder_config, train_config=cfg, seed=seed, progress=False
        )
        ev = evaluate(result.coder, x)
        if not probes or abs(ev.l0 - target_l0) < min(abs(p.l0 - target_l0) for p in probes):
            best["result"] = result
        probes.append(Probe(coef, ev.l0, ev.fvu))
        bar.update(1)
        bar.set_postfix(l1=f"{coef:.3g}", l0=f"{ev.l0:.2f}")
        return ev.l0

    def close_enough(l0: float) -> bool:
        return abs(l0 - target_l0) <= rel_tol * target_l0

    log_lo, log_hi = math.log10(low), math.log10(high)
    l0_lo = probe(low)
    # Widen the bracket until the low end is dense enough and the high end sparse enough.
    while l0_lo < target_l0 and not close_enough(l0_lo) and len(probes) < max_probes:
        log_lo -= 1.0
        l0_lo = probe(10**log_lo)
    if not close_enough(l0_lo) and len(probes) < max_probes:
        l0_hi = probe(10**log_hi)
        while l0_hi > target_l0 and not close_enough(l0_hi) and len(probes) < max_probes:
            log_lo, log_hi = log_hi, log_hi + 1.0
            l0_hi = probe(10**log_hi)
        while not close_enough(probes[-1].l0) and len(probes) < max_probes:
            log_mid = 0.5 * (log_lo + log_hi)
            if probe(10**log_mid) > target_l0:
                log_lo = log_mid
            else:
                log_hi = log_mid
    bar.close()

    closest = min(probes, key=lambda p: abs(p.l0 - target_l0))
    return L1Calibration(
        l1_coefficient=closest.l1_coefficient,
        l0=closest.l0,
        target_l0=target_l0,
        result=best["result"],
        probes=probes,
    )
