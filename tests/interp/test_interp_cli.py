"""The ``interp`` command line: train and overlap."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from click.testing import CliRunner  # noqa: E402

from interp.cli import main  # noqa: E402
from interp.coders.io import load_coder  # noqa: E402
from interp.coders.synthetic import make_sparse_dataset  # noqa: E402
from interp_tiny_models import save_word_level_gpt2  # noqa: E402

SMALL = ["--num-latents", "32", "-k", "2", "--batch-size", "128", "--steps", "60", "--no-progress"]


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def activations(tmp_path):
    data = make_sparse_dataset(1024, 8, 16, 2, seed=0)
    path = tmp_path / "resid.npy"
    np.save(path, data.x.numpy())
    return path


def test_train_from_file_and_overlap(tmp_path, activations):
    out = tmp_path / "run"
    res = _invoke("train", "--activations", activations, "--out", out, "--seeds", "0,1", *SMALL)
    assert res.exit_code == 0, res.output
    assert "FVU" in res.output and "resid" in res.output
    for seed in (0, 1):
        folder = out / f"seed{seed}" / "resid"
        cfg = json.loads((folder / "cfg.json").read_text())
        assert cfg["d_in"] == 8 and cfg["num_latents"] == 32 and cfg["k"] == 2
        assert (folder / "sae.safetensors").is_file()
    a, b = out / "seed0" / "resid", out / "seed1" / "resid"
    assert not torch.equal(load_coder(a).W_dec, load_coder(b).W_dec)

    same = _invoke("overlap", a, a)
    assert same.exit_code == 0, same.output
    rows = {line.split()[0]: line.split() for line in same.output.splitlines() if line}
    assert rows["decoder"][1] == "1.000" and rows["both"][2] == "32/32"

    cross = _invoke("overlap", a, b, "--threshold", "0.99")
    assert cross.exit_code == 0, cross.output
    fractions = {
        k: float(rows_[1])
        for k, rows_ in (
            (line.split()[0], line.split()) for line in cross.output.splitlines() if line
        )
        if k in ("decoder", "encoder", "both")
    }
    assert set(fractions) == {"decoder", "encoder", "both"}
    assert all(0.0 <= f < 1.0 for f in fractions.values())


def test_train_relu_transcoder_with_targets(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 6, generator=gen)
    torch.save({"input": x, "output": x @ torch.randn(6, 6, generator=gen)}, tmp_path / "mlp.pt")
    out = tmp_path / "tc"
    res = _invoke(
        "train",
        "--activations",
        tmp_path / "mlp.pt",
        "--key",
        "input",
        "--targets",
        tmp_path / "mlp.pt",
        "--target-key",
        "output",
        "--transcode",
        "--skip",
        "--activation",
        "relu",
        "--l1-coefficient",
        "0.01",
        "--hookpoint",
        "layers.0.mlp",
        "--out",
        out,
        *SMALL,
    )
    assert res.exit_code == 0, res.output
    coder = load_coder(out / "layers.0.mlp")
    assert coder.cfg.transcode and coder.cfg.skip_connection and coder.cfg.activation == "relu"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--activations", "missing.npy"], "no activation file"),
        (["--activations", "{acts}", "--transcode"], "needs --targets"),
        (["--activations", "{acts}", "--transcode", "--targets", "{other}"], "different shapes"),
        (["--activations", "{acts}", "--num-latents", "4", "-k", "8"], "exceeds"),
        ([], "either --activations or --model"),
        (["--model", "nowhere", "--module", "h.0.mlp", "--corpus", "{acts}"], "no model folder"),
    ],
)
def test_train_errors_are_one_line(tmp_path, activations, args, message):
    other = tmp_path / "other.npy"
    np.save(other, np.zeros((10, 5), dtype=np.float32))
    args = [a.format(acts=activations, other=other) for a in args]
    res = _invoke("train", "--out", tmp_path / "o", "--no-progress", *args)
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if line.startswith("Error")]) == 1


def test_overlap_errors(tmp_path, activations):
    res = _invoke("overlap", tmp_path / "a", tmp_path / "b")
    assert res.exit_code == 1 and "no coder folder" in res.output
    wide = tmp_path / "wide.npy"
    np.save(wide, np.random.default_rng(0).normal(size=(256, 12)).astype(np.float32))
    for name, path in (("narrow", activations), ("wide", wide)):
        res = _invoke("train", "--activations", path, "--out", tmp_path / name, *SMALL)
        assert res.exit_code == 0, res.output
    res = _invoke("overlap", tmp_path / "narrow" / "resid", tmp_path / "wide" / "wide")
    assert res.exit_code == 1 and "different input widths" in res.output


def test_train_from_model_hooks(tmp_path):
    words = "the cat sat on a mat while the dog ran to the park and back again".split()
    rng = np.random.default_rng(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(rng.choice(words, size=800)))
    model = tmp_path / "tiny-gpt2"
    save_word_level_gpt2(model, words)
    out = tmp_path / "hooked"
    res = _invoke(
        "train",
        "--model",
        model,
        "--module",
        "h.0.mlp",
        "--module",
        "h.1.mlp",
        "--transcode",
        "--corpus",
        corpus,
        "--ctx-len",
        "16",
        "--out",
        out,
        *SMALL,
    )
    assert res.exit_code == 0, res.output
    for hook in ("h.0.mlp", "h.1.mlp"):
        coder = load_coder(out / hook)
        assert coder.d_in == 16 and coder.cfg.transcode
    res = _invoke(
        "train",
        "--model",
        model,
        "--module",
        "h.0.nope",
        "--corpus",
        corpus,
        "--ctx-len",
        "16",
        "--out",
        out,
        *SMALL,
    )
    assert res.exit_code == 1 and "no module named 'h.0.nope'" in res.output
