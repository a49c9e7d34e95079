"""Verification metrics in the style of SPOT: reported findings against annotated ones.

A verifier (a language model checking a manuscript, say) reports findings,
each with a location and a description; annotators have marked the true
ones. A reported finding is a hit when it matches an annotated finding of
the same item (manuscript):

* by location: the normalised location strings are equal
  (:func:`location_matches`), or
* by a judge that reads both descriptions and answers whether they are the
  same finding (:class:`JudgeMatcher`, any :class:`interp.judges.protocol.Judge`).

Matches are one-to-one (a maximum bipartite matching), so reporting the same
error twice earns one hit and one false positive. Precision is hits over
reported findings, recall hits over annotated ones.

Repeated runs of a stochastic verifier are summarised by how often each
annotated finding is found (:func:`run_consistency`): per-run precision and
recall with their spread, the unbiased ``pass@k`` recall (the chance that at
least one of ``k`` runs finds an annotated item), the share found by every
run, and the mean pairwise Jaccard overlap of the sets found.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

Matcher = Callable[[Sequence["Finding"], Sequence["Finding"]], np.ndarray]


@dataclass(frozen=True)
class Finding:
    """One reported or annotated finding.

    Attributes
    ----------
    location : str
        Where it is (for example ``"Eq. 3"`` or ``"page 4, line 12"``).
    description : str
        What is wrong.
    item : str
        The manuscript (or other unit) it belongs to; findings only match
        within the same item.
    """

    location: str
    description: str = ""
    item: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Build a finding from ``{"location", "description"?, "item"?}``."""
        if "location" not in data:
            raise KeyError(f"a finding needs a 'location'; got fields {sorted(data)}")
        return cls(
            str(data["location"]), str(data.get("description", "")), str(data.get("item", ""))
        )


def normalize_location(location: str) -> str:
    """Case-folded location with runs of spaces and punctuation collapsed.

    ``"Eq. (3)"``, ``"eq 3"`` and ``" EQ.3 "`` all become ``"eq 3"``.
    """
    return " ".join(re.findall(r"[^\W_]+", location.casefold()))


def location_matches(reported: Sequence[Finding], annotated: Sequence[Finding]) -> np.ndarray:
    """Match matrix by equal item and normalised location.

    Parameters
    ----------
    reported, annotated : sequence of Finding
        The two sets.

    Returns
    -------
    numpy.ndarray of bool, shape (n_reported, n_annotated)
    """
    rep = [(f.item, normalize_location(f.location)) for f in reported]
    ann = [(f.item, normalize_location(f.location)) for f in annotated]
    return np.array([[r == a for a in ann] for r in rep], dtype=bool).reshape(len(rep), len(ann))


def judge_match_messages(reported: Finding, annotated: Finding) -> tuple[dict[str, str], ...]:
    """Chat messages asking whether a reported finding is an annotated one."""
    return (
        {
            "role": "system",
            "content": "You compare error reports about a scientific manuscript. Answer with 1 "
            "if both reports describe the same error and 0 if they do not.",
        },
        {
            "role": "user",
            "content": f"Known error (at {annotated.location}): {annotated.description}\n"
            f"Reported error (at {reported.location}): {reported.description}\n"
            "Same error? Answer 1 or 0.",
        },
    )


@dataclass
class JudgeMatcher:
    """Let a language-model judge decide which reported findings are annotated ones.

    Parameters
    ----------
    judge : interp.judges.protocol.Judge
        Answers binary requests.
    same_location_only : bool
        Ask only about pairs with equal normalised locations (cheaper, and
        stricter); by default every pair within an item is asked about.

    Attributes
    ----------
    failures : int
        Requests the judge could not answer so far (counted as no match).
    """

    judge: Any
    same_location_only: bool = False
    failures: int = field(default=0, init=False)

    def __call__(self, reported: Sequence[Finding], annotated: Sequence[Finding]) -> np.ndarray:
        """Match matrix from the judge's answers, shape (n_reported, n_annotated)."""
        from interp.judges.protocol import JudgeRequest

        out = np.zeros((len(reported), len(annotated)), dtype=bool)
        same_place = location_matches(reported, annotated)
        pairs = [
            (i, j)
            for i, r in enumerate(reported)
            for j, a in enumerate(annotated)
            if r.item == a.item and (same_place[i, j] or not self.same_location_only)
        ]
        if not pairs:
            return out
        requests = [
            JudgeRequest(judge_match_messages(reported[i], annotated[j]), "binary", max_tokens=4)
            for i, j in pairs
        ]
        answers = self.judge.answer(requests)
        if len(answers) != len(requests):
            raise RuntimeError(
                f"judge {getattr(self.judge, 'name', '?')} gave {len(answers)} answers to "
                f"{len(requests)} requests"
            )
        for (i, j), answer in zip(pairs, answers, strict=True):
            if answer.ok:
                out[i, j] = answer.value == 1
            else:
                self.failures += 1
        return out


def one_to_one(matches: np.ndarray) -> list[tuple[int, int]]:
    """A maximum one-to-one matching in a boolean match matrix.

    Parameters
    ----------
    matches : numpy.ndarray of bool, shape (n_reported, n_annotated)
        Which pairs may match.

    Returns
    -------
    list of (int, int)
        Matched (reported, annotated) index pairs.
    """
    matches = np.asarray(matches, dtype=bool)
    if matches.size == 0 or not matches.any():
        return []
    rows, cols = linear_sum_assignment(matches.astype(float), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if matches[r, c]]


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision and recall of one set of reported findings.

    Attributes
    ----------
    n_reported, n_annotated, n_matched : int
        Counts; ``n_matched`` pairs are matched one to one.
    pairs : tuple of (int, int)
        The matched (reported, annotated) indices.
    """

    n_reported: int
    n_annotated: int
    n_matched: int
    pairs: tuple[tuple[int, int], ...] = field(repr=False)

    @property
    def precision(self) -> float:
        """Matched over reported (NaN when nothing was reported)."""
        return _ratio(self.n_matched, self.n_reported)

    @property
    def recall(self) -> float:
        """Matched over annotated (NaN when nothing is annotated)."""
        return _ratio(self.n_matched, self.n_annotated)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0 when both are 0)."""
        p, r = self.precision, self.recall
        if math.isnan(p) or math.isnan(r):
            return float("nan")
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def found(self) -> frozenset[int]:
        """Indices of the annotated findings that were matched."""
        return frozenset(j for _, j in self.pairs)


def precision_recall(
    reported: Sequence[Finding],
    annotated: Sequence[Finding],
    matcher: Matcher = location_matches,
) -> PrecisionRecall:
    """Precision and recall of reported findings against annotated ones.

    Parameters
    ----------
    reported : sequence of Finding
        What the verifier reported (any number of items).
    annotated : sequence of Finding
        The true findings.
    matcher : callable
        Returns the boolean match matrix (default: :func:`location_matches`).

    Returns
    -------
    PrecisionRecall
    """
    matches = np.asarray(matcher(reported, annotated), dtype=bool)
    if matches.shape != (len(reported), len(annotated)):
        raise ValueError(
            f"matcher returned shape {matches.shape}, expected ({len(reported)}, {len(annotated)})"
        )
    pairs = one_to_one(matches)
    return PrecisionRecall(len(reported), len(annotated), len(pairs), tuple(pairs))


def pass_at_k(n_runs: int, n_found: int, k: int) -> float:
    """Unbiased chance that at least one of ``k`` runs (of ``n_runs``) finds an item.

    ``1 - C(n - c, k) / C(n, k)`` for an item found in ``c`` of ``n`` runs.
    """
    if not 1 <= k <= n_runs or not 0 <= n_found <= n_runs:
        raise ValueError(f"need 1 <= k <= n_runs and 0 <= n_found <= n_runs, got {k}, {n_found}")
    if n_runs - n_found < k:
        return 1.0
    return 1.0 - math.comb(n_runs - n_found, k) / math.comb(n_runs, k)


@dataclass(frozen=True)
class RunConsistency:
    """How consistently repeated runs find the annotated findings.

    Attributes
    ----------
    runs : tuple of PrecisionRecall
        The result of every run.
    detection_rate : numpy.ndarray, shape (n_annotated,)
        Fraction of runs that found each annotated finding.
    """

    runs: tuple[PrecisionRecall, ...]
    detection_rate: np.ndarray

    @property
    def n_runs(self) -> int:
        """Number of runs."""
        return len(self.runs)

    def _stat(self, name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in self.runs], dtype=float)

    @property
    def mean_precision(self) -> float:
        """Mean per-run precision (runs that reported nothing are left out)."""
        values = self._stat("precision")
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    @property
    def mean_recall(self) -> float:
        """Mean per-run recall."""
        return float(np.mean(self._stat("recall")))

    @property
    def std_recall(self) -> float:
        """Standard deviation of the per-run recall (ddof = 1; 0 for one run)."""
        values = self._stat("recall")
        return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    def pass_at(self, k: int) -> float:
        """Recall at ``k`` runs: mean over annotated findings of :func:`pass_at_k`."""
        if len(self.detection_rate) == 0:
            return float("nan")
        found = np.rint(self.detection_rate * self.n_runs).astype(int)
        return float(np.mean([pass_at_k(self.n_runs, int(c), k) for c in found]))

    @property
    def found_by_all(self) -> float:
        """Share of annotated findings that every run found."""
        return float(np.mean(self.detection_rate == 1.0)) if len(self.detection_rate) else math.nan

    @property
    def consistency(self) -> float:
        """Mean detection rate of the annotated findings found at least once."""
        rates = self.detection_rate[self.detection_rate > 0]
        return float(rates.mean()) if len(rates) else float("nan")

    @property
    def mean_jaccard(self) -> float:
        """Mean pairwise Jaccard overlap of the sets of annotated findings found.

        Pairs of runs that both found nothing count as full agreement.
        """
        sets = [r.found() for r in self.runs]
        if len(sets) < 2:
            return float("nan")
        scores = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(sets, 2)]
        return float(np.mean(scores))

    def summary(self) -> dict[str, float]:
        """The headline numbers, for tables and JSON."""
        return {
            "runs": float(self.n_runs),
            "precision": self.mean_precision,
            "recall": self.mean_recall,
            "recall_std": self.std_recall,
            f"pass@{self.n_runs}": self.pass_at(self.n_runs),
            "found_by_all": self.found_by_all,
            "consistency": self.consistency,
            "jaccard": self.mean_jaccard,
        }


def run_consistency(
    runs: Sequence[Sequence[Finding]],
    annotated: Sequence[Finding],
    matcher: Matcher = location_matches,
) -> RunConsistency:
    """Score repeated verifier runs against the same annotated findings.

    Parameters
    ----------
    runs : sequence of sequences of Finding
        The findings reported by each run.
    annotated : sequence of Finding
        The true findings.
    matcher : callable
        Match matrix (default: :func:`location_matches`).

    Returns
    -------
    RunConsistency
    """
    if not runs:
        raise ValueError("give at least one run")
    results = tuple(precision_recall(run, annotated, matcher) for run in runs)
    counts = np.zeros(len(annotated))
    for result in results:
        for j in result.found():
            counts[j] += 1
    return RunConsistency(results, counts / len(runs))


def read_findings(path: str | Path) -> list[dict[str, Any]]:
    """Read findings from a JSON list or a JSON-lines file.

    Each record needs ``location``; ``description``, ``item`` and (for
    reported findings of repeated runs) ``run`` are optional.

    Parameters
    ----------
    path : str or Path
        ``.json`` (a list of objects) or ``.jsonl`` (one object per line).

    Returns
    -------
    list of dict
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no findings file at {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected a list of objects")
    for i, record in enumerate(records):
        if "location" not in record:
            raise KeyError(f"{path}: finding {i} has no 'location'")
    return records


def split_runs(records: Iterable[Mapping[str, Any]]) -> list[list[Finding]]:
    """Group reported findings by their ``run`` field (all one run when absent)."""
    runs: dict[Any, list[Finding]] = {}
    for record in records:
        runs.setdefault(record.get("run", 0), []).append(Finding.from_dict(record))
    return [runs[key] for key in sorted(runs, key=str)]
