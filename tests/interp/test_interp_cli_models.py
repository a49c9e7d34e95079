"""Every command that takes a model takes the bundled one by name; errors name the flag."""

from pathlib import Path

import numpy as np

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from click.testing import CliRunner
from interp_tiny_models import D_MODEL, VOCAB, save_model_folder, tiny_gpt2

from interp.models.bundled import load_causal_lm as load_bundled
from interp.models.bundled import smollm2_gguf
from interp.cli import main
from interp.coders.sparse_coder import build_coder
from interp.coders.config import CoderConfig
from interp.models.hf import load_causal_lm, load_model, load_tokenizer
from interp.coders.io import save_coder


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    save_model_folder(tiny_gpt2(), root / "model")
    rng = np.random.default_rng(0)
    (root / "corpus.txt").write_text(" ".join(f"w{i}" for i in rng.integers(1, VOCAB, 400)))
    (root / "pairs.jsonl").write_text('{"prompt": "w1", "matching": "w2", "non_matching": "w3"}\n')
    (root / "prompts.txt").write_text("w1 w2 w3\n")
    save_coder(build_coder(D_MODEL, CoderConfig(num_latents=16, k=2)), root / "sae")
    return root


def _commands(root, model):
    corpus, sae = root / "corpus.txt", root / "sae"
    return {
        "train": ["train", "--out", root / "out", "--model", model, "--module", "h.0",
                  "--corpus", corpus],
        "lens": ["lens", "--model", model, "--corpus", corpus],
        "steer": ["steer", "--model", model, "--pairs", root / "pairs.jsonl", "--block", 0],
        "intervene": ["intervene", "--model", model, "--coder", sae, "--module", "h.0",
                      "--prompts", root / "prompts.txt", "--latent", 0],
        "rewrite": ["rewrite", "--model", model, "--coder", sae, "--module", "h.0.mlp",
                    "--corpus", corpus, "--simulator", "zero"],
        "explain": ["explain", sae, "--model", model, "--module", "h.0", "--corpus", corpus,
                    "--latents", "0", "-o", root / "e.jsonl"],
        "score": ["score", sae, "--model", model, "--module", "h.0", "--corpus", corpus,
                  "--latents", "0", "--scorer", "intruder", "-o", root / "s.jsonl"],
    }  # fmt: skip


@pytest.mark.parametrize(
    "command", ["train", "lens", "steer", "intervene", "rewrite", "explain", "score"]
)
def test_missing_model_errors_name_the_flags(files, command):
    res = _invoke(*_commands(files, files / "nowhere")[command])
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: --model: no model folder at")
    assert "--allow-download" in last and "'smollm2'" in last
    assert "Traceback" not in res.output


def test_other_model_flags_are_named(files):
    args = _commands(files, files / "model")["intervene"]
    res = _invoke(*args, "--scorer", files / "nowhere")
    assert res.exit_code == 1 and "Error: --scorer: no model folder at" in res.output
    res = _invoke(*_commands(files, files / "model")["explain"], "--judge", files / "nowhere")
    assert res.exit_code == 1 and "Error: --judge: no model at" in res.output


@pytest.fixture(scope="module")
def smollm2():
    try:
        smollm2_gguf()
    except FileNotFoundError as err:
        pytest.skip(f"bundled model not installed: {err}")
    return load_bundled("smollm2", "cpu")


def test_loaders_accept_the_bundled_name(smollm2):
    model, tokenizer = smollm2
    assert load_causal_lm("smollm2") is model and load_model("smollm2") is model
    assert load_tokenizer("smollm2") is tokenizer


def test_lens_and_train_run_on_the_bundled_model(smollm2, tmp_path):
    model, _ = smollm2
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat. " * 40)
    res = _invoke("lens", "--model", "smollm2", "--corpus", corpus, "--ctx-len", 16,
                  "--max-tokens", 64, "--steps", 0)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"smollm2: {model.config.num_hidden_layers} blocks" in res.output
    res = _invoke("train", "--out", tmp_path / "out", "--model", "smollm2", "--module",
                  "model.layers.0.mlp", "--corpus", corpus, "--ctx-len", 16, "--max-tokens",
                  64, "--num-latents", 64, "-k", 4, "--steps", 2, "--batch-size", 32,
                  "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "model.layers.0.mlp" / "cfg.json").is_file()


def test_gguf_model_is_converted_once_and_loads_the_same_from_the_cache(smollm2, tmp_path,
                                                                        monkeypatch):
    """A later process loads the saved conversion: same weights, tokens and chat template."""
    import torch

    from interp.models import bundled

    model, tokenizer = smollm2  # converted (or read from the user cache) once for this file
    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path / "cache"))
    folder = bundled.converted_folder(smollm2_gguf())
    assert folder.parent == tmp_path / "cache" and not folder.exists()
    bundled._save_converted(model, tokenizer, folder)
    assert (folder / "COMPLETE").is_file() and (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pkl"))
    assert not [p for p in folder.parent.iterdir() if p != folder]  # no staging left
    cached_model, cached_tokenizer = bundled.load_causal_lm.__wrapped__("smollm2")
    assert cached_model is not model
    text = "The soup simmered with garlic and onions."
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert torch.equal(cached_tokenizer(text, return_tensors="pt")["input_ids"], ids)
    assert cached_tokenizer.chat_template == tokenizer.chat_template
    assert cached_tokenizer.pad_token_id == tokenizer.pad_token_id
    with torch.no_grad():
        assert torch.equal(cached_model(ids).logits, model(ids).logits)
    # a cache that cannot be written is skipped without an error
    bundled._save_converted(model, tokenizer, Path("/proc/interp-cache") / folder.name)
