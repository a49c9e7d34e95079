"""Example construction: windows, rank quantiles, negatives and highlighting."""

import numpy as np
import pytest
from interp_scoring_data import ANIMALS, DECODE, synthetic_cache

from interp.activations.examples import (
    ActivationCache,
    ExampleConfig,
    build_examples,
    decoder_neighbours,
    highlight_mask,
    nearest_by_embedding,
    normalized_activations,
    random_highlight,
    rank_quantiles,
    render,
)


@pytest.fixture(scope="module")
def cache():
    return synthetic_cache(rows=200, ctx_len=32, p_animal=0.01, seed=0)


def test_windows_cut_rows_in_order(cache):
    tokens, acts = cache.windows(0, 10)  # 3 windows per row, the last 2 tokens dropped
    assert tokens.shape == acts.shape == (200 * 3, 10)
    row, j = divmod(7, 3)
    assert np.array_equal(tokens[7], cache.tokens[row, j * 10 : (j + 1) * 10])
    assert np.array_equal(acts[7], cache.of(0)[row, j * 10 : (j + 1) * 10])
    with pytest.raises(ValueError, match="window"):
        cache.windows(0, 33)
    with pytest.raises(KeyError, match="latent 9"):
        cache.of(9)


def test_rank_quantiles_partition_by_rank_not_value():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(0, 1, 96), [1000.0, 500.0, 200.0, 100.0]])
    bins = rank_quantiles(values, 10)
    sizes = np.bincount(bins, minlength=10)
    assert sizes.tolist() == [10] * 10  # equal counts despite the heavy tail
    for b in range(9):  # every value in bin b is at least every value in bin b + 1
        assert values[bins == b].min() >= values[bins == b + 1].max()
    assert bins[np.argmax(values)] == 0 and bins[np.argmin(values)] == 9
    # value bins of equal width would put nearly all values in the bottom bin
    edges = np.linspace(values.min(), values.max(), 11)
    assert np.histogram(values, edges)[0][0] >= 96
    uneven = rank_quantiles(np.arange(23.0), 10)
    assert sorted(np.bincount(uneven).tolist()) == [2] * 7 + [3] * 3
    assert rank_quantiles(np.arange(3.0), 10).tolist() == [2, 1, 0]


def test_normalized_activations_and_highlight():
    acts = np.array([0.0, 0.05, 0.29, 0.3, 0.61, 1.0])
    assert normalized_activations(acts, 1.0).tolist() == [0, 1, 3, 3, 7, 10]
    assert normalized_activations(acts, 2.0).tolist() == [0, 1, 2, 2, 4, 5]
    assert highlight_mask(acts).tolist() == [False, False, False, True, True, True]
    assert not highlight_mask(np.zeros(4)).any()
    tokens = ["a", " b", " c", " d", " e", " f"]
    assert render(tokens, highlight_mask(acts)) == "a b c<< d e f>>"
    assert render(tokens, np.array([1, 0, 1, 1, 0, 1], bool)) == "<<a>> b<< c d>> e<< f>>"


def test_random_highlight_counts_and_avoids():
    rng = np.random.default_rng(0)
    avoid = np.zeros(12, bool)
    avoid[[2, 5]] = True
    for n in range(0, 11):
        mask = random_highlight(12, n, rng, avoid=avoid)
        assert mask.sum() == n and not (mask & avoid).any()
    full = random_highlight(12, 11, rng, avoid=avoid)
    assert full.sum() == 11 and (full & avoid).sum() == 1  # only 10 free tokens


def test_build_examples_top_train_quantile_test_random_negatives(cache):
    config = ExampleConfig(
        window=16, n_quantiles=5, n_train=6, n_test_per_quantile=4, n_negatives=30
    )
    ex = build_examples(cache, 0, DECODE, config, seed=1)
    tokens, acts = cache.windows(0, 16)
    peak = acts.max(axis=1)
    active = np.flatnonzero(peak > 0)
    assert ex.n_activating == active.size and ex.max_activation == pytest.approx(peak.max())
    # training examples are the strongest windows
    train_windows = [e.window for e in ex.train]
    assert sorted(peak[train_windows]) == sorted(np.sort(peak[active])[-6:])
    # test examples: 4 per quantile, from the right rank bin, disjoint from training
    bins = dict(zip(active.tolist(), rank_quantiles(peak[active], 5).tolist(), strict=False))
    assert [len(v) for v in ex.test_quantiles().values()] == [4] * 5
    for e in ex.test:
        assert bins[e.window] == e.quantile and e.window not in train_windows and e.activating
        assert np.array_equal(e.token_ids, tokens[e.window])
        assert e.text == "".join(DECODE(tokens[e.window].tolist()))
    # negatives: silent windows, no repeats
    neg = [e.window for e in ex.negatives]
    assert len(neg) == len(set(neg)) == 30
    assert (peak[neg] == 0).all() and all(e.quantile == -1 for e in ex.negatives)
    # animal words are where the latent fires
    for e in ex.train:
        fired = {e.tokens[i].strip() for i in np.flatnonzero(e.activations > 0)}
        assert fired <= set(ANIMALS)
    same = build_examples(cache, 0, DECODE, config, seed=1)
    other = build_examples(cache, 0, DECODE, config, seed=2)
    assert [e.window for e in same.negatives] == neg
    assert [e.window for e in other.negatives] != neg


def test_negatives_without_replacement_exhaust_the_pool():
    small = synthetic_cache(rows=20, ctx_len=16, p_animal=0.02, seed=3)
    silent = int((small.windows(0, 16)[1].max(axis=1) == 0).sum())
    ex = build_examples(small, 0, DECODE, ExampleConfig(window=16, n_negatives=10 * silent))
    assert len({e.window for e in ex.negatives}) == len(ex.negatives) == silent


def test_neighbour_negatives_are_where_neighbours_fire(cache):
    config = ExampleConfig(window=8, n_negatives=40, negatives="neighbours")
    ex = build_examples(cache, 0, DECODE, config, neighbours=[1])
    own = cache.windows(0, 8)[1].max(axis=1)
    other = cache.windows(1, 8)[1].max(axis=1)
    from_neighbours = [e.window for e in ex.negatives if e.source == "neighbours"]
    assert len(from_neighbours) == 40
    assert (other[from_neighbours] > 0).all() and (own[from_neighbours] == 0).all()
    with pytest.raises(ValueError, match="neighbouring latents"):
        build_examples(cache, 0, DECODE, config)


def test_similar_negatives_are_nearest_by_embedding(cache):
    # embedding: 2-d, pointing along x when the text holds a colour word, else along y;
    # the activating examples hold no colour word, so the nearest negatives are colour-free
    def embed(texts):
        return np.array(
            [
                [0.0, 1.0]
                if any(c in t for c in ("red", "blue", "green", "yellow"))
                else [1.0, 0.1]
                for t in texts
            ]
        )

    config = ExampleConfig(
        window=8, n_train=5, n_negatives=10, negatives="similar", candidate_pool=6
    )
    ex = build_examples(cache, 0, DECODE, config, embed=embed)
    assert len(ex.negatives) == 10 and all(e.source == "similar" for e in ex.negatives)
    assert all(embed([e.text])[0, 0] == 1.0 for e in ex.negatives)
    ref = np.array([[1.0, 0.0]])
    cand = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    assert nearest_by_embedding(ref, cand, 3).tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="embed function"):
        build_examples(cache, 0, DECODE, ExampleConfig(window=8, negatives="similar"))


def test_decoder_neighbours():
    w = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [0.7, 0.7]])
    assert decoder_neighbours(w, 0, 2).tolist() == [1, 4]
    assert 0 not in decoder_neighbours(w, 0, 10).tolist()


def test_silent_latent_and_invalid_cache(cache, tmp_path):
    with pytest.raises(ValueError, match="never fires"):
        build_examples(cache, 2, DECODE)
    with pytest.raises(ValueError, match="expected"):
        ActivationCache(np.zeros((2, 4), int), np.array([0]), np.zeros((1, 2, 5)))
    path = cache.save(tmp_path / "cache.npz")
    loaded = ActivationCache.load(path)
    assert np.array_equal(loaded.tokens, cache.tokens)
    assert np.array_equal(loaded.activations, cache.activations)
