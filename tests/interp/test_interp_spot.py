"""Precision, recall and run consistency of reported findings (SPOT-style metrics)."""

import math

import numpy as np
import pytest

from interp.judges.protocol import JudgeAnswer
from interp.verification.spot import (
    Finding,
    JudgeMatcher,
    location_matches,
    normalize_location,
    one_to_one,
    pass_at_k,
    precision_recall,
    read_findings,
    run_consistency,
    split_runs,
)

ANNOTATED = [
    Finding("Eq. (3)", "sign error in the free energy", "paper1"),
    Finding("Table 2", "rates swapped between rows", "paper1"),
    Finding("Fig. 4", "axis in wrong units", "paper1"),
    Finding("Eq. 7", "missing factor of two", "paper2"),
]


def test_location_matching_by_hand():
    reported = [
        Finding("eq 3", "wrong sign", "paper1"),  # hit
        Finding("EQ.3", "wrong sign again", "paper1"),  # duplicate: only one can match
        Finding("Fig. 4", "units", "paper2"),  # right place, wrong paper
        Finding("eq (7)", "factor two", "paper2"),  # hit
        Finding("Sec. 5", "unclear", "paper1"),  # miss
    ]
    result = precision_recall(reported, ANNOTATED)
    assert (result.n_reported, result.n_annotated, result.n_matched) == (5, 4, 2)
    assert result.precision == pytest.approx(2 / 5)
    assert result.recall == pytest.approx(2 / 4)
    assert result.f1 == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert result.found() == {0, 3}
    assert normalize_location(" Eq. (3) ") == normalize_location("eq 3") == "eq 3"


def test_empty_sides():
    nothing = precision_recall([], ANNOTATED)
    assert nothing.recall == 0 and math.isnan(nothing.precision) and math.isnan(nothing.f1)
    clean_paper = precision_recall([Finding("Eq. 1", item="paper3")], [])
    assert clean_paper.precision == 0 and math.isnan(clean_paper.recall)
    assert location_matches([], ANNOTATED).shape == (0, 4)


def test_one_to_one_is_a_maximum_matching():
    # greedy row-by-row matching would take (0, 0) and leave row 1 unmatched
    matches = np.array([[True, True], [True, False]])
    pairs = one_to_one(matches)
    assert sorted(pairs) == [(0, 1), (1, 0)]
    assert one_to_one(np.zeros((2, 3), dtype=bool)) == []


class KeywordJudge:
    """Scripted judge: same error when the descriptions share a word of 5+ letters."""

    name = "keywords"

    def __init__(self, fail_on=None):
        self.fail_on = fail_on
        self.asked = 0

    def answer(self, requests):
        out = []
        for request in requests:
            self.asked += 1
            text = request.messages[-1]["content"].lower()
            known, reported = text.split("\n")[:2]
            if self.fail_on and self.fail_on in reported:
                out.append(JudgeAnswer(None, error="malformed answer"))
                continue
            words = lambda s: {w for w in s.split(":", 1)[1].split() if len(w) >= 5}
            out.append(JudgeAnswer(int(bool(words(known) & words(reported)))))
        return out


def test_judge_decides_matches_across_locations():
    reported = [
        Finding("page 2", "the free energy has the wrong sign", "paper1"),  # same error, elsewhere
        Finding("Table 2", "typo in caption", "paper1"),  # same place, different error
        Finding("Eq. 7", "dropped factor of two", "paper2"),
    ]
    judge = KeywordJudge()
    result = precision_recall(reported, ANNOTATED, JudgeMatcher(judge))
    assert sorted(result.pairs) == [(0, 0), (2, 3)]
    assert judge.asked == 2 * 3 + 1 * 1  # only pairs within the same paper
    by_location = precision_recall(reported, ANNOTATED)
    assert sorted(by_location.pairs) == [(1, 1), (2, 3)]
    strict = JudgeMatcher(KeywordJudge(), same_location_only=True)
    assert sorted(precision_recall(reported, ANNOTATED, strict).pairs) == [(2, 3)]
    failing = JudgeMatcher(KeywordJudge(fail_on="dropped"))
    assert precision_recall(reported, ANNOTATED, failing).n_matched == 1
    assert failing.failures == 1


def test_repeated_runs():
    runs = [
        [Finding("Eq. 3", item="paper1"), Finding("Table 2", item="paper1")],
        [Finding("Eq. 3", item="paper1"), Finding("Sec. 1", item="paper1")],
        [Finding("Eq. 3", item="paper1"), Finding("Eq. 7", item="paper2")],
        [],
    ]
    summary = run_consistency(runs, ANNOTATED)
    assert summary.detection_rate.tolist() == [0.75, 0.25, 0.0, 0.25]
    assert summary.mean_recall == pytest.approx((2 + 1 + 2 + 0) / 4 / 4)
    assert summary.mean_precision == pytest.approx((1 + 0.5 + 1) / 3)  # the empty run is left out
    assert summary.pass_at(1) == pytest.approx(summary.mean_recall)
    assert summary.pass_at(4) == pytest.approx(3 / 4)
    assert summary.found_by_all == 0.0
    assert summary.consistency == pytest.approx((0.75 + 0.25 + 0.25) / 3)
    # Jaccard of found sets {0,1}, {0}, {0,3}, {}: pairs 1/2, 1/3, 0, 1/2, 0, 0
    assert summary.mean_jaccard == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 6)
    assert summary.summary()["pass@4"] == pytest.approx(0.75)


def test_pass_at_k_formula():
    assert pass_at_k(5, 0, 3) == 0
    assert pass_at_k(5, 5, 1) == 1
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)
    assert pass_at_k(4, 3, 2) == 1
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_reading_findings(tmp_path):
    lines = tmp_path / "reported.jsonl"
    lines.write_text(
        '{"location": "Eq. 3", "item": "paper1", "run": 1}\n\n'
        '{"location": "Eq. 7", "item": "paper2", "run": 0}\n'
        '{"location": "Fig. 1", "item": "paper1", "run": 1}\n'
    )
    runs = split_runs(read_findings(lines))
    assert [len(r) for r in runs] == [1, 2]
    assert runs[0][0] == Finding("Eq. 7", "", "paper2")
    bad = tmp_path / "bad.json"
    bad.write_text('[{"description": "no place"}]')
    with pytest.raises(KeyError, match="location"):
        read_findings(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_findings(bad)
    with pytest.raises(FileNotFoundError):
        read_findings(tmp_path / "missing.json")
