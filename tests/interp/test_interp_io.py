"""Saving and loading coders (reference layout) and activation files."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

from interp.coders.sparse_coder import build_coder  # noqa: E402
from interp.coders.config import CoderConfig  # noqa: E402
from interp.coders.io import (  # noqa: E402
    CoderFormatError,
    load_activations,
    load_coder,
    load_coders,
    save_coder,
)

CONFIGS = [
    CoderConfig(k=3, num_latents=24),
    CoderConfig(activation="relu", k=0, num_latents=24),
    CoderConfig(k=3, num_latents=24, transcode=True, skip_connection=True),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["topk-sae", "relu-sae", "skip-transcoder"])
def test_round_trip(tmp_path, cfg):
    coder = build_coder(6, cfg, seed=4)
    with torch.no_grad():
        for p in coder.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    folder = save_coder(coder, tmp_path / "layers.0.mlp")
    assert sorted(f.name for f in folder.iterdir()) == ["cfg.json", "sae.safetensors"]
    loaded = load_coder(folder)
    assert type(loaded) is type(coder)
    assert loaded.cfg == cfg and loaded.d_in == 6
    for (name, p), (name2, q) in zip(
        coder.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert name == name2 and torch.equal(p, q)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(coder(x, x).output, loaded(x, x).output)


def test_files_use_reference_names(tmp_path):
    coder = build_coder(4, CoderConfig(k=2, num_latents=8, skip_connection=True), seed=0)
    save_coder(coder, tmp_path)
    tensors = load_file(str(tmp_path / "sae.safetensors"))
    assert set(tensors) == {"encoder.weight", "encoder.bias", "W_dec", "b_dec", "W_skip"}
    assert tensors["W_dec"].shape == (8, 4) and tensors["encoder.weight"].shape == (8, 4)
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    assert cfg["d_in"] == 4 and cfg["k"] == 2 and cfg["num_latents"] == 8


def _write_reference_checkpoint(folder, d=8, m=16, dtype=torch.bfloat16):
    """A folder as published checkpoints have it: older cfg fields, bf16 tensors."""
    folder.mkdir(parents=True)
    cfg = {
        "expansion_factor": 2,
        "normalize_decoder": True,
        "num_latents": 0,
        "k": 4,
        "multi_topk": False,
        "signed": False,
        "d_in": d,
    }
    (folder / "cfg.json").write_text(json.dumps(cfg))
    gen = torch.Generator().manual_seed(0)
    tensors = {
        "encoder.weight": torch.randn(m, d, generator=gen).to(dtype),
        "encoder.bias": torch.randn(m, generator=gen).to(dtype),
        "W_dec": torch.randn(m, d, generator=gen).to(dtype),
        "b_dec": torch.randn(d, generator=gen).to(dtype),
    }
    save_file(tensors, str(folder / "sae.safetensors"))
    return tensors


def test_loads_reference_layout_checkpoint(tmp_path):
    tensors = _write_reference_checkpoint(tmp_path / "layers.6.mlp")
    coder = load_coder(tmp_path / "layers.6.mlp")
    assert coder.dtype == torch.bfloat16
    assert coder.cfg.activation == "topk" and coder.num_latents == 16 and coder.cfg.k == 4
    assert torch.equal(coder.W_dec, tensors["W_dec"])
    as_float = load_coder(tmp_path / "layers.6.mlp", dtype=torch.float32)
    assert as_float.dtype == torch.float32
    many = load_coders(tmp_path)
    assert list(many) == ["layers.6.mlp"]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no coder folder"):
        load_coder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="cfg.json"):
        load_coder(tmp_path / "empty")
    _write_reference_checkpoint(tmp_path / "bad")
    cfg = json.loads((tmp_path / "bad" / "cfg.json").read_text())
    cfg["d_in"] = 9
    (tmp_path / "bad" / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(CoderFormatError, match="shape"):
        load_coder(tmp_path / "bad")


def test_load_activations_formats(tmp_path):
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.save(tmp_path / "a.npy", arr)
    x = load_activations(tmp_path / "a.npy")
    assert x.shape == (6, 4) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(arr).reshape(6, 4))
    torch.save(torch.ones(5, 3, dtype=torch.float16), tmp_path / "t.pt")
    assert load_activations(tmp_path / "t.pt").dtype == torch.float32
    torch.save({"input": torch.zeros(4, 2), "output": torch.ones(4, 2)}, tmp_path / "d.pt")
    assert torch.equal(load_activations(tmp_path / "d.pt", "output"), torch.ones(4, 2))
    with pytest.raises(CoderFormatError, match="several entries"):
        load_activations(tmp_path / "d.pt")
    with pytest.raises(FileNotFoundError):
        load_activations(tmp_path / "nope.npy")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(CoderFormatError, match=".pt or .npy"):
        load_activations(tmp_path / "x.txt")
    np.save(tmp_path / "v.npy", np.ones(5, dtype=np.float32))
    with pytest.raises(CoderFormatError, match="matrix"):
        load_activations(tmp_path / "v.npy")
