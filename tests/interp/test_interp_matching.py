"""Hungarian matching, shared fractions and ground-truth recovery."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from interp.coders.sparse_coder import build_coder  # noqa: E402
from interp.coders.config import CoderConfig  # noqa: E402
from interp.coders.matching import (  # noqa: E402
    best_cosines,
    cosine_matrix,
    match_directions,
    recovered_fraction,
    shared_fractions,
)


def _coder(d=8, m=12, seed=0):
    return build_coder(d, CoderConfig(k=2, num_latents=m), seed=seed)


def _permuted_copy(coder, dec_perm, enc_perm, seed=99):
    other = _coder(coder.d_in, coder.num_latents, seed=seed)
    with torch.no_grad():
        other.W_dec.copy_(3.0 * coder.W_dec[dec_perm])  # scale must not matter
        other.encoder.weight.copy_(coder.encoder.weight[enc_perm])
    return other


def test_matching_recovers_a_permutation():
    a = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    m = match_directions(a, 2.0 * a[perm])
    partner = m.partner_of_a(10)
    assert np.array_equal(perm[partner].numpy(), np.arange(10))
    assert np.allclose(m.cosines, 1.0)


def test_shared_fractions_of_a_permuted_copy():
    a = _coder()
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    shared = shared_fractions(a, _permuted_copy(a, perm, perm))
    assert (shared.decoder, shared.encoder, shared.both) == (1.0, 1.0, 1.0)
    assert shared.n_pairs == 12


def test_both_requires_the_same_partner():
    a = _coder()
    p = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    q = torch.roll(p, 1)  # a different assignment for the encoder rows
    shared = shared_fractions(a, _permuted_copy(a, p, q))
    assert shared.decoder == 1.0 and shared.encoder == 1.0
    assert shared.both == 0.0


def test_independent_coders_share_little_and_threshold_matters():
    a, b = _coder(d=64, m=32, seed=0), _coder(d=64, m=32, seed=1)
    low = shared_fractions(a, b, threshold=0.7)
    assert low.decoder < 0.1 and low.both < 0.1
    assert shared_fractions(a, b, threshold=-1.0).decoder == 1.0


def test_partially_shared_latents_are_counted():
    a = _coder(d=64, m=20, seed=0)
    b = _coder(d=64, m=20, seed=1)
    with torch.no_grad():
        b.W_dec[:5] = a.W_dec[:5]
        b.encoder.weight[:5] = a.encoder.weight[:5]
    shared = shared_fractions(a, b)
    assert shared.decoder == pytest.approx(5 / 20)
    assert shared.both == pytest.approx(5 / 20)


def test_rectangular_and_mismatched_inputs():
    a, b = _coder(m=12), _coder(m=20, seed=1)
    assert shared_fractions(a, b).n_pairs == 12
    with pytest.raises(ValueError, match="input widths"):
        shared_fractions(_coder(d=8), _coder(d=9))
    with pytest.raises(ValueError):
        cosine_matrix(torch.ones(3, 4), torch.ones(3, 5))


def test_recovery_of_known_features():
    features = torch.eye(6)[:4]
    coder = _coder(d=6, m=8)
    with torch.no_grad():
        coder.W_dec.zero_()
        coder.W_dec[0] = features[0]
        coder.W_dec[1] = features[1] + 0.1 * features[2]  # cosine 0.995 with feature 1
        coder.W_dec[2] = features[2] + features[3]  # cosine 0.707 with features 2 and 3
    assert best_cosines(features, coder.W_dec)[0] == pytest.approx(1.0)
    assert recovered_fraction(features, coder, threshold=0.9) == pytest.approx(2 / 4)
    assert recovered_fraction(features, coder, threshold=0.7) == pytest.approx(4 / 4)
