"""Scorers of latents: each is a judge (or an embedding or language model), examples, a metric.

With an explanation
    :func:`detection_score`, :func:`fuzzing_score`, :func:`simulation_score`
    (judge-based), :func:`embedding_score` (sentence embeddings) and
    :func:`surprisal_score` (a base language model).
Without an explanation
    :func:`intruder_score` (the judge finds the odd example out) and
    :func:`example_embedding_score` (do activating examples embed close to
    each other).

Judge answers that failed or could not be parsed are counted in
:attr:`ScoreResult.n_failed` and left out of the metrics. :data:`SCORERS`
maps the command-line names to functions of one signature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interp.models.embedding import Embedder
from interp.activations.examples import Example, LatentExamples, random_highlight, render
from interp.judges.protocol import Judge, JudgeAnswer, JudgeRequest
from interp.models.language_model import TextLoss
from interp.judges.prompts import (
    detection_messages,
    fuzzing_messages,
    intruder_messages,
    simulation_messages,
)
from interp.scorers.metrics import auc, binary_metrics, concatenated_pearson, recall

MAX_ERRORS_KEPT = 3


@dataclass(frozen=True)
class ScoreResult:
    """One scorer's result for one latent.

    Attributes
    ----------
    latent : int
        The latent.
    scorer : str
        Scorer name (``"detection"``, ``"intruder"``, ...).
    scored_by : str
        Name of the judge, embedding model or language model used.
    metrics : dict of str to float
        The scorer's metrics (``nan`` where undefined).
    n_items : int
        Questions asked (or examples scored).
    n_failed : int
        Of those, answers that failed or were malformed (not in the metrics).
    explanation : str or None
        The explanation scored, if the scorer uses one.
    errors : tuple of str
        Up to three distinct error messages, for diagnosis.
    """

    latent: int
    scorer: str
    scored_by: str
    metrics: dict[str, float]
    n_items: int
    n_failed: int = 0
    explanation: str | None = None
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready row (metrics as top-level keys)."""
        return {
            "latent": self.latent,
            "scorer": self.scorer,
            "scored_by": self.scored_by,
            "explanation": self.explanation,
            "n_items": self.n_items,
            "n_failed": self.n_failed,
            **{k: float(v) for k, v in self.metrics.items()},
            "errors": list(self.errors),
        }


def _ask(judge: Judge, requests: list[JudgeRequest]) -> list[JudgeAnswer]:
    answers = judge.answer(requests)
    if len(answers) != len(requests):
        raise RuntimeError(
            f"judge {judge.name} returned {len(answers)} answers for {len(requests)} requests"
        )
    return answers


def _errors(answers: Sequence[JudgeAnswer]) -> tuple[str, ...]:
    seen = dict.fromkeys(a.error or "no value" for a in answers if not a.ok)
    return tuple(list(seen)[:MAX_ERRORS_KEPT])


def _need_explanation(explanation: str | None, scorer: str) -> str:
    if not explanation:
        raise ValueError(f"the {scorer} scorer needs an explanation (run interp explain first)")
    return explanation


def _binary_result(
    latent: int,
    scorer: str,
    judge: Judge,
    explanation: str,
    labels: Sequence[int],
    answers: Sequence[JudgeAnswer],
    quantiles: Sequence[int],
) -> ScoreResult:
    ok = [i for i, a in enumerate(answers) if a.ok]
    y = np.array([labels[i] for i in ok], dtype=int)
    pred = np.array([int(answers[i].value) for i in ok], dtype=int)  # type: ignore[arg-type]
    p = [answers[i].p_true for i in ok]
    scores = np.array(p, dtype=float) if ok and all(v is not None for v in p) else None
    metrics = binary_metrics(y, pred, scores)
    q = np.array([quantiles[i] for i in ok], dtype=int)
    for b in sorted({v for v in quantiles if v >= 0}):
        sel = q == b
        metrics[f"recall_q{b}"] = recall(y[sel], pred[sel]) if sel.any() else float("nan")
    return ScoreResult(
        latent,
        scorer,
        judge.name,
        metrics,
        len(answers),
        len(answers) - len(ok),
        explanation,
        _errors(answers),
    )


# -- detection and fuzzing ---------------------------------------------------------------------


def detection_score(
    judge: Judge, explanation: str | None, examples: LatentExamples, **_: Any
) -> ScoreResult:
    """Detection: does each unhighlighted test example activate the explained latent?

    Activating test examples are label 1, negatives label 0. Metrics:
    accuracy, balanced accuracy, precision, recall, F1, AUC (from
    ``p_true`` when the judge gives it) and recall per quantile.
    """
    text = _need_explanation(explanation, "detection")
    items = [(e, 1) for e in examples.test] + [(e, 0) for e in examples.negatives]
    requests = [
        JudgeRequest(detection_messages(text, e.text), "binary", truth=label, max_tokens=4)
        for e, label in items
    ]
    answers = _ask(judge, requests)
    return _binary_result(
        examples.latent,
        "detection",
        judge,
        text,
        [lab for _, lab in items],
        answers,
        [e.quantile for e, _ in items],
    )


@dataclass(frozen=True)
class FuzzItem:
    """One fuzzing question: an example, the tokens shown highlighted and the true label.

    ``label`` is 1 when ``mask`` is the example's real highlight, else 0.
    """

    example: Example
    mask: np.ndarray
    label: int


def fuzzing_items(
    examples: LatentExamples,
    *,
    threshold: float = 0.3,
    seed: int | np.random.Generator = 0,
) -> list[FuzzItem]:
    """Highlighted examples for fuzzing, half of the activating ones wrongly highlighted.

    Activating test examples are shuffled; the first half keep their true
    highlight (label 1), the others get as many highlighted tokens chosen at
    random among the tokens that are *not* truly highlighted (label 0).
    Each negative gets a random highlight of as many tokens as a randomly
    chosen activating example has (label 0).

    Parameters
    ----------
    examples : LatentExamples
        The latent's examples.
    threshold : float
        Highlight threshold as a fraction of each example's maximum.
    seed : int or numpy.random.Generator
        Randomness of the split and of the random highlights.

    Returns
    -------
    list of FuzzItem
    """
    rng = np.random.default_rng(seed)
    active = [examples.test[i] for i in rng.permutation(len(examples.test))]
    n_correct = (len(active) + 1) // 2
    items: list[FuzzItem] = []
    counts = []
    for i, example in enumerate(active):
        true = example.highlight(threshold)
        counts.append(int(true.sum()))
        if i < n_correct:
            items.append(FuzzItem(example, true, 1))
        else:
            wrong = random_highlight(true.size, int(true.sum()), rng, avoid=true)
            items.append(FuzzItem(example, wrong, 0))
    for example in examples.negatives:
        n = int(rng.choice(counts)) if counts else 1
        items.append(FuzzItem(example, random_highlight(len(example.tokens), n, rng), 0))
    return items


def fuzzing_score(
    judge: Judge,
    explanation: str | None,
    examples: LatentExamples,
    *,
    threshold: float = 0.3,
    seed: int | np.random.Generator = 0,
    **_: Any,
) -> ScoreResult:
    """Fuzzing: are the highlighted tokens of each example the ones the explanation means?

    See :func:`fuzzing_items` for the questions; metrics as for detection.
    """
    text = _need_explanation(explanation, "fuzzing")
    items = fuzzing_items(examples, threshold=threshold, seed=seed)
    requests = [
        JudgeRequest(
            fuzzing_messages(text, render(it.example.tokens, it.mask)),
            "binary",
            truth=it.label,
            max_tokens=4,
        )
        for it in items
    ]
    answers = _ask(judge, requests)
    return _binary_result(
        examples.latent,
        "fuzzing",
        judge,
        text,
        [it.label for it in items],
        answers,
        [it.example.quantile if it.label else -1 for it in items],
    )


# -- simulation --------------------------------------------------------------------------------


def simulation_score(
    judge: Judge, explanation: str | None, examples: LatentExamples, **_: Any
) -> ScoreResult:
    """Simulation: predict each token's 0-10 activation from the explanation.

    True values are :meth:`Example.normalized` activations (scaled by the
    latent's maximum over the cache). Metric: Pearson correlation of
    predicted and true values over the concatenated tokens of every
    answered example, activating and non-activating together
    (``pearson``), and over activating examples only (``pearson_activating``).
    """
    text = _need_explanation(explanation, "simulation")
    items = list(examples.test) + list(examples.negatives)
    truths = [e.normalized(examples.max_activation) for e in items]
    requests = [
        JudgeRequest(
            simulation_messages(text, e.tokens),
            "scores",
            n_options=len(e.tokens),
            truth=[float(v) for v in t],
            max_tokens=4 * len(e.tokens) + 8,
        )
        for e, t in zip(items, truths, strict=True)
    ]
    answers = _ask(judge, requests)
    ok = [i for i, a in enumerate(answers) if a.ok]
    predicted = [np.asarray(answers[i].value, dtype=float) for i in ok]
    actual = [truths[i] for i in ok]
    act_ok = [j for j, i in enumerate(ok) if items[i].activating]
    metrics = {
        "pearson": concatenated_pearson(predicted, actual),
        "pearson_activating": concatenated_pearson(
            [predicted[j] for j in act_ok], [actual[j] for j in act_ok]
        ),
    }
    return ScoreResult(
        examples.latent,
        "simulation",
        judge.name,
        metrics,
        len(answers),
        len(answers) - len(ok),
        text,
        _errors(answers),
    )


# -- intruder (explanation-free) ---------------------------------------------------------------


@dataclass(frozen=True)
class IntruderTask:
    """One intruder question: ``examples[intruder]`` is the non-activating one."""

    examples: tuple[Example, ...]
    intruder: int
    quantile: int


def intruder_tasks(
    examples: LatentExamples,
    *,
    n_options: int = 5,
    tasks_per_quantile: int = 1,
    seed: int | np.random.Generator = 0,
) -> list[IntruderTask]:
    """Intruder questions: ``n_options - 1`` activating examples of one quantile, one intruder.

    Parameters
    ----------
    examples : LatentExamples
        Test examples (grouped by quantile) and negatives (the intruders).
    n_options : int
        Examples per question (chance accuracy is ``1 / n_options``).
    tasks_per_quantile : int
        Questions per quantile that has at least ``n_options - 1`` test examples.
    seed : int or numpy.random.Generator
        Randomness of the choices and of the intruder's position.

    Returns
    -------
    list of IntruderTask
        Intruders are drawn without replacement while negatives last.
    """
    if n_options < 2:
        raise ValueError(f"an intruder question needs n_options >= 2, got {n_options}")
    if not examples.negatives:
        raise ValueError(f"latent {examples.latent} has no non-activating examples for intruders")
    rng = np.random.default_rng(seed)
    negatives = list(examples.negatives)
    pool: list[int] = []
    tasks = []
    for quantile, group in examples.test_quantiles().items():
        if len(group) < n_options - 1:
            continue
        for _ in range(tasks_per_quantile):
            if not pool:
                pool = rng.permutation(len(negatives)).tolist()
            intruder = negatives[pool.pop()]
            chosen = [group[i] for i in rng.choice(len(group), n_options - 1, replace=False)]
            position = int(rng.integers(n_options))
            chosen.insert(position, intruder)
            tasks.append(IntruderTask(tuple(chosen), position, quantile))
    if not tasks:
        raise ValueError(
            f"latent {examples.latent}: no quantile has the {n_options - 1} test examples an "
            "intruder question needs; draw more test examples per quantile or use fewer options"
        )
    return tasks


def intruder_score(
    judge: Judge,
    explanation: str | None,
    examples: LatentExamples,
    *,
    n_options: int = 5,
    tasks_per_quantile: int = 1,
    seed: int | np.random.Generator = 0,
    **_: Any,
) -> ScoreResult:
    """Intruder detection (explanation-free): the judge picks the odd example out.

    Metrics: ``accuracy`` (chance = ``1 / n_options``, also reported as
    ``chance``) and accuracy per quantile.
    """
    tasks = intruder_tasks(
        examples, n_options=n_options, tasks_per_quantile=tasks_per_quantile, seed=seed
    )
    requests = [
        JudgeRequest(
            intruder_messages([e.text for e in t.examples]),
            "choice",
            n_options=n_options,
            truth=t.intruder,
            max_tokens=4,
        )
        for t in tasks
    ]
    answers = _ask(judge, requests)
    ok = [i for i, a in enumerate(answers) if a.ok]
    right = np.array([answers[i].value == tasks[i].intruder for i in ok], dtype=float)
    metrics = {
        "accuracy": float(right.mean()) if ok else float("nan"),
        "chance": 1.0 / n_options,
    }
    quantiles = np.array([tasks[i].quantile for i in ok], dtype=int)
    for b in sorted({t.quantile for t in tasks}):
        sel = quantiles == b
        metrics[f"accuracy_q{b}"] = float(right[sel].mean()) if sel.any() else float("nan")
    return ScoreResult(
        examples.latent,
        "intruder",
        judge.name,
        metrics,
        len(answers),
        len(answers) - len(ok),
        None,
        _errors(answers),
    )


# -- embedding and surprisal -------------------------------------------------------------------


def _labelled(examples: LatentExamples) -> tuple[list[str], np.ndarray]:
    texts = [e.text for e in examples.test] + [e.text for e in examples.negatives]
    labels = np.array([1] * len(examples.test) + [0] * len(examples.negatives))
    return texts, labels


def _check_both(examples: LatentExamples, scorer: str) -> None:
    if not examples.test or not examples.negatives:
        raise ValueError(
            f"the {scorer} scorer needs activating test examples and negatives; latent "
            f"{examples.latent} has {len(examples.test)} and {len(examples.negatives)}"
        )


def embedding_score(
    embedder: Embedder,
    explanation: str | None,
    examples: LatentExamples,
    *,
    name: str = "minilm",
    **_: Any,
) -> ScoreResult:
    """Embedding: cosine similarity of the explanation and each example; AUROC.

    Metrics: ``auc`` (activating vs non-activating by similarity to the
    explanation) and the mean similarities of both groups.
    """
    text = _need_explanation(explanation, "embedding")
    _check_both(examples, "embedding")
    texts, labels = _labelled(examples)
    vectors = _unit(embedder.embed([text, *texts]))
    sims = vectors[1:] @ vectors[0]
    metrics = {
        "auc": auc(labels, sims),
        "similarity_activating": float(sims[labels == 1].mean()),
        "similarity_negative": float(sims[labels == 0].mean()),
    }
    return ScoreResult(examples.latent, "embedding", name, metrics, len(texts), 0, text)


def example_embedding_score(
    embedder: Embedder,
    explanation: str | None,
    examples: LatentExamples,
    *,
    name: str = "minilm",
    **_: Any,
) -> ScoreResult:
    """Example embedding (explanation-free): do activating examples embed close together?

    Each held-out example (activating test examples and negatives) is scored
    by its mean cosine similarity to the latent's training examples (a
    disjoint set); ``auc`` is the AUROC of that score, activating vs
    non-activating. Also reports both groups' mean similarity.
    """
    _check_both(examples, "example-embedding")
    if not examples.train:
        raise ValueError(f"latent {examples.latent} has no training examples to compare with")
    texts, labels = _labelled(examples)
    reference = _unit(embedder.embed([e.text for e in examples.train]))
    vectors = _unit(embedder.embed(texts))
    score = (vectors @ reference.T).mean(axis=1)
    metrics = {
        "auc": auc(labels, score),
        "similarity_activating": float(score[labels == 1].mean()),
        "similarity_negative": float(score[labels == 0].mean()),
    }
    return ScoreResult(examples.latent, "example-embedding", name, metrics, len(texts))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


SURPRISAL_BASE = "Text:"


def surprisal_prefix(explanation: str) -> str:
    """The prefix that puts an explanation before an example for the surprisal scorer."""
    return f"Explanation: {explanation}\nText:"


def surprisal_score(
    lm: TextLoss,
    explanation: str | None,
    examples: LatentExamples,
    *,
    name: str = "lm",
    **_: Any,
) -> ScoreResult:
    """Surprisal: how much the explanation in the prefix lowers each example's loss.

    Score of an example = mean token loss after ``"Text:"`` minus mean token
    loss after ``"Explanation: <explanation>\\nText:"`` (nats per token).
    Metrics: ``auc`` of that reduction, activating vs non-activating, and its
    mean in both groups.
    """
    text = _need_explanation(explanation, "surprisal")
    _check_both(examples, "surprisal")
    texts, labels = _labelled(examples)
    base = lm.loss([SURPRISAL_BASE] * len(texts), texts)
    primed = lm.loss([surprisal_prefix(text)] * len(texts), texts)
    reduction = np.asarray(base) - np.asarray(primed)
    metrics = {
        "auc": auc(labels, reduction),
        "loss_reduction_activating": float(reduction[labels == 1].mean()),
        "loss_reduction_negative": float(reduction[labels == 0].mean()),
    }
    return ScoreResult(examples.latent, "surprisal", name, metrics, len(texts), 0, text)


# -- registry ----------------------------------------------------------------------------------


@dataclass
class ScoringTools:
    """What the scorers may need; only the scorer's own tool must be set.

    Attributes
    ----------
    judge : Judge, optional
        For detection, fuzzing, simulation and intruder.
    embedder : Embedder, optional
        For embedding and example-embedding.
    lm : TextLoss, optional
        For surprisal.
    seed : int
        Seed of the scorers' random choices.
    options : dict
        Extra keyword arguments passed to every scorer (e.g. ``n_options``).
    """

    judge: Judge | None = None
    embedder: Embedder | None = None
    lm: TextLoss | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorer:
    """A named scorer: which tool it uses, whether it needs an explanation, the function."""

    name: str
    tool: str
    needs_explanation: bool
    function: Callable[..., ScoreResult]

    def __call__(
        self, tools: ScoringTools, explanation: str | None, examples: LatentExamples
    ) -> ScoreResult:
        """Score one latent with the tool taken from ``tools``."""
        tool = getattr(tools, self.tool)
        if tool is None:
            raise ValueError(f"the {self.name} scorer needs a {self.tool}")
        extra: dict[str, Any] = {"seed": np.random.default_rng([tools.seed, examples.latent])}
        if self.tool != "judge":
            extra["name"] = getattr(tool, "name", type(tool).__name__)
        return self.function(tool, explanation, examples, **extra, **tools.options)


SCORERS: dict[str, Scorer] = {
    s.name: s
    for s in (
        Scorer("detection", "judge", True, detection_score),
        Scorer("fuzzing", "judge", True, fuzzing_score),
        Scorer("simulation", "judge", True, simulation_score),
        Scorer("intruder", "judge", False, intruder_score),
        Scorer("embedding", "embedder", True, embedding_score),
        Scorer("example-embedding", "embedder", False, example_embedding_score),
        Scorer("surprisal", "lm", True, surprisal_score),
    )
}
