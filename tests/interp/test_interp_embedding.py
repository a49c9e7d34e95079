"""Embedding scorers with the bundled all-MiniLM-L6-v2 on a synthetic topical latent."""

import numpy as np
import pytest

pytest.importorskip("transformers")

from interp.models.embedding import MiniLMEmbedder  # noqa: E402
from interp.activations.examples import (  # noqa: E402
    ActivationCache,
    ExampleConfig,
    build_examples,
    vocabulary_decoder,
)
from interp.scorers.scoring import embedding_score, example_embedding_score  # noqa: E402

FOOD = [
    "bread",
    "cheese",
    "soup",
    "pasta",
    "salad",
    "butter",
    "garlic",
    "onions",
    "rice",
    "cake",
    "pepper",
    "sauce",
    "oven",
    "recipe",
    "dinner",
    "baked",
]
OTHER = [
    "football",
    "goal",
    "stadium",
    "stocks",
    "market",
    "bank",
    "rain",
    "storm",
    "cloud",
    "train",
    "station",
    "ticket",
    "guitar",
    "concert",
    "engine",
    "server",
    "software",
]
GLUE = ["the", "a", "with", "and", "of", "was", "for", "in", "then", "my"]
VOCAB = FOOD + OTHER + GLUE
WINDOW = 10


def topical_cache(n_windows=160, seed=0):
    """One window per row; half the windows mix two food words into glue words and the latent
    fires on the food words, the other half use words of other topics and it stays silent."""
    rng = np.random.default_rng(seed)
    food_ids = np.arange(len(FOOD))
    other_ids = np.arange(len(FOOD), len(FOOD) + len(OTHER))
    glue_ids = np.arange(len(FOOD) + len(OTHER), len(VOCAB))
    tokens = rng.choice(glue_ids, (n_windows, WINDOW))
    acts = np.zeros((1, n_windows, WINDOW), dtype=np.float32)
    for row in range(n_windows):
        slots = rng.choice(WINDOW, 2, replace=False)
        topical = row % 2 == 0
        tokens[row, slots] = rng.choice(food_ids if topical else other_ids, 2)
        if topical:
            acts[0, row, slots] = rng.uniform(0.5, 3.0, 2)
    return ActivationCache(tokens, np.array([7]), acts)


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def examples():
    config = ExampleConfig(
        window=WINDOW, n_quantiles=5, n_train=10, n_test_per_quantile=6, n_negatives=40
    )
    return build_examples(topical_cache(), 7, vocabulary_decoder(VOCAB), config, seed=0)


def test_minilm_embeddings_are_unit_and_semantic(embedder):
    vectors = embedder.embed(["a bowl of hot soup", "warm vegetable soup", "stock market news"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    assert embedder.embed([]).shape == (0, 384)


def test_embedding_auroc_on_topical_latent(embedder, examples):
    result = embedding_score(embedder, "food and cooking", examples, name=embedder.name)
    assert result.n_items == len(examples.test) + len(examples.negatives) == 70
    assert result.metrics["auc"] > 0.9, result.metrics
    wrong = embedding_score(embedder, "football and sports", examples, name=embedder.name)
    assert wrong.metrics["auc"] < 0.5
    free = example_embedding_score(embedder, None, examples, name=embedder.name)
    assert free.metrics["auc"] > 0.9, free.metrics
    print(
        f"embedding AUROC {result.metrics['auc']:.3f}, wrong explanation "
        f"{wrong.metrics['auc']:.3f}, example-embedding {free.metrics['auc']:.3f}"
    )
