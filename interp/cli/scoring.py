"""Commands of the judge and scorer stages: ``interp explain`` and ``interp score``.

Both commands read a coder folder, run a model over a text corpus to cache
the chosen latents' activations at one module (or reuse a ``--cache``),
draw each latent's examples and then ask a judge. ``explain`` writes one
JSON line per latent with its explanation; ``score`` reads those
explanations and writes one row per latent and scorer (``.jsonl`` or
``.nc``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from interp.cli.common import (
    MODEL_HELP,
    _check_model,
    _for_flag,
    _print_table,
    _user_errors,
)

F = TypeVar("F", bound=Callable[..., Any])

SCORER_NAMES = (
    "detection",
    "fuzzing",
    "simulation",
    "intruder",
    "embedding",
    "example-embedding",
    "surprisal",
)
HEADLINE = {
    "detection": "balanced_accuracy",
    "fuzzing": "balanced_accuracy",
    "simulation": "pearson",
    "intruder": "accuracy",
    "embedding": "auc",
    "example-embedding": "auc",
    "surprisal": "auc",
}


def parse_latents(value: str) -> list[int]:
    """Parse ``"0-3,7"`` into ``[0, 1, 2, 3, 7]`` (distinct, in the order given)."""
    out: list[int] = []
    try:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            if "-" in part:
                lo, hi = part.split("-", 1)
                first, last = int(lo), int(hi)
                if last < first:
                    raise ValueError
                out.extend(range(first, last + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise click.BadParameter(f"expected latents like 0-3,7, got {value!r}") from None
    if not out or min(out) < 0:
        raise click.BadParameter(f"expected non-negative latents like 0-3,7, got {value!r}")
    return list(dict.fromkeys(out))


def _common_options(func: F) -> F:
    options = [
        click.argument("coder", type=click.Path(file_okay=False, path_type=Path)),
        click.option(
            "--model",
            "model_source",
            required=True,
            help="Model the coder was trained on: " + MODEL_HELP + " A folder loads as a base "
            "model, as interp train does.",
        ),
        click.option(
            "--allow-download", is_flag=True, help="Allow fetching --model from the hub."
        ),
        click.option("--module", required=True, help="Module the coder reads, e.g. h.0.mlp."),
        click.option(
            "--corpus",
            type=click.Path(dir_okay=False, path_type=Path),
            help="UTF-8 text run through the model (not needed with an existing --cache).",
        ),
        click.option(
            "--cache",
            "cache_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Activation cache (.npz): reused if it exists, written otherwise.",
        ),
        click.option("--ctx-len", default=64, show_default=True, help="Tokens per model row."),
        click.option("--max-tokens", type=int, default=None, help="Cap on corpus tokens."),
        click.option(
            "--model-batch-size", default=8, show_default=True, help="Rows per forward pass."
        ),
        click.option("--window", default=32, show_default=True, help="Tokens per example."),
        click.option("--n-quantiles", default=10, show_default=True, help="Rank quantiles."),
        click.option(
            "--n-train", default=20, show_default=True, help="Examples shown to the explainer."
        ),
        click.option(
            "--n-test", default=5, show_default=True, help="Held-out examples per quantile."
        ),
        click.option(
            "--n-negatives", default=50, show_default=True, help="Non-activating examples."
        ),
        click.option(
            "--negatives",
            type=click.Choice(["random", "similar", "neighbours"]),
            default="random",
            show_default=True,
            help="Non-activating examples: random silent windows, nearest by MiniLM "
            "embedding, or where the decoder-nearest latents fire.",
        ),
        click.option(
            "--n-neighbours",
            default=5,
            show_default=True,
            help="Decoder neighbours per latent for --negatives neighbours.",
        ),
        click.option(
            "--judge",
            "judge_source",
            default="smollm2",
            show_default=True,
            help="'smollm2' (bundled, local), a local model folder or .gguf file, or 'http' "
            "(an OpenAI-compatible server).",
        ),
        click.option(
            "--judge-base-url",
            default=None,
            help="Server root for --judge http, e.g. http://127.0.0.1:8000/v1 "
            "[default: $INTERP_JUDGE_BASE_URL].",
        ),
        click.option(
            "--judge-model",
            default=None,
            help="Model name for --judge http [default: $INTERP_JUDGE_MODEL].",
        ),
        click.option("--judge-api-key", default=None, help="[default: $INTERP_JUDGE_API_KEY]"),
        click.option(
            "--judge-timeout", default=60.0, show_default=True, help="Seconds per HTTP call."
        ),
        click.option("--judge-retries", default=3, show_default=True, help="HTTP retries."),
        click.option(
            "--judge-concurrency",
            default=4,
            show_default=True,
            help="HTTP requests in flight at once.",
        ),
        click.option(
            "--seed", default=0, show_default=True, help="Seed of every sample and bootstrap."
        ),
        click.option("--device", default="cpu", show_default=True),
        click.option(
            "--progress/--no-progress",
            default=True,
            show_default=True,
            help="Progress bars (on stderr, when it is a terminal).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _judge(opts: dict[str, Any]) -> Any:
    source = opts["judge_source"]
    if source == "http":
        from interp.judges.http import OpenAIJudge

        return OpenAIJudge(
            base_url=opts["judge_base_url"],
            model=opts["judge_model"],
            api_key=opts["judge_api_key"],
            timeout=opts["judge_timeout"],
            max_retries=opts["judge_retries"],
            concurrency=opts["judge_concurrency"],
        )
    from interp.judges.local import TransformersJudge

    if source != "smollm2" and not Path(source).exists():
        raise FileNotFoundError(
            f"--judge: no model at {source}; give 'smollm2' (bundled), a local model folder or "
            ".gguf file, or 'http' with --judge-base-url"
        )
    return TransformersJudge(source, device=opts["device"])


def _subject(opts: dict[str, Any]) -> tuple[Any, Any]:
    from interp.models.hf import load_model, load_tokenizer

    source, allow = opts["model_source"], opts["allow_download"]
    _check_model(source, allow)
    model = load_model(source, device=opts["device"], allow_download=allow)
    return model, load_tokenizer(source, allow_download=allow)


def _examples(opts: dict[str, Any], latents: list[int]) -> dict[int, Any]:
    """Cache activations (or load the cache) and draw every latent's examples."""
    from interp.activations.caching import cache_activations
    from interp.activations.examples import (
        ActivationCache,
        ExampleConfig,
        decoder_neighbours,
        examples_per_latent,
        token_decoder,
    )
    from interp.models.hf import tokenize_corpus
    from interp.coders.io import load_coder

    coder = load_coder(opts["coder"])
    if max(latents) >= coder.num_latents:
        raise ValueError(
            f"latent {max(latents)} out of range: the coder has {coder.num_latents} latents"
        )
    config = ExampleConfig(
        window=opts["window"],
        n_quantiles=opts["n_quantiles"],
        n_train=opts["n_train"],
        n_test_per_quantile=opts["n_test"],
        n_negatives=opts["n_negatives"],
        negatives=opts["negatives"],
    )
    neighbours = None
    needed = list(latents)
    if config.negatives == "neighbours":
        w_dec = coder.W_dec.detach().float().cpu().numpy()
        neighbours = {
            k: decoder_neighbours(w_dec, k, opts["n_neighbours"]).tolist() for k in latents
        }
        needed = list(dict.fromkeys(needed + [n for ns in neighbours.values() for n in ns]))
    model, tokenizer = _subject(opts)
    path = opts["cache_path"]
    if path is not None and path.is_file():
        cache = ActivationCache.load(path)
        missing = sorted(set(needed) - set(cache.latents.tolist()))
        if missing:
            raise ValueError(f"cache {path} lacks latents {missing[:8]}; delete it to rebuild")
    else:
        if opts["corpus"] is None:
            raise ValueError("give --corpus (or an existing --cache)")
        tokens = tokenize_corpus(tokenizer, opts["corpus"], opts["ctx_len"], opts["max_tokens"])
        cache = cache_activations(
            model,
            coder,
            tokens,
            opts["module"],
            needed,
            batch_size=opts["model_batch_size"],
            progress=_bars(opts),
        )
        if path is not None:
            cache.save(path)
    embed = None
    if config.negatives == "similar":
        from interp.models.embedding import MiniLMEmbedder

        embed = MiniLMEmbedder(device=opts["device"]).embed
    examples = examples_per_latent(
        cache,
        latents,
        token_decoder(tokenizer),
        config,
        seed=opts["seed"],
        embed=embed,
        neighbours=neighbours,
        progress=_bars(opts),
    )
    silent = [k for k in latents if k not in examples]
    if silent:
        click.echo(f"skipped latents that never fire: {', '.join(map(str, silent))}", err=True)
    if not examples:
        raise ValueError("none of the latents fires on the corpus; try other latents")
    return examples


def _bars(opts: dict[str, Any]) -> bool | None:
    """``progress`` argument: bars on a terminal with --progress (``None``), never without."""
    return None if opts["progress"] else False


def _disable(opts: dict[str, Any]) -> bool | None:
    """tqdm's ``disable``: ``None`` (only on a terminal) with --progress, ``True`` without."""
    return None if opts["progress"] else True


def _clip(text: str | None, n: int = 50) -> str:
    if text is None:
        return "-"
    return text if len(text) <= n else text[: n - 3] + "..."


@click.command()
@_common_options
@click.option("--latents", "latent_spec", required=True, help="Latents to explain, e.g. 0-9,12.")
@click.option(
    "--threshold",
    default=0.3,
    show_default=True,
    help="Highlight tokens with activation >= threshold x the example's maximum.",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Explanations, one JSON line per latent (.jsonl).",
)
def explain(latent_spec: str, threshold: float, out_path: Path, **opts: Any) -> None:
    """Explain latents of a coder from their top activating examples.

    CODER is a coder folder (cfg.json + sae.safetensors).
    """
    latents = parse_latents(latent_spec)
    if out_path.suffix != ".jsonl":
        raise click.UsageError("--out must be a .jsonl file")
    with _user_errors():
        from interp.judges.explain import explain_latents
        from interp.judges.protocol import JudgeError
        from interp.scorers.results import save_results

        examples = _examples(opts, latents)
        judge = _judge(opts)
        try:
            explanations = explain_latents(
                judge, examples, threshold=threshold, progress=_bars(opts)
            )
        except JudgeError as err:
            raise RuntimeError(str(err)) from None
        rows = []
        for k, e in explanations.items():
            rows.append(
                {
                    **e.to_dict(),
                    "n_activating": examples[k].n_activating,
                    "max_activation": examples[k].max_activation,
                }
            )
        save_results(rows, out_path)
    _print_table(
        ["latent", "active windows", "explanation"],
        [
            [str(r["latent"]), str(r["n_activating"]), _clip(r["explanation"] or r["error"])]
            for r in rows
        ],
    )
    click.echo(f"wrote {out_path}")


@click.command()
@_common_options
@click.option(
    "--scorer",
    "scorer_names",
    multiple=True,
    required=True,
    type=click.Choice(SCORER_NAMES),
    help="Scorer (repeatable). intruder and example-embedding need no explanation.",
)
@click.option(
    "--explanations",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Explanations from interp explain (.jsonl); needed by explanation-based scorers.",
)
@click.option(
    "--latents",
    "latent_spec",
    default=None,
    help="Latents to score [default: those in --explanations].",
)
@click.option("--n-options", default=5, show_default=True, help="Examples per intruder question.")
@click.option(
    "--lm",
    "lm_source",
    default="smollm2",
    show_default=True,
    help="Base language model of the surprisal scorer ('smollm2' or a local folder).",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scores, one row per latent and scorer (.jsonl or .nc).",
)
def score(
    scorer_names: tuple[str, ...],
    explanations: Path | None,
    latent_spec: str | None,
    n_options: int,
    lm_source: str,
    out_path: Path,
    **opts: Any,
) -> None:
    """Score latents of a coder (with or without explanations).

    CODER is a coder folder (cfg.json + sae.safetensors).
    """
    from interp.scorers.scoring import SCORERS

    chosen = [SCORERS[name] for name in dict.fromkeys(scorer_names)]
    if out_path.suffix not in (".jsonl", ".nc"):
        raise click.UsageError("--out must be a .jsonl or .nc file")
    needs_text = [s.name for s in chosen if s.needs_explanation]
    if needs_text and explanations is None:
        raise click.UsageError(f"--explanations is needed by: {', '.join(needs_text)}")
    if explanations is None and latent_spec is None:
        raise click.UsageError("give --latents (or --explanations)")
    with _user_errors():
        from tqdm.auto import tqdm

        from interp.judges.protocol import JudgeError, ProgressJudge
        from interp.scorers.results import load_explanations, save_results
        from interp.scorers.scoring import ScoringTools
        from interp.scorers.summaries import SUMMARY_HEADERS, summarize_scores

        texts = load_explanations(explanations) if explanations is not None else {}
        latents = parse_latents(latent_spec) if latent_spec else sorted(texts)
        examples = _examples(opts, latents)
        tools = ScoringTools(seed=opts["seed"], options={"n_options": n_options})
        tools_needed = {s.tool for s in chosen}
        if "judge" in tools_needed:
            tools.judge = _judge(opts)
        if "embedder" in tools_needed:
            from interp.models.embedding import MiniLMEmbedder

            tools.embedder = MiniLMEmbedder(device=opts["device"])
        if "lm" in tools_needed:
            from interp.models.bundled import load_causal_lm
            from interp.models.language_model import CausalLMLoss

            with _for_flag("--lm"):
                model, tokenizer = load_causal_lm(lm_source, opts["device"])
            tools.lm = CausalLMLoss(model, tokenizer, name=lm_source)
        if tools.judge is not None:
            tools.judge = ProgressJudge(tools.judge, "questions", disable=_disable(opts))
        results = []
        pairs = [(k, ex, scorer) for k, ex in examples.items() for scorer in chosen]
        try:
            for k, ex, scorer in tqdm(pairs, desc="scoring", unit="score", disable=_disable(opts)):
                text = texts.get(k)
                if scorer.needs_explanation and text is None:
                    message = f"latent {k}: no explanation, {scorer.name} skipped"
                    tqdm.write(message, file=sys.stderr)
                    continue
                try:
                    results.append(scorer(tools, text, ex))
                except ValueError as err:  # e.g. a latent with no silent windows
                    tqdm.write(f"latent {k}: {scorer.name} skipped: {err}", file=sys.stderr)
        except JudgeError as err:
            raise RuntimeError(str(err)) from None
        if not results:
            raise ValueError("nothing was scored")
        save_results(results, out_path)
    rows = []
    for r in results:
        value = r.metrics.get(HEADLINE[r.scorer], math.nan)
        rows.append(
            [
                str(r.latent),
                r.scorer,
                HEADLINE[r.scorer],
                f"{value:.3f}",
                f"{r.n_failed}/{r.n_items}",
            ]
        )
    _print_table(["latent", "scorer", "metric", "value", "failed"], rows)
    click.echo("")
    click.echo(f"across latents (mean, percentile bootstrap of the mean, seed {opts['seed']}):")
    summaries = summarize_scores(results, HEADLINE, seed=opts["seed"])
    _print_table(list(SUMMARY_HEADERS), [s.row() for s in summaries])
    click.echo(f"wrote {out_path}")
