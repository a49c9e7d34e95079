"""Synthetic data with known features."""

import pytest

torch = pytest.importorskip("torch")

from interp.coders.synthetic import (  # noqa: E402
    firing_probabilities,
    make_sparse_dataset,
    make_transcoder_dataset,
    random_directions,
    sample_codes,
)


def test_firing_probabilities():
    p = firing_probabilities(50, 4.0, exponent=1.0)
    assert float(p.sum()) == pytest.approx(4.0, rel=1e-5)
    assert bool((p[:-1] >= p[1:]).all())
    capped = firing_probabilities(10, 5.0, exponent=3.0)
    assert float(capped.max()) == pytest.approx(1.0)
    assert float(capped.sum()) == pytest.approx(5.0, rel=1e-5)
    assert torch.allclose(firing_probabilities(8, 2.0), torch.full((8,), 0.25))
    with pytest.raises(ValueError):
        firing_probabilities(8, 9.0)


def test_codes_have_requested_marginals():
    p = firing_probabilities(16, 3.0, exponent=0.5)
    codes = sample_codes(40000, p, seed=0)
    observed = (codes > 0).float().mean(0)
    assert torch.allclose(observed, p, atol=0.015)
    active = codes[codes > 0]
    assert float(active.min()) >= 0.5 and float(active.max()) < 1.5


def test_correlation_makes_groups_fire_together():
    p = torch.full((8,), 0.2)
    indep = sample_codes(40000, p, correlation=0.0, n_groups=2, seed=0) > 0
    corr = sample_codes(40000, p, correlation=0.6, n_groups=2, seed=0) > 0
    # features 0 and 2 share a group (i mod 2); compare co-firing rates
    both_indep = float((indep[:, 0] & indep[:, 2]).float().mean())
    both_corr = float((corr[:, 0] & corr[:, 2]).float().mean())
    assert both_indep == pytest.approx(0.04, abs=0.01)
    assert both_corr > 2 * both_indep
    assert float(corr[:, 0].float().mean()) == pytest.approx(0.2, abs=0.01)


def test_dataset_is_reproducible_and_consistent():
    a = make_sparse_dataset(500, 12, 30, 3.0, seed=5)
    b = make_sparse_dataset(500, 12, 30, 3.0, seed=5)
    c = make_sparse_dataset(500, 12, 30, 3.0, seed=6)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    assert torch.allclose(a.features.norm(dim=1), torch.ones(30))
    assert torch.allclose(a.x, a.codes @ a.features, atol=1e-5)
    assert a.mean_active == pytest.approx(3.0, abs=0.3)
    noisy = make_sparse_dataset(500, 12, 30, 3.0, noise_std=0.1, seed=5)
    assert not torch.allclose(noisy.x, a.x)
    assert random_directions(5, 3, seed=0).shape == (5, 3)


def test_transcoder_dataset_outputs_come_from_the_mlp():
    data = make_transcoder_dataset(300, 8, 16, 2.0, seed=0)
    mlp = data.mlp
    manual = (
        data.x @ mlp.affine.T
        + mlp.affine_bias
        + torch.relu(data.x @ mlp.w_in.T + mlp.b_in) @ mlp.w_out
    )
    assert torch.allclose(data.y, manual, atol=1e-5)
    hidden_l0 = float((mlp.hidden(data.x) > 0).sum(1).float().mean())
    assert 0 < hidden_l0 < 16
