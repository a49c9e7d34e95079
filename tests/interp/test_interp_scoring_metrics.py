"""Explanation-score metrics against brute-force and hand-computed references."""

import itertools
import math

import numpy as np
import pytest

from interp.scorers.metrics import (
    auc,
    balanced_accuracy,
    binary_metrics,
    concatenated_pearson,
    confusion,
    f1_score,
    pearson,
    precision,
    recall,
)


def _auc_pairs(labels, scores):
    pos = [s for s, y in zip(scores, labels, strict=False) if y]
    neg = [s for s, y in zip(scores, labels, strict=False) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_confusion_counts_and_ratios():
    labels = [1, 1, 1, 0, 0, 0, 0, 1]
    preds = [1, 0, 1, 1, 0, 0, 0, 1]
    assert confusion(labels, preds) == (3, 1, 3, 1)
    assert precision(labels, preds) == pytest.approx(3 / 4)
    assert recall(labels, preds) == pytest.approx(3 / 4)
    assert f1_score(labels, preds) == pytest.approx(6 / 8)
    assert balanced_accuracy(labels, preds) == pytest.approx(0.5 * (3 / 4 + 3 / 4))
    # imbalanced: always answering 1 is not rewarded by balanced accuracy
    assert balanced_accuracy([1] * 9 + [0], [1] * 10) == pytest.approx(0.5)


def test_undefined_ratios_are_nan():
    assert math.isnan(precision([1, 0], [0, 0]))
    assert math.isnan(recall([0, 0], [1, 0]))
    assert math.isnan(auc([1, 1], [0.2, 0.3]))
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("seed", range(4))
def test_auc_matches_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 40)
    labels[:2] = [0, 1]
    scores = rng.integers(0, 5, 40).astype(float)  # many ties
    assert auc(labels, scores) == pytest.approx(_auc_pairs(labels, scores))
    assert auc(labels, -scores) == pytest.approx(1 - _auc_pairs(labels, scores))


def test_concatenated_pearson_is_pearson_of_concatenation():
    rng = np.random.default_rng(0)
    pred = [rng.normal(size=n) for n in (3, 7, 5)]
    true = [rng.normal(size=n) for n in (3, 7, 5)]
    expected = np.corrcoef(np.concatenate(pred), np.concatenate(true))[0, 1]
    assert concatenated_pearson(pred, true) == pytest.approx(expected)
    # not the mean of per-example correlations
    per_example = np.mean([np.corrcoef(p, t)[0, 1] for p, t in zip(pred, true, strict=False)])
    assert concatenated_pearson(pred, true) != pytest.approx(per_example)
    with pytest.raises(ValueError, match="example 1"):
        concatenated_pearson(pred, [true[0], true[0], true[2]])


def test_binary_metrics_and_input_checks():
    m = binary_metrics([1, 0, 1, 0], [1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])
    assert all(
        m[k] == 1.0 for k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc")
    )
    assert math.isnan(binary_metrics([1, 0], [1, 0])["auc"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        recall([2, 0], [1, 0])
    with pytest.raises(ValueError, match="differ"):
        recall([1, 0, 1], [1, 0])
