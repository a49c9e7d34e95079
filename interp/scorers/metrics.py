"""Metrics of explanation scores, as pure functions of arrays (NumPy only).

Labels are 1 for activating examples (or correctly highlighted ones) and 0
otherwise. Undefined values (a ratio with a zero denominator, an AUC with a
single class) are ``nan``, never a silent 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def _binary(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    return arr.astype(bool)


def _pair(labels: ArrayLike, predictions: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _binary(labels, "labels")
    p = _binary(predictions, "predictions")
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in length")
    return y, p


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based positions start+1 .. end
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def confusion(labels: ArrayLike, predictions: ArrayLike) -> tuple[int, int, int, int]:
    """Counts ``(tp, fp, tn, fn)`` of binary predictions against labels."""
    y, p = _pair(labels, predictions)
    return (
        int((y & p).sum()),
        int((~y & p).sum()),
        int((~y & ~p).sum()),
        int((y & ~p).sum()),
    )


def accuracy(labels: ArrayLike, predictions: ArrayLike) -> float:
    """Fraction of predictions equal to the labels."""
    y, p = _pair(labels, predictions)
    return _ratio((y == p).sum(), y.size)


def recall(labels: ArrayLike, predictions: ArrayLike) -> float:
    """``tp / (tp + fn)``: fraction of positives predicted positive."""
    tp, _, _, fn = confusion(labels, predictions)
    return _ratio(tp, tp + fn)


def specificity(labels: ArrayLike, predictions: ArrayLike) -> float:
    """``tn / (tn + fp)``: fraction of negatives predicted negative."""
    _, fp, tn, _ = confusion(labels, predictions)
    return _ratio(tn, tn + fp)


def precision(labels: ArrayLike, predictions: ArrayLike) -> float:
    """``tp / (tp + fp)``: fraction of positive predictions that are right."""
    tp, fp, _, _ = confusion(labels, predictions)
    return _ratio(tp, tp + fp)


def f1_score(labels: ArrayLike, predictions: ArrayLike) -> float:
    """Harmonic mean of precision and recall, ``2 tp / (2 tp + fp + fn)``."""
    tp, fp, _, fn = confusion(labels, predictions)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def balanced_accuracy(labels: ArrayLike, predictions: ArrayLike) -> float:
    """Mean of recall and specificity (0.5 for a guess, whatever the class balance)."""
    return 0.5 * (recall(labels, predictions) + specificity(labels, predictions))


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve of ``scores`` separating label 1 from label 0.

    Computed exactly as the Mann-Whitney statistic: the probability that a
    random positive scores higher than a random negative, ties counting
    one half.

    Parameters
    ----------
    labels : array_like of {0, 1}
        True classes.
    scores : array_like of float
        Higher means more likely positive.

    Returns
    -------
    float
        In [0, 1]; ``nan`` unless both classes are present.
    """
    y = _binary(labels, "labels")
    s = np.asarray(scores, dtype=float)
    if s.shape != y.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson correlation of two equal-length vectors (``nan`` if either is constant)."""
    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"vectors differ in length: {a.size} vs {b.size}")
    if a.size < 2:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def concatenated_pearson(predicted: Sequence[ArrayLike], actual: Sequence[ArrayLike]) -> float:
    """Pearson correlation over all tokens of all examples, concatenated.

    Parameters
    ----------
    predicted, actual : sequence of array_like
        Per-example token values (simulated and true activations); example
        ``i`` must have the same length in both.

    Returns
    -------
    float
    """
    if len(predicted) != len(actual):
        raise ValueError(f"{len(predicted)} predicted vs {len(actual)} actual examples")
    for i, (p, a) in enumerate(zip(predicted, actual, strict=True)):
        if np.size(p) != np.size(a):
            raise ValueError(f"example {i}: {np.size(p)} predicted vs {np.size(a)} true tokens")
    if not predicted:
        return float("nan")
    return pearson(
        np.concatenate([np.ravel(p) for p in predicted]),
        np.concatenate([np.ravel(a) for a in actual]),
    )


def binary_metrics(
    labels: ArrayLike, predictions: ArrayLike, scores: ArrayLike | None = None
) -> dict[str, float]:
    """Every binary metric at once.

    Parameters
    ----------
    labels, predictions : array_like of {0, 1}
        True and predicted classes.
    scores : array_like of float, optional
        Confidence that each item is positive (for the AUC).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``precision``, ``recall``,
        ``f1`` and ``auc`` (``nan`` without scores).
    """
    return {
        "accuracy": accuracy(labels, predictions),
        "balanced_accuracy": balanced_accuracy(labels, predictions),
        "precision": precision(labels, predictions),
        "recall": recall(labels, predictions),
        "f1": f1_score(labels, predictions),
        "auc": auc(labels, scores) if scores is not None else float("nan"),
    }
