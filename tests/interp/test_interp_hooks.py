"""Forward hooks on a tiny random GPT-2 built from a config (no download)."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from interp.coders.config import CoderConfig  # noqa: E402
from interp.activations.hooks import ActivationRecorder, collect_activations  # noqa: E402
from interp.coders.metrics import evaluate  # noqa: E402
from interp.coders.training import TrainConfig, train_coder  # noqa: E402

D_MODEL = 32


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=D_MODEL,
        n_head=2,
        vocab_size=50,
        n_positions=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2Model(config).eval()


@pytest.fixture(scope="module")
def tokens():
    return torch.randint(0, 50, (6, 16), generator=torch.Generator().manual_seed(0))


def test_records_mlp_input_and_output(gpt2, tokens):
    with ActivationRecorder(gpt2, ["h.0.ln_2", "h.0.mlp", "h.0"], inputs=True) as rec:
        rec.run(input_ids=tokens)
    acts = rec.collected()
    mlp = acts["h.0.mlp"]
    assert mlp.input.shape == (6 * 16, D_MODEL) and mlp.output.shape == (6 * 16, D_MODEL)
    # the MLP input is the second layer norm's output, and the output is the MLP applied to it
    assert torch.allclose(mlp.input, acts["h.0.ln_2"].output)
    with torch.no_grad():
        assert torch.allclose(mlp.output, gpt2.h[0].mlp(mlp.input), atol=1e-5)
        hidden = gpt2(input_ids=tokens, output_hidden_states=True).hidden_states
    assert torch.allclose(acts["h.0"].output, hidden[1].reshape(-1, D_MODEL), atol=1e-5)
    assert not gpt2.h[0].mlp._forward_hooks  # hooks removed on exit


def test_stop_early_skips_later_layers(gpt2, tokens):
    calls = []
    handle = gpt2.h[1].register_forward_hook(lambda *args: calls.append(1))
    try:
        with ActivationRecorder(gpt2, ["h.0.mlp"]) as rec:
            rec.run(input_ids=tokens)
        assert calls == []
        with ActivationRecorder(gpt2, ["h.0.mlp"], stop_early=False) as rec:
            rec.run(input_ids=tokens)
        assert calls == [1]
    finally:
        handle.remove()


def test_collect_over_batches_keeps_token_order(gpt2, tokens):
    acts = collect_activations(gpt2, tokens.split(2), ["h.1.mlp"], progress=False)
    with ActivationRecorder(gpt2, ["h.1.mlp"]) as rec:
        rec.run(input_ids=tokens)
    assert acts["h.1.mlp"].input is None
    assert torch.allclose(acts["h.1.mlp"].output, rec.collected()["h.1.mlp"].output, atol=1e-5)


def test_unknown_module_name(gpt2):
    with pytest.raises(KeyError, match="h.0.mlp"):
        ActivationRecorder(gpt2, ["h.9.mlp"])
    with pytest.raises(ValueError):
        ActivationRecorder(gpt2, ["h.0.mlp"], inputs=False, outputs=False)


def test_transcoder_trains_on_hooked_mlp(gpt2):
    batches = torch.randint(0, 50, (32, 16), generator=torch.Generator().manual_seed(1)).split(8)
    acts = collect_activations(gpt2, batches, ["h.0.mlp"], inputs=True, progress=False)
    x, y = acts["h.0.mlp"]
    cfg = CoderConfig(k=8, num_latents=128, transcode=True, skip_connection=True)
    result = train_coder(
        x,
        y,
        coder_config=cfg,
        train_config=TrainConfig(batch_size=128, num_steps=150),
        progress=False,
    )
    assert evaluate(result.coder, x, y).fvu < 0.1
