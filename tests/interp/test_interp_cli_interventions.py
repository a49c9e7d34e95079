"""The ``interp`` commands lens, steer, intervene, rewrite and spot, on a tiny local model."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from click.testing import CliRunner
from interp_tiny_models import (
    D_MODEL,
    VOCAB,
    one_thread,  # noqa: F401 - autouse fixture
    save_model_folder,
    tiny_gpt2,
)

from interp.cli import main
from interp.coders.sparse_coder import build_coder
from interp.coders.config import CoderConfig
from interp.coders.io import save_coder


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _table(output, first):
    """Rows of the table whose header starts with ``first``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith("wrote"):
            break
        rows.append(line.split())
    return rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    save_model_folder(tiny_gpt2(), root / "model")
    rng = np.random.default_rng(0)
    (root / "corpus.txt").write_text(" ".join(f"w{i}" for i in rng.integers(1, VOCAB, 640)))
    sae = build_coder(D_MODEL, CoderConfig(num_latents=64, k=4), seed=0)
    save_coder(sae, root / "sae")
    tc = build_coder(
        D_MODEL, CoderConfig(num_latents=64, k=4, transcode=True, skip_connection=True)
    )
    with torch.no_grad():
        tc.W_dec.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    save_coder(tc, root / "transcoder")
    return root


def test_lens_command(folder, tmp_path):
    res = _invoke(
        "lens",
        "--model",
        folder / "model",
        "--corpus",
        folder / "corpus.txt",
        "--ctx-len",
        16,
        "--steps",
        40,
        "--out",
        tmp_path / "lens",
        "--json",
        tmp_path / "lens.json",
    )
    assert res.exit_code == 0, res.output
    rows = _table(res.output, "layer")
    assert [r[0] for r in rows] == ["0", "1", "2", "3"]
    logit, tuned = np.array([[float(r[1]), float(r[2])] for r in rows]).T
    assert np.all(tuned[:3] < logit[:3]) and logit[3] < 1e-6
    assert (tmp_path / "lens" / "lens.safetensors").is_file()
    assert len(json.loads((tmp_path / "lens.json").read_text())["tuned_lens"]) == 4


def test_steer_command(folder, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rng = np.random.default_rng(1)
    with pairs.open("w") as handle:
        for _ in range(12):
            prompt = " ".join(f"w{i}" for i in rng.integers(30, VOCAB, 5))
            a = int(rng.integers(10, 20))
            record = {"prompt": prompt, "matching": f"w{a}", "non_matching": f"w{a + 10}"}
            handle.write(json.dumps(record) + "\n")
    res = _invoke(
        "steer",
        "--model",
        folder / "model",
        "--pairs",
        pairs,
        "--block",
        0,
        "--block",
        2,
        "--multipliers",
        "-1,0,1",
        "--positions",
        "last",
        "--out",
        tmp_path / "v.pt",
    )
    assert res.exit_code == 0, res.output
    rows = _table(res.output, "multiplier")
    assert [r[0] for r in rows] == ["-1", "0", "1"]
    assert all(0 < float(r[1]) < 1 for r in rows)
    vectors = torch.load(tmp_path / "v.pt")
    assert set(vectors) == {"0", "2"} and vectors["0"].shape == (D_MODEL,)
    assert "6 pairs build" in res.output

    bad = _invoke("steer", "--model", folder / "model", "--pairs", pairs, "--block", 9)
    assert bad.exit_code == 1 and "block 9" in bad.output


def test_intervene_command(folder, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("w3 w4 w5 w6 w7 w8\nw9 w10 w11 w12 w13 w14 w15\nw20 w21 w22 w23 w24 w25\n")
    res = _invoke(
        "intervene",
        "--model",
        folder / "model",
        "--coder",
        folder / "sae",
        "--module",
        "transformer.h.1",
        "--prompts",
        prompts,
        "--latent",
        3,
        "--latent",
        8,
        "--gen-tokens",
        4,
        "--json",
        tmp_path / "out.json",
    )
    assert res.exit_code == 0, res.output
    assert "3 prompts of 6 tokens" in res.output
    records = json.loads((tmp_path / "out.json").read_text())
    assert [r["latent"] for r in records] == [3, 8]
    for record in records:
        assert abs(record["kl"] - 0.5) <= 0.05 and record["converged"]
        assert len(record["promoted"]) == 10 and np.isfinite(record["score"])
        assert record["explanation"].startswith("makes the model say")


def test_rewrite_command(folder, tmp_path):
    res = _invoke(
        "rewrite",
        "--model",
        folder / "model",
        "--coder",
        folder / "transcoder",
        "--module",
        "transformer.h.1.mlp",
        "--corpus",
        folder / "corpus.txt",
        "--ctx-len",
        16,
        "--fractions",
        "0.5,1",
        "--simulator",
        "oracle",
        "--json",
        tmp_path / "rw.json",
    )
    assert res.exit_code == 0, res.output
    rows = json.loads((tmp_path / "rw.json").read_text())
    assert [r["n_rewritten"] for r in rows] == [32, 64]
    assert all(r["rewrite"] == pytest.approx(r["reconstruction"], abs=1e-5) for r in rows)

    sims = tmp_path / "sims.npy"
    np.save(sims, np.zeros((640, 64), dtype=np.float32))
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({str(i): float(i) for i in range(64)}))
    res = _invoke(
        "rewrite",
        "--model",
        folder / "model",
        "--coder",
        folder / "transcoder",
        "--module",
        "transformer.h.1.mlp",
        "--corpus",
        folder / "corpus.txt",
        "--ctx-len",
        16,
        "--fractions",
        "0.25",
        "--simulations",
        sims,
        "--scores",
        scores,
    )
    assert res.exit_code == 0, res.output
    assert _table(res.output, "fraction")[0][:3] == ["0.25", "16", "score"]

    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 64), dtype=np.float32))
    res = _invoke(
        "rewrite",
        "--model",
        folder / "model",
        "--coder",
        folder / "transcoder",
        "--module",
        "transformer.h.1.mlp",
        "--corpus",
        folder / "corpus.txt",
        "--ctx-len",
        16,
        "--simulations",
        wrong,
    )
    assert res.exit_code == 1 and "expected 640 rows" in res.output
    res = _invoke(
        "rewrite",
        "--model",
        folder / "model",
        "--coder",
        folder / "transcoder",
        "--module",
        "transformer.h.1.mlp",
        "--corpus",
        folder / "corpus.txt",
    )
    assert res.exit_code == 2 and "--simulations" in res.output


def test_spot_command(tmp_path):
    annotated = tmp_path / "annotated.json"
    annotated.write_text(
        json.dumps(
            [
                {"location": "Eq. 3", "description": "sign", "item": "p1"},
                {"location": "Table 2", "description": "swap", "item": "p1"},
            ]
        )
    )
    reported = tmp_path / "reported.jsonl"
    reported.write_text(
        '{"location": "eq 3", "item": "p1", "run": 0}\n'
        '{"location": "Fig 9", "item": "p1", "run": 0}\n'
        '{"location": "Eq. (3)", "item": "p1", "run": 1}\n'
        '{"location": "table 2", "item": "p1", "run": 1}\n'
    )
    res = _invoke("spot", "--annotated", annotated, "--reported", reported)
    assert res.exit_code == 0, res.output
    runs = _table(res.output, "run")
    assert runs == [["0", "2", "1", "0.500", "0.500"], ["1", "2", "2", "1.000", "1.000"]]
    metrics = dict(_table(res.output, "metric"))
    assert metrics["pass@2"] == "1.000" and metrics["found_by_all"] == "0.500"
    res = _invoke("spot", "--annotated", tmp_path / "nope.json", "--reported", reported)
    assert res.exit_code == 1 and "no findings file" in res.output
