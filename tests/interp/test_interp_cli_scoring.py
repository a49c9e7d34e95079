"""``interp explain`` and ``interp score`` on a tiny GPT-2 (no download), and the local judge."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
xr = pytest.importorskip("xarray")
from click.testing import CliRunner  # noqa: E402

from interp.cli import main  # noqa: E402
from interp.cli.scoring import parse_latents  # noqa: E402
from interp.judges.local import TransformersJudge  # noqa: E402
from interp.judges.protocol import JudgeRequest  # noqa: E402
from interp_tiny_models import save_word_level_gpt2  # noqa: E402

WORDS = "the cat sat on a mat while the dog ran to the park and back again".split()
DIGITS = [str(i) for i in range(10)]


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with a tiny GPT-2 language model and a word-level tokenizer, a corpus and
    a TopK coder trained on the model's first MLP with interp train."""
    root = tmp_path_factory.mktemp("tiny")
    folder = root / "tiny-gpt2"
    save_word_level_gpt2(folder, WORDS + DIGITS, n_positions=1024, lm_head=True)
    corpus = root / "corpus.txt"
    rng = np.random.default_rng(0)
    corpus.write_text(" ".join(rng.choice(WORDS, size=2000)))
    res = _invoke(
        "train",
        "--model",
        folder,
        "--module",
        "h.0.mlp",
        "--corpus",
        corpus,
        "--ctx-len",
        "32",
        "--out",
        root / "coders",
        "--num-latents",
        "32",
        "-k",
        "4",
        "--batch-size",
        "256",
        "--steps",
        "200",
        "--auxk-alpha",
        "0.1",
        "--dead-threshold",
        "512",
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    return {"model": folder, "corpus": corpus, "coder": root / "coders" / "h.0.mlp", "root": root}


def _source(tiny, cache=None):
    args = [
        "--model",
        tiny["model"],
        "--module",
        "h.0.mlp",
        "--corpus",
        tiny["corpus"],
        "--ctx-len",
        "32",
        "--window",
        "8",
        "--n-quantiles",
        "3",
        "--n-train",
        "4",
        "--n-test",
        "2",
        "--n-negatives",
        "6",
        "--judge",
        tiny["model"],
    ]
    return args + (["--cache", cache] if cache else [])


def test_local_judge_answers_binary_by_logprobs(tiny):
    judge = TransformersJudge(str(tiny["model"]))
    msgs = ({"role": "user", "content": "is the cat on the mat"},)
    answers = judge.answer(
        [
            JudgeRequest(msgs, "binary"),
            JudgeRequest(msgs, "choice", 3),
            JudgeRequest(msgs, "scores", 2, max_tokens=4),
        ]
    )
    binary, choice, scores = answers
    assert binary.ok and 0 < binary.p_true < 1 and binary.value == int(binary.p_true >= 0.5)
    assert choice.ok and choice.value in (0, 1, 2)
    # the random model does not write "k k": a malformed answer, reported as such
    assert scores.ok or scores.error.startswith("malformed")
    assert judge.model is TransformersJudge(str(tiny["model"])).model  # loaded once


def test_explain_then_score(tiny):
    root = tiny["root"]
    cache = root / "cache.npz"
    explanations = root / "explanations.jsonl"
    res = _invoke(
        "explain", tiny["coder"], *_source(tiny, cache), "--latents", "0-31", "-o", explanations
    )
    assert res.exit_code == 0, res.output
    assert cache.is_file() and "explanation" in res.output
    rows = [json.loads(line) for line in explanations.read_text().splitlines()]
    assert len(rows) >= 3 and {r["latent"] for r in rows} <= set(range(32))
    for r in rows:
        assert (r["explanation"] is None) != (r["error"] is None)
        assert r["n_activating"] > 0 and r["judge"].startswith("local:")

    out = root / "scores.nc"
    res = _invoke(
        "score",
        tiny["coder"],
        *_source(tiny, cache),
        "--explanations",
        explanations,
        "--scorer",
        "detection",
        "--scorer",
        "fuzzing",
        "--scorer",
        "intruder",
        "--n-options",
        "3",
        "-o",
        out,
    )
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    explained = sorted(r["latent"] for r in rows if r["explanation"])
    assert list(ds.scorer.values) == ["detection", "fuzzing", "intruder"]
    assert ds.latent.values.tolist() == explained
    acc = ds["balanced_accuracy"].sel(scorer="detection").values
    defined = acc[np.isfinite(acc)]  # undefined for latents firing in every window
    assert defined.size and np.all((defined >= 0) & (defined <= 1))
    assert (ds["n_failed"].sel(scorer="detection").values == 0).all()  # restricted answers
    chance = ds["chance"].sel(scorer="intruder").values
    # latents that fire in every window have no intruders: skipped with a message
    assert np.isfinite(chance).any() and (chance[np.isfinite(chance)] == pytest.approx(1 / 3))
    assert res.output.count("intruder skipped") == int(np.isnan(chance).sum())
    summary = res.output.split("across latents")[1].splitlines()
    assert summary[1].split()[:4] == ["scorer", "metric", "latents", "mean"]
    det = next(line.split() for line in summary if line.startswith("detection"))
    assert det[2] == f"{defined.size}/{len(explained)}"
    assert float(det[3]) == pytest.approx(defined.mean(), abs=5e-4)
    ds.close()

    jsonl = root / "free.jsonl"
    res = _invoke(
        "score",
        tiny["coder"],
        *_source(tiny, cache),
        "--scorer",
        "intruder",
        "--latents",
        ",".join(map(str, explained)),
        "--n-options",
        "3",
        "-o",
        jsonl,
    )
    assert res.exit_code == 0, res.output
    assert all(json.loads(line)["scorer"] == "intruder" for line in jsonl.read_text().splitlines())


def test_cli_errors_are_one_line(tiny):
    res = _invoke(
        "score",
        tiny["coder"],
        *_source(tiny),
        "--scorer",
        "detection",
        "--latents",
        "0",
        "-o",
        tiny["root"] / "x.jsonl",
    )
    assert res.exit_code != 0 and "--explanations is needed by: detection" in res.output
    res = _invoke(
        "explain", tiny["coder"], *_source(tiny), "--latents", "999", "-o", tiny["root"] / "x.jsonl"
    )
    assert res.exit_code == 1 and "Error: latent 999 out of range" in res.output
    res = _invoke(
        "explain",
        tiny["coder"],
        *_source(tiny),
        "--latents",
        "0-31",
        "--judge",
        "http",
        "--judge-base-url",
        "http://127.0.0.1:9/v1",
        "--judge-model",
        "m",
        "--judge-retries",
        "0",
        "-o",
        tiny["root"] / "x.jsonl",
    )
    assert res.exit_code == 1 and "cannot reach the judge server" in res.output


def test_parse_latents():
    assert parse_latents("0-3,7,2") == [0, 1, 2, 3, 7]
    for bad in ("", "a", "5-2", "-1"):
        with pytest.raises(Exception, match="latents"):
            parse_latents(bad)
