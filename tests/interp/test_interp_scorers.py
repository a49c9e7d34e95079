"""Scorers with scripted judges and analytic embedders: known answers."""

import math

import numpy as np
import pytest
from interp_scoring_data import DECODE, synthetic_cache

from interp.activations.examples import ExampleConfig, build_examples
from interp.judges.protocol import JudgeAnswer, NoisyJudge, OracleJudge, RandomJudge
from interp.scorers.scoring import (
    SCORERS,
    ScoringTools,
    detection_score,
    embedding_score,
    example_embedding_score,
    fuzzing_items,
    fuzzing_score,
    intruder_score,
    intruder_tasks,
    simulation_score,
    surprisal_score,
)

EXPLANATION = "animal names"
BINARY = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc")


@pytest.fixture(scope="module")
def examples():
    """A large example set: 10 quantiles x 40 test examples and 400 negatives."""
    cache = synthetic_cache(rows=600, ctx_len=32, p_animal=0.06, seed=0)
    config = ExampleConfig(window=8, n_train=20, n_test_per_quantile=40, n_negatives=400)
    ex = build_examples(cache, 0, DECODE, config, seed=0)
    assert len(ex.test) == 400 and len(ex.negatives) == 400
    return ex


@pytest.fixture(scope="module")
def small_examples():
    cache = synthetic_cache(rows=100, ctx_len=32, p_animal=0.03, seed=1)
    config = ExampleConfig(
        window=8, n_train=5, n_quantiles=4, n_test_per_quantile=5, n_negatives=20
    )
    return build_examples(cache, 0, DECODE, config, seed=0)


def test_oracle_scores_are_perfect(examples):
    oracle = OracleJudge()
    for result in (
        detection_score(oracle, EXPLANATION, examples),
        fuzzing_score(oracle, EXPLANATION, examples, seed=0),
    ):
        assert result.n_failed == 0
        assert all(result.metrics[k] == 1.0 for k in BINARY), result.metrics
    intruder = intruder_score(oracle, None, examples, n_options=5, tasks_per_quantile=3)
    assert intruder.metrics["accuracy"] == 1.0 and intruder.n_items == 30
    assert simulation_score(oracle, EXPLANATION, examples).metrics["pearson"] == pytest.approx(1)


@pytest.mark.parametrize("error_rate", [0.1, 0.3])
def test_noisy_judge_balanced_accuracy_is_one_minus_error(examples, error_rate):
    det = detection_score(NoisyJudge(error_rate, seed=1), EXPLANATION, examples)
    fuzz = fuzzing_score(NoisyJudge(error_rate, seed=2), EXPLANATION, examples, seed=0)
    # 800 answers each: standard error of the balanced accuracy about 0.015
    assert det.metrics["balanced_accuracy"] == pytest.approx(1 - error_rate, abs=0.05)
    assert fuzz.metrics["balanced_accuracy"] == pytest.approx(1 - error_rate, abs=0.05)
    intr = intruder_score(
        NoisyJudge(error_rate, seed=3), None, examples, n_options=4, tasks_per_quantile=40
    )
    assert intr.metrics["accuracy"] == pytest.approx(1 - error_rate, abs=0.05)


def test_random_judge_scores_chance(examples):
    det = detection_score(RandomJudge(seed=0), EXPLANATION, examples)
    assert det.metrics["balanced_accuracy"] == pytest.approx(0.5, abs=0.05)
    assert det.metrics["auc"] == pytest.approx(0.5, abs=0.06)
    for n in (2, 4, 8):
        intr = intruder_score(
            RandomJudge(seed=n), None, examples, n_options=n, tasks_per_quantile=60
        )
        assert intr.n_items == 600
        assert intr.metrics["accuracy"] == pytest.approx(1 / n, abs=0.055)
        assert intr.metrics["chance"] == pytest.approx(1 / n)
    sim = simulation_score(RandomJudge(seed=5), EXPLANATION, examples)
    assert abs(sim.metrics["pearson"]) < 0.05


def test_fuzzing_negatives_highlight_the_right_number_of_tokens(examples):
    items = fuzzing_items(examples, threshold=0.3, seed=0)
    active = [it for it in items if it.example.activating]
    counts = {int(e.highlight(0.3).sum()) for e in examples.test}
    correct = [it for it in active if it.label == 1]
    wrong = [it for it in active if it.label == 0]
    assert len(correct) == len(wrong) == 200
    for it in correct:
        assert np.array_equal(it.mask, it.example.highlight(0.3))
    for it in wrong:  # as many tokens as the true highlight, none of them truly active
        true = it.example.highlight(0.3)
        assert it.mask.sum() == true.sum() and not (it.mask & true).any()
    negatives = [it for it in items if not it.example.activating]
    assert len(negatives) == 400 and all(it.label == 0 for it in negatives)
    assert {int(it.mask.sum()) for it in negatives} <= counts


def test_intruder_tasks_hold_one_negative(examples):
    tasks = intruder_tasks(examples, n_options=6, tasks_per_quantile=2, seed=0)
    assert len(tasks) == 20
    positions = [t.intruder for t in tasks]
    assert len(set(positions)) > 1
    for t in tasks:
        assert len(t.examples) == 6
        assert [e.activating for e in t.examples].count(False) == 1
        assert not t.examples[t.intruder].activating
        assert all(e.quantile == t.quantile for e in t.examples if e.activating)
    intruders = [t.examples[t.intruder].window for t in tasks]
    assert len(set(intruders)) == len(intruders)  # drawn without replacement


class _FlakyJudge:
    """Fails every third request, like a server returning garbage."""

    name = "flaky"

    def answer(self, requests):
        return [
            JudgeAnswer(None, "??", error="malformed answer: '??'")
            if i % 3 == 0
            else JudgeAnswer(r.truth, p_true=float(r.truth))
            for i, r in enumerate(requests)
        ]


def test_failed_answers_are_counted_not_scored(small_examples):
    result = detection_score(_FlakyJudge(), EXPLANATION, small_examples)
    n = len(small_examples.test) + len(small_examples.negatives)
    assert result.n_items == n and result.n_failed == math.ceil(n / 3)
    assert result.metrics["accuracy"] == 1.0  # failures are not guesses
    assert result.errors == ("malformed answer: '??'",)
    row = result.to_dict()
    assert row["n_failed"] == result.n_failed and row["scorer"] == "detection"


class _TopicEmbedder:
    """2-d embedding: along x when a text mentions an animal, else along y."""

    name = "topic"

    def embed(self, texts):
        animals = ("cat", "dog", "horse", "sheep", "goat", "animal")
        return np.array([[1.0, 0.2] if any(a in t for a in animals) else [0.1, 1.0] for t in texts])


def test_embedding_scores_with_analytic_embedder(small_examples):
    emb = embedding_score(_TopicEmbedder(), EXPLANATION, small_examples)
    assert emb.metrics["auc"] == 1.0
    assert emb.metrics["similarity_activating"] > emb.metrics["similarity_negative"]
    off = embedding_score(_TopicEmbedder(), "colours", small_examples)
    assert off.metrics["auc"] == 0.0  # an explanation pointing the other way
    free = example_embedding_score(_TopicEmbedder(), None, small_examples)
    assert free.metrics["auc"] == 1.0 and free.explanation is None


class _PrimedLoss:
    """Loss 3 nats, lowered by 1 for animal texts when the prefix mentions animals."""

    name = "primed"

    def loss(self, prefixes, texts):
        return np.array(
            [
                3.0
                - ("animal" in p and any(a in t for a in ("cat", "dog", "horse", "sheep", "goat")))
                for p, t in zip(prefixes, texts, strict=False)
            ]
        )


def test_surprisal_score_with_analytic_loss(small_examples):
    result = surprisal_score(_PrimedLoss(), EXPLANATION, small_examples)
    assert result.metrics["auc"] == 1.0
    assert result.metrics["loss_reduction_activating"] == pytest.approx(1.0)
    assert result.metrics["loss_reduction_negative"] == pytest.approx(0.0)


def test_registry_dispatch_and_missing_tools(small_examples):
    tools = ScoringTools(
        judge=OracleJudge(), embedder=_TopicEmbedder(), seed=0, options={"n_options": 3}
    )
    results = {
        name: s(tools, EXPLANATION, small_examples)
        for name, s in SCORERS.items()
        if name != "surprisal"
    }
    assert results["intruder"].metrics["accuracy"] == 1.0
    assert results["embedding"].scored_by == "topic"
    with pytest.raises(ValueError, match="needs a lm"):
        SCORERS["surprisal"](tools, EXPLANATION, small_examples)
    with pytest.raises(ValueError, match="needs an explanation"):
        SCORERS["detection"](tools, None, small_examples)
