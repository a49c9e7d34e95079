"""Result tables (JSON lines and netCDF) and activation caching from a model."""

import json
import math

import numpy as np
import pytest

from interp.scorers.results import load_explanations, load_results, save_results, to_dataset
from interp.scorers.scoring import ScoreResult

ROWS = [
    ScoreResult(3, "detection", "oracle", {"f1": 1.0, "auc": float("nan")}, 10, 2, "cats"),
    ScoreResult(3, "intruder", "oracle", {"accuracy": 0.5, "chance": 0.25}, 4),
    ScoreResult(1, "detection", "oracle", {"f1": 0.5, "auc": 0.75}, 10, 0, "dogs"),
]


def test_jsonl_round_trip(tmp_path):
    path = save_results(ROWS, tmp_path / "sub" / "scores.jsonl")
    rows = load_results(path)
    assert [r["latent"] for r in rows] == [3, 3, 1]
    assert rows[0]["f1"] == 1.0 and rows[0]["auc"] is None  # nan is written as null
    assert rows[0]["n_failed"] == 2 and rows[1]["explanation"] is None
    assert load_explanations(path) == {3: "cats", 1: "dogs"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"latent": 1}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_results(bad)
    with pytest.raises(ValueError, match=".jsonl or .nc"):
        save_results(ROWS, tmp_path / "scores.csv")


def test_netcdf_is_a_labelled_table(tmp_path):
    xr = pytest.importorskip("xarray")
    path = save_results(ROWS, tmp_path / "scores.nc")
    with xr.open_dataset(path) as ds:
        assert ds.latent.values.tolist() == [1, 3]
        assert ds.scorer.values.tolist() == ["detection", "intruder"]
        assert ds["f1"].sel(scorer="detection").values.tolist() == [0.5, 1.0]
        assert math.isnan(float(ds["f1"].sel(scorer="intruder", latent=3)))
        assert float(ds["accuracy"].sel(scorer="intruder", latent=3)) == 0.5
        assert ds["explanation"].values.tolist() == ["dogs", "cats"]
        assert ds.attrs["scored_by"] == "oracle"
    with pytest.raises(ValueError, match="scorer"):
        to_dataset([{"latent": 1, "x": 1.0}])


def test_cache_activations_match_direct_encoding():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from interp.activations.caching import cache_activations
    from interp.coders.sparse_coder import build_coder
    from interp.coders.config import CoderConfig

    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=30, n_positions=16)
    model = transformers.GPT2Model(config).eval()
    tokens = torch.randint(0, 30, (5, 12), generator=torch.Generator().manual_seed(1))
    for transcode in (False, True):
        coder = build_coder(16, CoderConfig(num_latents=24, k=3, transcode=transcode), seed=0)
        cache = cache_activations(model, coder, tokens, "h.0.mlp", [4, 0, 17], batch_size=2)
        seen: dict = {}

        def record(module, args, output, seen=seen):
            seen.update(x=args[0].reshape(-1, 16), y=output.reshape(-1, 16))

        handle = model.h[0].mlp.register_forward_hook(record)
        with torch.no_grad():
            model(input_ids=tokens)
            handle.remove()
            x = seen["x"] if transcode else seen["y"]
            dense = coder.encode(x).dense(24)[:, [4, 0, 17]].T.reshape(3, 5, 12).numpy()
        assert np.allclose(cache.activations, dense, atol=1e-5)
        assert np.array_equal(cache.tokens, tokens.numpy())
        assert (cache.activations > 0).any()
    with pytest.raises(ValueError, match="latents must be in"):
        cache_activations(model, coder, tokens, "h.0.mlp", [24])


def test_jsonl_rows_are_plain_json(tmp_path):
    path = save_results([{"latent": np.int64(2), "value": np.float32(0.5)}], tmp_path / "r.jsonl")
    assert json.loads(path.read_text()) == {"latent": 2, "value": 0.5}
