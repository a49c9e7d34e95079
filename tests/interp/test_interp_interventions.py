"""Intervention scoring and partial rewrite on a tiny random GPT-2 (no download)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from interp_tiny_models import (
    D_MODEL,
    VOCAB,
    one_thread,  # noqa: F401 - autouse fixture
    random_tokens,
    tiny_gpt2,
)

from interp.coders.sparse_coder import build_coder
from interp.coders.config import CoderConfig
from interp.activations.hooks import collect_activations
from interp.interventions.intervention_scoring import (
    CoderSite,
    explanation_from_tokens,
    find_delta,
    intervention_kl,
    last_logits,
    latent_intervention,
    promoted_tokens,
    sample_continuations,
    surprisal_difference,
)
from interp.interventions.lens import kl_divergence
from interp.interventions.rewrite import (
    ArraySimulator,
    OracleSimulator,
    ZeroSimulator,
    mlp_replacement,
    next_token_losses,
    partial_rewrite,
    select_latents,
)
from interp.coders.training import TrainConfig, train_coder

BLOCK = "transformer.h.1"
MLP = "transformer.h.1.mlp"


@pytest.fixture(scope="module")
def model():
    return tiny_gpt2()


@pytest.fixture(scope="module")
def prompts():
    return random_tokens(8, 10, seed=3)


@pytest.fixture(scope="module")
def sae_site():
    coder = build_coder(D_MODEL, CoderConfig(num_latents=64, k=4), seed=0)
    return CoderSite(BLOCK, coder)


@pytest.fixture(scope="module")
def transcoder_site(model):
    batches = random_tokens(48, 16, seed=1).split(16)
    x, y = collect_activations(model, batches, [MLP], inputs=True, progress=False)[MLP]
    cfg = CoderConfig(num_latents=64, k=6, transcode=True, skip_connection=True)
    result = train_coder(
        x,
        y,
        coder_config=cfg,
        train_config=TrainConfig(batch_size=128, num_steps=100),
        progress=False,
    )
    return CoderSite(MLP, result.coder)


# ------------------------------------------------------------------ interventions
@pytest.mark.parametrize("target", [0.5, 0.1])
def test_delta_search_reaches_target_kl(model, prompts, sae_site, target):
    search = find_delta(model, prompts, sae_site, latent=7, target_kl=target, rtol=0.05)
    assert search.converged
    assert abs(search.kl - target) <= 0.1 * target
    # the reported KL is what the intervention really does at that delta
    kl = intervention_kl(model, prompts, sae_site, 7, search.delta).mean().item()
    assert kl == pytest.approx(search.kl, rel=1e-5)
    # the KL grows with delta along the search
    deltas, kls = np.array(search.history).T
    order = np.argsort(deltas)
    assert np.all(np.diff(kls[order]) >= -1e-6)


def test_zero_delta_keeps_the_model_despite_a_poor_coder(model, prompts, sae_site):
    clean = last_logits(model, prompts)
    with latent_intervention(model, sae_site, 3, 0.0):
        same = last_logits(model, prompts)
    assert torch.allclose(same, clean, atol=1e-5)
    # the untrained coder reconstructs badly, so the error term is really being kept
    with torch.no_grad():
        h = model(input_ids=prompts, output_hidden_states=True).hidden_states[2]
        recon = sae_site.coder(h.reshape(-1, D_MODEL)).fvu
    assert recon > 0.3


def test_intervention_adds_the_decoder_row_at_one_position(model, prompts, sae_site):
    outputs = {}

    def record(name):
        def hook(module, args, output):
            outputs[name] = (output[0] if isinstance(output, tuple) else output).detach().clone()

        return hook

    block = model.get_submodule(BLOCK)
    handle = block.register_forward_hook(record("clean"))
    with torch.no_grad():
        model(input_ids=prompts)
    handle.remove()
    delta = 2.5
    with latent_intervention(model, sae_site, 11, delta, position=4):
        # registered after the intervention hook, so it sees the edited output
        handle = block.register_forward_hook(record("edited"))
        with torch.no_grad():
            model(input_ids=prompts)
        handle.remove()
    change = outputs["edited"] - outputs["clean"]
    expected = delta * sae_site.coder.W_dec[11].detach()
    assert torch.allclose(change[:, 4], expected.expand(len(prompts), -1), atol=1e-5)
    others = [p for p in range(prompts.shape[1]) if p != 4]
    assert change[:, others].abs().max() == 0


def test_promoted_tokens_find_a_planted_token(model, prompts):
    # a latent whose decoder row is token 17's (tied) unembedding, written after the last block
    coder = build_coder(D_MODEL, CoderConfig(num_latents=16, k=2), seed=1)
    with torch.no_grad():
        row = model.lm_head.weight[17] - model.lm_head.weight[17].mean()
        coder.W_dec[5] = row / row.norm()
    site = CoderSite("transformer.h.2", coder)
    search = find_delta(model, prompts, site, 5, target_kl=0.5)
    promoted = promoted_tokens(model, prompts, site, 5, search.delta, k=3)
    assert promoted.token_ids[0] == 17
    assert promoted.increase[0] > 0.05
    assert np.all(np.diff(promoted.increase) <= 0)
    assert "'a'" in explanation_from_tokens(["a", "b"])


class _CountingLoss:
    """Scoring model stub: the explanation's loss drops by 0.1 nat per occurrence of a word."""

    def __init__(self, word):
        self.word = word

    def loss(self, prefixes, texts):
        return np.array([5.0 - 0.1 * p.split().count(self.word) for p in prefixes])


def test_surprisal_difference_and_paired_generations(model, prompts):
    clean = sample_continuations(model, prompts, 6, seed=4)
    again = sample_continuations(model, prompts, 6, seed=4)
    assert torch.equal(clean, again)
    assert torch.equal(clean[:, : prompts.shape[1]], prompts)
    lm = _CountingLoss("w17")
    texts_clean = ["w1 w2 w3", "w17 w4"]
    texts_edit = ["w17 w17 w3", "w17 w4"]
    diff = surprisal_difference(lm, "w17", texts_clean, texts_edit)
    assert diff == pytest.approx([0.2, 0.0])
    with pytest.raises(ValueError, match="equal"):
        surprisal_difference(lm, "w17", texts_clean, texts_edit[:1])


def test_generation_with_intervention_promotes_the_planted_token(model, prompts):
    coder = build_coder(D_MODEL, CoderConfig(num_latents=16, k=2), seed=1)
    with torch.no_grad():
        row = model.lm_head.weight[17] - model.lm_head.weight[17].mean()
        coder.W_dec[5] = row / row.norm()
    site = CoderSite("transformer.h.2", coder)
    many = random_tokens(32, 6, seed=9)
    clean = sample_continuations(model, many, 1, seed=0)[:, -1]
    edited = sample_continuations(model, many, 1, seed=0, intervention=(site, 5, 50.0))[:, -1]
    assert (edited == 17).sum() > (clean == 17).sum() + 10


def test_delta_search_errors(model, prompts, sae_site):
    dead = build_coder(D_MODEL, CoderConfig(num_latents=8, k=2, transcode=True), seed=0)
    site = CoderSite(MLP, dead)  # a transcoder's decoder starts at zero: no effect at all
    with pytest.raises(ValueError, match="reaches only KL"):
        find_delta(model, prompts, site, 0, log10_limits=(-2, 3))
    with pytest.raises(IndexError), latent_intervention(model, sae_site, 999, 1.0):
        pass


# ------------------------------------------------------------------ partial rewrite
def _loss_with(model, site, mode, tokens, **kwargs):
    with torch.no_grad(), mlp_replacement(model, site, mode, **kwargs):
        return next_token_losses(model(input_ids=tokens).logits, tokens).mean().item()


def test_perfect_simulator_gives_the_reconstruction_loss(model, transcoder_site):
    tokens = random_tokens(8, 16, seed=5)
    oracle = OracleSimulator(model, transcoder_site)
    for fraction, scores in [(1.0, None), (0.5, None), (0.25, np.arange(64.0))]:
        result = partial_rewrite(
            model, tokens, transcoder_site, oracle, fraction, scores=scores, seed=2
        )
        assert result.n_rewritten == round(fraction * 64)
        assert result.rewrite == pytest.approx(result.reconstruction, abs=1e-5)
        assert result.kl_rewrite == pytest.approx(result.kl_reconstruction, abs=1e-6)
    # a trained transcoder stays much closer to the clean model than zero-ablation
    assert 0 < result.kl_reconstruction < 0.5 * result.kl_zero_ablation


def _drop_bias_and_skip(coder):
    saved = coder.b_dec.detach().clone(), coder.W_skip.detach().clone()
    with torch.no_grad():
        coder.b_dec.zero_()
        coder.W_skip.zero_()
    return saved


def test_zero_simulator_moves_the_loss_to_zero_ablation(model, transcoder_site):
    tokens = random_tokens(8, 16, seed=6)
    zero = ZeroSimulator()
    coder = transcoder_site.coder
    # with every latent simulated as zero, only b_dec + W_skip x is left of the transcoder
    full = partial_rewrite(model, tokens, transcoder_site, zero, 1.0)
    mlp = model.get_submodule(MLP)

    def bias_and_skip(module, args, output):
        return coder.b_dec + args[0] @ coder.W_skip.T

    handle = mlp.register_forward_hook(bias_and_skip)
    try:
        with torch.no_grad():
            expected = next_token_losses(model(input_ids=tokens).logits, tokens).mean().item()
    finally:
        handle.remove()
    assert full.rewrite == pytest.approx(expected, abs=1e-5)
    # without those two terms the rewrite walks from the reconstruction to zero-ablation
    saved = _drop_bias_and_skip(coder)
    try:
        results = [partial_rewrite(model, tokens, transcoder_site, zero, f) for f in (0, 0.5, 1)]
        with torch.no_grad(), mlp_replacement(model, transcoder_site, "zero_ablation"):
            ablated = model(input_ids=tokens).logits
        gaps = []
        for f in (0, 0.5, 1):
            with (
                torch.no_grad(),
                mlp_replacement(
                    model,
                    transcoder_site,
                    "rewrite",
                    latents=select_latents(64, f),
                    simulated=zero(tokens, select_latents(64, f)),
                ),
            ):
                gaps.append(kl_divergence(ablated, model(input_ids=tokens).logits).mean().item())
    finally:
        with torch.no_grad():
            coder.b_dec.copy_(saved[0])
            coder.W_skip.copy_(saved[1])
    assert results[0].rewrite == pytest.approx(results[0].reconstruction, abs=1e-6)
    assert results[2].rewrite == pytest.approx(results[2].zero_ablation, abs=1e-6)
    assert results[2].kl_rewrite == pytest.approx(results[2].kl_zero_ablation, abs=1e-6)
    assert gaps[2] < 1e-6 < gaps[1] < gaps[0]


def test_rewrite_only_touches_given_positions(model, transcoder_site):
    tokens = random_tokens(4, 12, seed=7)
    with torch.no_grad():
        clean = model(input_ids=tokens).logits
        with mlp_replacement(model, transcoder_site, "zero_ablation", positions=[8, 9]):
            edited = model(input_ids=tokens).logits
    assert torch.equal(edited[:, :8], clean[:, :8])
    assert (edited[:, 8:] - clean[:, 8:]).abs().max() > 1e-3
    assert _loss_with(model, transcoder_site, "clean", tokens) == pytest.approx(
        next_token_losses(clean, tokens).mean().item()
    )


def test_array_simulator_and_latent_selection(model, transcoder_site):
    tokens = random_tokens(4, 12, seed=8)
    oracle = OracleSimulator(model, transcoder_site)
    everything = oracle(tokens, torch.arange(64))
    array = ArraySimulator(everything)
    result = partial_rewrite(model, tokens, transcoder_site, array, 1.0, batch_size=2)
    assert result.rewrite == pytest.approx(result.reconstruction, abs=1e-5)
    with pytest.raises(ValueError, match="predictions cover"):
        array(tokens, torch.arange(3))
    scores = np.full(128, np.nan)  # selection alone, for a coder of 128 latents
    scores[[3, 9, 40]] = [0.2, 0.9, 0.5]
    assert select_latents(128, 2 / 128, scores=scores).tolist() == [9, 40]
    with pytest.raises(ValueError, match="only 3 have a score"):
        select_latents(128, 0.5, scores=scores)
    a, b = select_latents(128, 0.25, seed=1), select_latents(128, 0.25, seed=1)
    assert torch.equal(a, b) and len(a) == 32 and len(set(a.tolist())) == 32
    assert not torch.equal(a, select_latents(128, 0.25, seed=2))


def test_rewrite_needs_a_transcoder(model, sae_site):
    with pytest.raises(ValueError, match="transcoder"):
        partial_rewrite(model, random_tokens(2, 8), sae_site, ZeroSimulator(), 0.5)


def test_kl_of_identical_logits_is_zero():
    logits = torch.randn(3, VOCAB, generator=torch.Generator().manual_seed(0))
    assert kl_divergence(logits, logits).abs().max() < 1e-6
    assert (kl_divergence(logits, logits.roll(1, 0)) > 0).all()


class _ScriptedJudge:
    """Answers scores requests with 0, 1, 2, ... per token (fails on the second latent)."""

    name = "scripted"

    def __init__(self):
        self.requests = []

    def answer(self, requests):
        from interp.judges.protocol import JudgeAnswer

        out = []
        for request in requests:
            self.requests.append(request)
            if request.kind == "text":
                out.append(JudgeAnswer("numbers"))
            elif "second" in request.messages[-1]["content"]:
                out.append(JudgeAnswer(None, error="malformed answer"))
            else:
                out.append(JudgeAnswer([float(i % 11) for i in range(request.n_options)]))
        return out


def test_judge_simulator_and_judge_explanation():
    from interp.interventions.rewrite import JudgeSimulator

    judge = _ScriptedJudge()
    simulator = JudgeSimulator(
        judge,
        {4: "first feature", 9: "second feature"},
        {4: 5.0, 9: 3.0},
        decode=lambda ids: [f"w{i}" for i in ids],
    )
    predicted = simulator(random_tokens(2, 6, seed=1), torch.tensor([4, 9]))
    assert predicted.shape == (2, 6, 2)
    assert torch.allclose(predicted[0, :, 0], torch.arange(6.0) * 0.5)  # 0-10 scale * max / 10
    assert predicted[:, :, 1].abs().max() == 0  # failed answers predict nothing
    assert len(judge.requests) == 4 and judge.requests[0].n_options == 6
    with pytest.raises(KeyError, match="no explanation"):
        simulator(random_tokens(1, 6), torch.tensor([5]))
    assert explanation_from_tokens(["1", "2"], judge) == "numbers"
    assert "'1', '2'" in judge.requests[-1].messages[-1]["content"]
