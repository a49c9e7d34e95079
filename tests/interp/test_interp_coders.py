"""Sparse coders: forward pass, losses, decoder normalisation, initialisation."""

import pytest

torch = pytest.importorskip("torch")

from interp.coders.sparse_coder import (  # noqa: E402
    EncoderOutput,
    ReLUCoder,
    TopKCoder,
    build_coder,
)
from interp.coders.config import CoderConfig  # noqa: E402
from interp.coders.metrics import fvu, total_variance  # noqa: E402


def test_fvu_matches_hand_computation():
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y_hat = torch.tensor([[2.0, 2.0], [3.0, 5.0], [5.0, 6.0]])
    # column means (3, 4): squared deviations 4+4 + 0+0 + 4+4 = 16; squared errors 1 + 1 = 2
    assert float(total_variance(y)) == pytest.approx(16.0)
    assert float(fvu(y, y_hat)) == pytest.approx(2.0 / 16.0)
    assert float(fvu(y, y.mean(0).expand_as(y))) == pytest.approx(1.0)


def test_forward_fvu_equals_manual_reconstruction_error():
    coder = TopKCoder(6, CoderConfig(k=2, num_latents=12), seed=3)
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        coder.b_dec.copy_(torch.linspace(-1, 1, 6))
        out = coder(x)
        pre = torch.relu((x - coder.b_dec) @ coder.encoder.weight.T + coder.encoder.bias)
        z = torch.zeros_like(pre)
        top = pre.topk(2, dim=1)
        z.scatter_(1, top.indices, top.values)
        x_hat = z @ coder.W_dec + coder.b_dec
    assert torch.allclose(out.output, x_hat, atol=1e-5)
    manual = ((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert float(out.fvu) == pytest.approx(float(manual), rel=1e-5)
    assert float(out.l0) == pytest.approx(float((z > 0).sum(1).float().mean()))


def test_topk_keeps_k_largest_and_sparse_decode_matches_dense():
    coder = TopKCoder(8, CoderConfig(k=3, num_latents=32), seed=0)
    x = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lat = coder.encode(x)
        assert lat.acts.shape == (10, 3)
        kept = torch.sort(lat.acts, dim=1, descending=True).values
        assert torch.allclose(kept, lat.pre_acts.topk(3, dim=1).values)
        dense = EncoderOutput(lat.dense(32), None, lat.pre_acts)
        assert torch.allclose(coder.decode(lat), coder.decode(dense), atol=1e-6)


def test_relu_coder_l0_and_l1_loss():
    coder = ReLUCoder(5, CoderConfig(activation="relu", k=0, num_latents=7), seed=0)
    with torch.no_grad():
        coder.W_dec.mul_(torch.arange(1, 8, dtype=torch.float32)[:, None])  # row norms 1..7
    x = torch.randn(9, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = coder(x)
    z = out.latents.acts
    assert out.latents.indices is None
    assert float(out.l0) == pytest.approx(float((z > 0).sum(1).float().mean()))
    expected_l1 = (z * torch.arange(1, 8, dtype=torch.float32)).sum(1).mean()
    assert float(out.l1_loss) == pytest.approx(float(expected_l1), rel=1e-5)


def test_decoder_rows_unit_norm_and_gradient_orthogonal():
    coder = TopKCoder(16, CoderConfig(k=4, num_latents=64), seed=0)
    with torch.no_grad():
        coder.W_dec.mul_(3.0)
    coder.normalize_decoder_()
    assert torch.allclose(coder.decoder_norms(), torch.ones(64), atol=1e-5)
    x = torch.randn(128, 16, generator=torch.Generator().manual_seed(0))
    coder(x).fvu.backward()
    grad_before = coder.W_dec.grad.clone()
    parallel_before = (grad_before * coder.W_dec).sum(1).abs()
    assert parallel_before.max() > 1e-4  # the raw gradient has a parallel part to remove
    coder.remove_parallel_gradient_()
    parallel = (coder.W_dec.grad * coder.W_dec).sum(1)
    assert parallel.abs().max() < 1e-6
    # what remains is the original gradient minus its projection on each unit row
    w = coder.W_dec.detach()
    expected = grad_before - (grad_before * w).sum(1, keepdim=True) * w
    assert torch.allclose(coder.W_dec.grad, expected, atol=1e-6)


def test_transcoder_has_zero_decoder_and_no_normalisation():
    coder = build_coder(8, CoderConfig(k=2, num_latents=16, transcode=True), seed=0)
    assert not coder.normalizes_decoder
    assert torch.count_nonzero(coder.W_dec) == 0
    with pytest.raises(ValueError, match="target"):
        coder(torch.randn(4, 8))


def test_transcoder_ignores_b_dec_in_encoder_but_sae_subtracts_it():
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    for transcode, changes in [(True, False), (False, True)]:
        coder = build_coder(4, CoderConfig(k=2, num_latents=8, transcode=transcode), seed=1)
        before = coder.pre_activations(x).detach().clone()
        with torch.no_grad():
            coder.b_dec.fill_(0.5)
        after = coder.pre_activations(x).detach()
        assert (not torch.allclose(before, after)) == changes


def test_skip_term_is_added():
    coder = build_coder(
        4, CoderConfig(k=1, num_latents=8, transcode=True, skip_connection=True), seed=0
    )
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        coder.W_skip.copy_(2 * torch.eye(4))
        out = coder(x, torch.zeros(5, 4))
    # decoder is zero and b_dec zero, so the output is the skip term alone
    assert torch.allclose(out.output, 2 * x)


def test_data_init_sets_biases():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=gen) + 3.0
    y = torch.randn(200, 6, generator=gen) - 1.0
    tc = build_coder(6, CoderConfig(k=2, num_latents=12, transcode=True), seed=0)
    tc.initialize_from_data_(x, y)
    assert torch.allclose(tc.b_dec, y.mean(0))
    centred = x.mean(0) @ tc.encoder.weight.T + tc.encoder.bias
    assert torch.allclose(centred, torch.zeros(12), atol=1e-5)
    sae = build_coder(6, CoderConfig(k=2, num_latents=12), seed=0)
    sae.initialize_from_data_(x)
    assert torch.allclose(sae.b_dec, x.mean(0))
    assert torch.count_nonzero(sae.encoder.bias) == 0


def test_auxk_zero_without_dead_latents():
    coder = TopKCoder(8, CoderConfig(k=2, num_latents=32), seed=0)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    none_dead = torch.zeros(32, dtype=torch.bool)
    some_dead = none_dead.clone()
    some_dead[:10] = True
    with torch.no_grad():
        assert float(coder(x, dead_mask=none_dead).auxk_loss) == 0.0
        assert float(coder(x).auxk_loss) == 0.0
        assert float(coder(x, dead_mask=some_dead).auxk_loss) > 0.0


def test_auxk_does_not_add_b_dec_and_scales_with_dead_count():
    d, m = 8, 32
    coder = TopKCoder(d, CoderConfig(k=2, num_latents=m), seed=0)
    x = torch.randn(64, d, generator=torch.Generator().manual_seed(0))
    dead = torch.zeros(m, dtype=torch.bool)
    dead[:2] = True  # 2 dead latents, k_aux = d // 2 = 4, so scale = 1/2
    with torch.no_grad():
        coder.b_dec.fill_(5.0)
        coder.W_dec[:2] = 0.0  # dead latents decode to exactly zero
        out = coder(x, dead_mask=dead)
        residual = x - out.output
        expected = 0.5 * residual.pow(2).sum() / total_variance(x)
    # with b_dec added to e_hat the loss would be 0.5 * ||b_dec - e||^2 / var instead
    assert float(out.auxk_loss) == pytest.approx(float(expected), rel=1e-5)


def test_seeds_control_initialisation():
    cfg = CoderConfig(k=2, num_latents=16)
    a, b, c = (build_coder(8, cfg, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.encoder.weight, b.encoder.weight)
    assert not torch.equal(a.encoder.weight, c.encoder.weight)


def test_config_validation():
    with pytest.raises(ValueError, match="activation"):
        CoderConfig(activation="softmax")
    with pytest.raises(ValueError, match="k"):
        CoderConfig(k=0)
    with pytest.raises(ValueError, match="exceeds"):
        CoderConfig(k=20, num_latents=10).latents_for(4)
    assert CoderConfig(expansion_factor=4).latents_for(8) == 32
