"""Training: feature recovery, skip transcoders, checkpoints, dead latents, L1 bisection."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from interp.coders.calibration import match_l0_by_l1  # noqa: E402
from interp.coders.sparse_coder import build_coder  # noqa: E402
from interp.coders.config import CoderConfig  # noqa: E402
from interp.coders.io import load_coder  # noqa: E402
from interp.coders.matching import recovered_fraction  # noqa: E402
from interp.coders.metrics import evaluate  # noqa: E402
from interp.coders.synthetic import make_sparse_dataset, make_transcoder_dataset  # noqa: E402
from interp.coders.training import (  # noqa: E402
    BatchSampler,
    DeadLatentTracker,
    TrainConfig,
    train_coder,
    train_seeds,
)


def test_topk_sae_recovers_true_features():
    data = make_sparse_dataset(8192, 32, 64, 3, seed=0)
    cfg = CoderConfig(k=3, num_latents=128)
    untrained = build_coder(32, cfg, seed=0)
    assert recovered_fraction(data.features, untrained, threshold=0.9) < 0.2
    result = train_coder(
        data.x,
        coder_config=cfg,
        train_config=TrainConfig(batch_size=256, num_steps=1000),
        seed=0,
        progress=False,
    )
    assert recovered_fraction(data.features, result.coder, threshold=0.9) >= 0.9
    assert torch.allclose(result.coder.decoder_norms(), torch.ones(128), atol=1e-5)
    ev = evaluate(result.coder, data.x)
    assert ev.l0 <= 3.0 and ev.fvu < 0.3
    assert result.history[-1].fvu < result.history[0].fvu


def test_skip_transcoder_beats_transcoder_and_learns_affine_part():
    data = make_transcoder_dataset(8192, 32, 64, 3, seed=0)
    train = TrainConfig(batch_size=256, num_steps=1500)
    fvus = {}
    coders = {}
    for skip in (False, True):
        cfg = CoderConfig(k=4, num_latents=128, transcode=True, skip_connection=skip)
        result = train_coder(
            data.x, data.y, coder_config=cfg, train_config=train, seed=0, progress=False
        )
        fvus[skip] = evaluate(result.coder, data.x, data.y).fvu
        coders[skip] = result.coder
    assert fvus[True] < 0.5 * fvus[False]
    affine = data.mlp.affine
    w_skip = coders[True].W_skip.detach()
    assert float((w_skip - affine).norm() / affine.norm()) < 0.25


def test_resume_from_checkpoint_matches_uninterrupted_run(tmp_path):
    data = make_sparse_dataset(1024, 8, 16, 2, seed=1)
    cfg = CoderConfig(k=2, num_latents=32)
    full = TrainConfig(batch_size=100, num_steps=30, save_every=10, log_every=1)
    straight = train_coder(data.x, coder_config=cfg, train_config=full, seed=3, progress=False)
    first = dataclasses.replace(full, num_steps=12)
    train_coder(
        data.x,
        coder_config=cfg,
        train_config=first,
        seed=3,
        checkpoint_dir=tmp_path / "ckpt",
        progress=False,
    )
    assert (tmp_path / "ckpt" / "state.pt").is_file()
    assert load_coder(tmp_path / "ckpt").num_latents == 32
    resumed = train_coder(
        data.x,
        coder_config=cfg,
        train_config=full,
        seed=3,
        checkpoint_dir=tmp_path / "ckpt",
        resume=True,
        progress=False,
    )
    assert resumed.history[0].step == 12
    for p, q in zip(straight.coder.parameters(), resumed.coder.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    with pytest.raises(ValueError, match="different coder"):
        train_coder(
            data.x,
            coder_config=CoderConfig(k=3, num_latents=32),
            train_config=full,
            seed=3,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
            progress=False,
        )
    with pytest.raises(ValueError, match="seed"):
        train_coder(
            data.x,
            coder_config=cfg,
            train_config=full,
            seed=4,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
            progress=False,
        )


def test_seeds_share_batch_order_but_not_weights():
    data = make_sparse_dataset(512, 8, 16, 2, seed=2)
    cfg = CoderConfig(k=2, num_latents=16)
    train = TrainConfig(batch_size=64, num_steps=20)
    a, b = train_seeds(data.x, coder_config=cfg, train_config=train, seeds=[0, 1], progress=False)
    (again,) = train_seeds(data.x, coder_config=cfg, train_config=train, seeds=[0], progress=False)
    assert torch.equal(a.coder.W_dec, again.coder.W_dec)
    assert not torch.equal(a.coder.W_dec, b.coder.W_dec)


def test_batch_sampler_is_reproducible_and_resumable():
    s = BatchSampler(10, 4, seed=0)
    first = [s.next() for _ in range(3)]
    assert all(len(b) == 4 for b in first)
    assert len(set(torch.cat(first[:2]).tolist())) == 8  # no repeats within an epoch
    state = s.state_dict()
    later = [s.next() for _ in range(4)]
    t = BatchSampler(10, 4, seed=0)
    t.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(later, [t.next() for _ in range(4)], strict=True))
    assert BatchSampler(3, 8, seed=0).next().numel() == 3


def test_dead_latent_tracker():
    tracker = DeadLatentTracker(4, threshold=10)
    tracker.update(torch.tensor([True, False, False, False]), 6)
    assert tracker.tokens_since_fired.tolist() == [0, 6, 6, 6]
    assert not tracker.dead_mask.any()
    tracker.update(torch.tensor([False, True, False, False]), 6)
    assert tracker.dead_mask.tolist() == [False, False, True, True]
    assert tracker.dead_fraction == pytest.approx(0.5)


def test_auxk_gradient_reduces_auxk_loss():
    data = make_sparse_dataset(512, 16, 32, 3, seed=3)
    coder = build_coder(16, CoderConfig(k=1, num_latents=64), seed=0)
    coder.initialize_from_data_(data.x)
    dead = torch.zeros(64, dtype=torch.bool)
    dead[32:] = True
    opt = torch.optim.Adam(coder.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        out = coder(data.x, dead_mask=dead)
        opt.zero_grad()
        out.auxk_loss.backward()
        opt.step()
        losses.append(out.auxk_loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_l1_bisection_matches_target_l0():
    data = make_sparse_dataset(2048, 16, 32, 3, seed=4)
    train = TrainConfig(batch_size=128, num_steps=300)
    relu = CoderConfig(activation="relu", k=0, num_latents=32)
    cal = match_l0_by_l1(
        data.x,
        target_l0=3.0,
        coder_config=relu,
        train_config=train,
        low=0.01,
        high=1.0,
        rel_tol=0.1,
        max_probes=8,
        progress=False,
    )
    assert cal.relative_error <= 0.1
    assert evaluate(cal.result.coder, data.x).l0 == pytest.approx(cal.l0)
    by_coef = sorted(cal.probes, key=lambda p: p.l1_coefficient)
    assert by_coef[0].l0 > 3.0 > by_coef[-1].l0
    with pytest.raises(ValueError, match="ReLU"):
        match_l0_by_l1(
            data.x, target_l0=3.0, coder_config=CoderConfig(k=2, num_latents=8), train_config=train
        )


def test_train_config_and_data_validation():
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="l1_coefficient"):
        TrainConfig(l1_coefficient=-1.0)
    assert TrainConfig().learning_rate(2**14) == pytest.approx(2e-4)
    assert TrainConfig(batch_size=100).steps_for(1000) == 10
    x = torch.randn(50, 4)
    with pytest.raises(ValueError, match="targets"):
        train_coder(x, coder_config=CoderConfig(k=1, num_latents=8, transcode=True), progress=False)
    with pytest.raises(ValueError, match="same shape"):
        train_coder(
            x, torch.randn(50, 5), coder_config=CoderConfig(k=1, num_latents=8), progress=False
        )
