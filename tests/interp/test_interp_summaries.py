"""Summaries across latents (mean, seeded bootstrap interval) and the progress-bar judge."""

import io
import math
from unittest import mock

import numpy as np
import pytest

from interp.judges.protocol import JudgeRequest, OracleJudge, ProgressJudge
from interp.scorers.scoring import ScoreResult
from interp.scorers.summaries import SUMMARY_HEADERS, bootstrap_mean, summarize_scores


def test_bootstrap_interval_matches_the_normal_approximation():
    x = np.random.default_rng(1).normal(2.0, 3.0, 400)
    iv = bootstrap_mean(x, seed=0)
    half = 1.959964 * x.std(ddof=1) / math.sqrt(x.size)  # analytic 95% half-width
    assert iv.mean == pytest.approx(x.mean(), abs=1e-12) and iv.n == 400
    assert iv.low < iv.mean < iv.high
    assert (iv.high - iv.low) / 2 == pytest.approx(half, rel=0.1)
    assert (iv.low + iv.high) / 2 == pytest.approx(x.mean(), abs=0.1 * half)


def test_bootstrap_is_seeded():
    x = np.random.default_rng(2).random(30)
    assert bootstrap_mean(x, seed=5) == bootstrap_mean(x, seed=5)
    assert bootstrap_mean(x, seed=5) != bootstrap_mean(x, seed=6)


def test_bootstrap_coverage_is_near_the_level():
    rng = np.random.default_rng(3)
    hits = 0
    trials = 200
    for i in range(trials):
        iv = bootstrap_mean(rng.normal(0.0, 1.0, 60), n_resamples=1000, seed=i)
        hits += iv.low <= 0.0 <= iv.high
    assert 0.88 <= hits / trials <= 0.99  # 95% nominal; 200 trials give +-0.03 (1 sigma 0.015)


def test_bootstrap_edge_cases():
    assert bootstrap_mean([0.7, 0.7, 0.7]) == bootstrap_mean([0.7, 0.7, 0.7])
    const = bootstrap_mean([0.7, 0.7, 0.7])
    assert const.low == const.mean == const.high == pytest.approx(0.7, abs=1e-15)
    one = bootstrap_mean([0.4, math.nan])
    assert one.mean == 0.4 and one.n == 1 and math.isnan(one.low)
    none = bootstrap_mean([math.nan])
    assert none.n == 0 and math.isnan(none.mean)
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean([1.0, 2.0], level=1.5)


def test_summaries_per_scorer():
    results = [
        ScoreResult(k, "detection", "j", {"balanced_accuracy": v}, 10, k % 2)
        for k, v in enumerate([0.5, 0.7, 0.9, math.nan])
    ] + [ScoreResult(k, "intruder", "j", {"accuracy": 1.0}, 4) for k in range(3)]
    headline = {"detection": "balanced_accuracy", "intruder": "accuracy"}
    det, intr = summarize_scores(results, headline)
    assert det.interval.mean == pytest.approx(0.7) and det.interval.n == 3 and det.n_latents == 4
    assert 0.5 <= det.interval.low < 0.7 < det.interval.high <= 0.9
    assert (det.n_failed, det.n_items) == (2, 40)
    assert det.row()[:4] == ["detection", "balanced_accuracy", "3/4", "0.700"]
    assert intr.row()[4] == "[1.000, 1.000]" and len(intr.row()) == len(SUMMARY_HEADERS)


def test_progress_judge_keeps_answers_in_order_and_counts_questions():
    requests = [
        JudgeRequest(({"role": "user", "content": "q"},), "binary", truth=i % 2) for i in range(21)
    ]
    calls = []

    class Counting(OracleJudge):
        def answer(self, reqs):
            calls.append(len(reqs))
            return super().answer(reqs)

    stream = io.StringIO()
    judge = ProgressJudge(Counting(), "questions", chunk=8, disable=False)
    with mock.patch("sys.stderr", stream):
        answers = judge.answer(requests)
    assert [a.value for a in answers] == [i % 2 for i in range(21)]
    assert calls == [8, 8, 5] and judge.name == "oracle"
    assert "questions:" in stream.getvalue() and "/21 " in stream.getvalue()  # the bar drew
