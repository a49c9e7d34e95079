"""Logit and tuned lenses on tiny random GPT-2, Llama, Mamba and RWKV models."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from interp_tiny_models import (
    D_MODEL,
    one_thread,  # noqa: F401 - autouse fixture
    random_tokens,
    tiny_gpt2,
    tiny_llama,
    tiny_mamba,
    tiny_rwkv,
)

from interp.models.architectures import model_parts, residuals_and_logits
from interp.interventions.lens import (
    LensTrainConfig,
    TunedLens,
    evaluate_lenses,
    train_tuned_lens,
)

BUILDERS = {"gpt2": tiny_gpt2, "llama": tiny_llama, "mamba": tiny_mamba, "rwkv": tiny_rwkv}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_last_layer_logit_lens_is_the_model(name):
    model = BUILDERS[name]()
    parts = model_parts(model)
    assert parts.recurrent == (name in ("mamba", "rwkv"))
    assert parts.d_model == D_MODEL
    residuals, logits = residuals_and_logits(model, parts, random_tokens(2, 9))
    assert len(residuals) == parts.num_layers + 1
    assert all(h.shape == (2, 9, D_MODEL) for h in residuals)
    with torch.no_grad():
        assert torch.allclose(parts.logits(residuals[-1]), logits, atol=1e-5)
        # earlier layers are not the output (the lens has something to learn)
        assert (parts.logits(residuals[1]) - logits).abs().max() > 1e-2
        embeddings = model.get_input_embeddings()(random_tokens(2, 9))
    if name != "gpt2":  # GPT-2 adds position embeddings before the first block
        assert torch.allclose(residuals[0], embeddings, atol=1e-6)


@pytest.mark.parametrize("name", ["gpt2", "mamba"])
def test_tuned_lens_beats_logit_lens_at_every_layer(name):
    model = BUILDERS[name]()
    parts = model_parts(model)
    train, held_out = random_tokens(64, 16, seed=1), random_tokens(16, 16, seed=2)
    lens = train_tuned_lens(model, train, LensTrainConfig(steps=100, lr=0.1, seed=0))
    report = evaluate_lenses(model, held_out, lens)
    last = parts.num_layers
    assert report.layers == tuple(range(last + 1))
    assert report.n_tokens == held_out.numel()
    for layer in range(last):
        assert report.logit_lens[layer] > 0.05
        assert report.tuned_lens[layer] < 0.8 * report.logit_lens[layer], layer
    # at the last layer both lenses are the model itself, and that translator never moves
    assert report.logit_lens[last] < 1e-6 and report.tuned_lens[last] < 1e-6
    norms = lens.translator_norms()
    assert norms[last] < 1e-6
    assert norms[:last].min() > 0.1


def test_untrained_lens_is_the_logit_lens_and_round_trips(tmp_path):
    model = tiny_llama()
    tokens = random_tokens(4, 12, seed=3)
    lens = TunedLens.for_model(model)
    report = evaluate_lenses(model, tokens, lens)
    assert torch.allclose(
        torch.as_tensor(report.tuned_lens), torch.as_tensor(report.logit_lens), atol=1e-7
    )
    trained = train_tuned_lens(model, tokens, LensTrainConfig(steps=5, lr=0.1), lens=lens)
    assert trained.translator_norms()[0] > 0
    copy = TunedLens.load(trained.save(tmp_path / "lens"))
    for a, b in zip(copy.state_dict().values(), trained.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    rows = evaluate_lenses(model, tokens, copy).rows()
    assert len(rows) == 3 and rows[0][0] == "0"


def test_training_is_seeded_and_leaves_the_model_alone():
    model = tiny_gpt2()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tokens = random_tokens(32, 8, seed=4)
    config = LensTrainConfig(steps=8, batch_size=4, seed=7)
    a = train_tuned_lens(model, tokens, config)
    b = train_tuned_lens(model, tokens, config)
    c = train_tuned_lens(model, tokens, LensTrainConfig(steps=8, batch_size=4, seed=8))
    assert torch.equal(a.translators[0].weight, b.translators[0].weight)
    assert not torch.equal(a.translators[0].weight, c.translators[0].weight)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in model.parameters())


def test_lens_errors():
    model = tiny_gpt2()
    with pytest.raises(ValueError, match="lens has 2 layers"):
        train_tuned_lens(model, random_tokens(4, 8), lens=TunedLens(2, D_MODEL))
    with pytest.raises(ValueError, match="tokens must have shape"):
        evaluate_lenses(model, random_tokens(4, 8)[0])
    with pytest.raises(ValueError, match="optimizer"):
        LensTrainConfig(optimizer="lbfgs")
    with pytest.raises(KeyError, match="unknown architecture"):
        model_parts(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="all three"):
        model_parts(model, blocks="transformer.h")
    explicit = model_parts(
        model, blocks="transformer.h", final_norm="transformer.ln_f", unembed="lm_head"
    )
    assert explicit.num_layers == 3
