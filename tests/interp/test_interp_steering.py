"""Contrastive activation addition on tiny random transformer and recurrent models."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from interp_tiny_models import (
    D_MODEL,
    VOCAB,
    one_thread,  # noqa: F401 - autouse fixture
    tiny_gpt2,
    tiny_mamba,
    tiny_rwkv,
    word_tokenizer,
)

from interp.models.architectures import model_parts
from interp.interventions.steering import (
    ContrastivePair,
    lda_direction,
    matching_probability,
    mean_difference,
    multiplier_sweep,
    pairs_from_text,
    rwkv_state_matching_probability,
    rwkv_state_vector,
    steer,
    steering_vectors,
)

MATCHING = range(10, 20)  # answers that show the behaviour: token i
NON_MATCHING_OFFSET = 10  # ... and their counterparts: token i + 10
STRENGTH = 4.0
MULTIPLIERS = [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0]
BUILDERS = {"gpt2": tiny_gpt2, "mamba": tiny_mamba, "rwkv": tiny_rwkv}


def _direction():
    u = torch.randn(D_MODEL, generator=torch.Generator().manual_seed(5))
    return u / u.norm()


def _planted_model(name):
    """A tiny model whose behaviour-matching answers differ from their partners by 4 u.

    Tokens i and i + 10 (i in 10..19) share a random embedding, plus 4 u for token i;
    embeddings and unembeddings are tied, so adding u to the residual stream raises
    the logits of the matching answers.
    """
    model = BUILDERS[name](init=0.1)
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[20:30] = emb[10:20]
        emb[10:20] += STRENGTH * _direction()
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()
    return model


def _pairs(n, seed):
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(n):
        prompt = tuple(int(t) for t in torch.randint(30, VOCAB, (6,), generator=gen))
        answer = int(torch.randint(MATCHING.start, MATCHING.stop, (1,), generator=gen))
        pairs.append(ContrastivePair(prompt, answer, answer + NON_MATCHING_OFFSET))
    return pairs


@pytest.mark.parametrize("name", ["gpt2", "mamba", "rwkv"])
def test_planted_direction_is_recovered_and_steers(name):
    model = _planted_model(name)
    parts = model_parts(model)
    u = _direction()
    vectors = steering_vectors(model, _pairs(32, seed=0), range(parts.num_layers))
    cosines = [float(torch.nn.functional.cosine_similarity(v, u, dim=0)) for v in vectors.values()]
    assert cosines[0] > 0.9, cosines
    assert min(cosines) > 0.85, cosines

    held_out = _pairs(16, seed=1)
    unit = {0: vectors[0] / vectors[0].norm()}
    sweep = multiplier_sweep(model, held_out, unit, MULTIPLIERS)
    assert sweep.matching.shape == (len(MULTIPLIERS), 16)
    assert np.all(np.diff(sweep.mean) > 0), sweep.mean
    assert sweep.mean[-1] > sweep.mean[3] + 0.2 and sweep.mean[0] < sweep.mean[3] - 0.2
    unsteered = matching_probability(model, held_out)
    assert np.allclose(sweep.matching[3], unsteered, atol=1e-6)
    # a direction orthogonal to u, of the same size, does far less
    other = torch.randn(D_MODEL, generator=torch.Generator().manual_seed(11))
    other = other - (other @ unit[0]) * unit[0]
    control = multiplier_sweep(model, held_out, {0: other / other.norm()}, [-1.0, 1.0])
    assert abs(control.mean[1] - control.mean[0]) < 0.5 * (sweep.mean[-1] - sweep.mean[0])


def test_steer_edits_only_the_given_positions_and_cleans_up():
    model = tiny_gpt2(init=0.1)
    parts = model_parts(model)
    ids = torch.tensor([list(range(30, 38))])
    vector = torch.ones(D_MODEL)
    seen = {}
    handle = parts.blocks[0].register_forward_hook(lambda m, a, o: seen.setdefault("clean", o))
    with torch.no_grad():
        model(input_ids=ids)
    handle.remove()
    with steer(model, {0: vector}, 2.0, positions=[-1, 2]):
        handle = parts.blocks[0].register_forward_hook(lambda m, a, o: seen.setdefault("edit", o))
        with torch.no_grad():
            model(input_ids=ids)
        handle.remove()
    first = lambda o: o[0] if isinstance(o, tuple) else o
    change = first(seen["edit"]) - first(seen["clean"])
    assert torch.allclose(change[0, [2, 7]], torch.full((2, D_MODEL), 2.0))
    assert change[0, [0, 1, 3, 4, 5, 6]].abs().max() == 0
    assert not parts.blocks[0]._forward_hooks
    with pytest.raises(ValueError, match="block 7"), steer(model, {7: vector}, 1.0):
        pass
    with pytest.raises(ValueError, match="shape"), steer(model, {0: torch.ones(3)}, 1.0):
        pass


def test_lda_finds_the_discriminant_axis_that_the_mean_difference_misses():
    gen = torch.Generator().manual_seed(0)
    d, n = 4, 2000
    scale = torch.tensor([1.0, 10.0, 1.0, 1.0])  # noisy second axis
    shift = torch.tensor([1.0, 1.0, 0.0, 0.0])
    pos = torch.randn(n, d, generator=gen) * scale + shift / 2
    neg = torch.randn(n, d, generator=gen) * scale - shift / 2
    e1 = torch.tensor([1.0, 0.0, 0.0, 0.0])
    cos = torch.nn.functional.cosine_similarity
    diff = mean_difference(pos, neg)
    lda = lda_direction(pos, neg, shrinkage=0.0)
    assert float(cos(lda, e1, dim=0)) > 0.99
    assert float(cos(diff, e1, dim=0)) < 0.9
    # the LDA vector is the mean difference's component along the axis (same sense)
    w_hat = lda / lda.norm()
    assert float(diff @ w_hat) == pytest.approx(float(lda.norm()), rel=1e-5)
    with pytest.raises(ValueError, match="shrinkage"):
        lda_direction(pos, neg, shrinkage=2.0)


def test_lda_steering_vectors_on_a_model():
    model = _planted_model("mamba")
    vectors = steering_vectors(model, _pairs(32, seed=0), [0], method="lda")
    u = _direction()
    assert float(torch.nn.functional.cosine_similarity(vectors[0], u, dim=0)) > 0.5
    with pytest.raises(ValueError, match="method"):
        steering_vectors(model, _pairs(4, seed=0), [0], method="pca")


def test_rwkv_state_steering():
    model = _planted_model("rwkv")
    pairs = _pairs(16, seed=0)
    state = rwkv_state_vector(model, pairs)
    assert len(state) == 5 and all(s.shape == (D_MODEL, 2) for s in state)
    held_out = _pairs(8, seed=1)
    # splitting the prompt into a state and its last token changes nothing by itself
    plain = matching_probability(model, held_out)
    same = rwkv_state_matching_probability(model, held_out, state, 0.0)
    assert np.allclose(same, plain, atol=1e-5)
    moved = rwkv_state_matching_probability(model, held_out, state, 1.0, components=[0])
    assert np.abs(moved - plain).max() > 1e-3
    with pytest.raises(ValueError, match="RWKV"):
        rwkv_state_vector(tiny_gpt2(), pairs)


def test_pairs_from_text():
    tok = word_tokenizer()
    records = [
        {"prompt": "w30 w31 w32", "matching": "w12", "non_matching": "w22"},
        {"prompt": "w33", "matching": "w13", "non_matching": "w23"},
    ]
    pairs = pairs_from_text(tok, records)
    assert pairs[0] == ContrastivePair((30, 31, 32), 12, 22)
    assert pairs[1].prompt == (33,)
    with pytest.raises(ValueError, match="single-token"):
        pairs_from_text(tok, [{"prompt": "w1", "matching": "w2 w3", "non_matching": "w4"}])
    with pytest.raises(KeyError, match="non_matching"):
        pairs_from_text(tok, [{"prompt": "w1", "matching": "w2"}])
    with pytest.raises(ValueError, match="both token"):
        ContrastivePair((1,), 2, 2)
