"""Summaries of per-latent scores across latents: mean and a seeded bootstrap interval."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class MeanInterval:
    """The mean of per-latent values and a bootstrap confidence interval of it.

    Attributes
    ----------
    mean : float
        Mean over the finite values (``nan`` when there are none).
    low, high : float
        Percentile bootstrap interval of the mean (``nan`` with fewer than two values).
    n : int
        Number of finite values used.
    level : float
        Confidence level of the interval.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float


def bootstrap_mean(
    values: ArrayLike,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
) -> MeanInterval:
    """Mean of ``values`` with a percentile bootstrap interval (resampling the values).

    Non-finite values (a latent whose metric is undefined) are left out and
    not counted.

    Parameters
    ----------
    values : array_like, shape (n,)
        One value per latent (in the metric's units).
    level : float
        Confidence level, in (0, 1).
    n_resamples : int
        Bootstrap resamples.
    seed : int or numpy.random.Generator
        Randomness of the resamples (same seed, same interval).

    Returns
    -------
    MeanInterval
    """
    from scipy.stats import bootstrap

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return MeanInterval(math.nan, math.nan, math.nan, 0, level)
    mean = float(x.mean())
    if x.size < 2:
        return MeanInterval(mean, math.nan, math.nan, 1, level)
    if np.all(x == x[0]):
        return MeanInterval(mean, mean, mean, int(x.size), level)
    result = bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return MeanInterval(mean, float(ci.low), float(ci.high), int(x.size), level)


@dataclass(frozen=True)
class ScorerSummary:
    """One scorer's headline metric summarised across latents.

    Attributes
    ----------
    scorer : str
        Scorer name.
    metric : str
        The headline metric summarised.
    interval : MeanInterval
        Mean and bootstrap interval across latents.
    n_latents : int
        Latents scored (including those whose metric is undefined).
    n_failed, n_items : int
        Failed judge answers and questions asked, over all latents.
    """

    scorer: str
    metric: str
    interval: MeanInterval
    n_latents: int
    n_failed: int
    n_items: int

    def row(self) -> list[str]:
        """Cells of the summary table."""
        iv = self.interval
        interval = "-" if math.isnan(iv.low) else f"[{iv.low:.3f}, {iv.high:.3f}]"
        return [
            self.scorer,
            self.metric,
            f"{iv.n}/{self.n_latents}",
            f"{iv.mean:.3f}",
            interval,
            f"{self.n_failed}/{self.n_items}",
        ]


SUMMARY_HEADERS = ("scorer", "metric", "latents", "mean", "95% interval", "failed")


def summarize_scores(
    results: Sequence[Any],
    headline: Mapping[str, str],
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> list[ScorerSummary]:
    """Summarise each scorer's headline metric across latents.

    Parameters
    ----------
    results : sequence of ScoreResult
        Per-latent results (any objects with ``scorer``, ``metrics``,
        ``n_failed`` and ``n_items``).
    headline : mapping of str to str
        The metric summarised for each scorer.
    level, n_resamples : optional
        As in :func:`bootstrap_mean`.
    seed : int
        Seed of the bootstrap; each scorer draws from ``[seed, index]``.

    Returns
    -------
    list of ScorerSummary
        In the order scorers first appear in ``results``.
    """
    by_scorer: dict[str, list[Any]] = {}
    for r in results:
        by_scorer.setdefault(r.scorer, []).append(r)
    out = []
    for index, (scorer, rows) in enumerate(by_scorer.items()):
        metric = headline[scorer]
        values = [r.metrics.get(metric, math.nan) for r in rows]
        interval = bootstrap_mean(
            values, level=level, n_resamples=n_resamples, seed=np.random.default_rng([seed, index])
        )
        out.append(
            ScorerSummary(
                scorer,
                metric,
                interval,
                len(rows),
                sum(r.n_failed for r in rows),
                sum(r.n_items for r in rows),
            )
        )
    return out
