"""Commands of the intervention stage: ``lens``, ``steer``, ``intervene``, ``rewrite``.

Models are the bundled ``smollm2`` or Hugging Face causal-LM folders (with
their tokenizer); coders are folders in the sparsify (``cfg.json`` +
``sae.safetensors``) or SAELens layout. Every command prints a short table and exits with
status 1 and a one-line ``Error: ...`` message on bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from interp.cli.common import MODEL_HELP, _check_model, _print_table, _user_errors


def _floats(value: str) -> list[float]:
    try:
        out = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None
    if not out:
        raise click.BadParameter("expected at least one number")
    return out


def _load(
    model_path: str, device: str, allow_download: bool, flag: str = "--model"
) -> tuple[Any, Any]:
    from interp.models.hf import load_causal_lm, load_tokenizer

    _check_model(model_path, allow_download, flag)
    model = load_causal_lm(model_path, device=device, allow_download=allow_download)
    tokenizer = load_tokenizer(model_path, allow_download=allow_download)
    return model, tokenizer


def _write_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=float) + "\n")
        click.echo(f"wrote {path}")


_model_option = click.option(
    "--model",
    "model_path",
    required=True,
    help="Causal language model: " + MODEL_HELP,
)
_device_option = click.option("--device", default="cpu", show_default=True)
_download_option = click.option(
    "--allow-download", is_flag=True, help="Allow fetching --model from the hub."
)
_json_option = click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON."
)


# ------------------------------------------------------------------------- lens
@click.command()
@_model_option
@click.option("--corpus", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ctx-len", default=64, show_default=True, help="Tokens per sequence.")
@click.option("--max-tokens", type=int, default=None, help="Cap on corpus tokens.")
@click.option(
    "--held-out",
    default=0.2,
    show_default=True,
    help="Fraction of sequences kept apart to report the KL on.",
)
@click.option(
    "--steps", default=250, show_default=True, help="Optimiser steps (0: logit lens only)."
)
@click.option("--batch-size", default=8, show_default=True, help="Sequences per step.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True)
@click.option("--lr", default=0.1, show_default=True, help="Peak learning rate.")
@click.option("--seed", default=0, show_default=True, help="Seed of the batch order.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Save the tuned lens here."
)
@click.option(
    "--out-format",
    type=click.Choice(["native", "tuned-lens"]),
    default="native",
    show_default=True,
    help="native: lens.json + lens.safetensors; tuned-lens: the tuned-lens package's "
    "config.json + params.pt.",
)
@_json_option
@_device_option
@_download_option
def lens(**opts: Any) -> None:
    """Train a tuned lens and compare it with the logit lens, layer by layer.

    Prints the mean KL(final || lens) in nats per token on held-out sequences.
    Layer 0 is the input of the first block, layer L the last block's output.
    """
    if not 0 < opts["held_out"] < 1:
        raise click.BadParameter("--held-out must be between 0 and 1")
    with _user_errors():
        from interp.models.hf import tokenize_corpus
        from interp.interventions.lens import LensTrainConfig, evaluate_lenses, train_tuned_lens

        model, tokenizer = _load(opts["model_path"], opts["device"], opts["allow_download"])
        tokens = tokenize_corpus(tokenizer, opts["corpus"], opts["ctx_len"], opts["max_tokens"])
        n_eval = max(1, round(opts["held_out"] * tokens.shape[0]))
        if tokens.shape[0] - n_eval < 1:
            raise ValueError(
                f"{tokens.shape[0]} sequences are too few to hold {n_eval} out; use a longer "
                "corpus or a shorter --ctx-len"
            )
        train, held_out = tokens[:-n_eval], tokens[-n_eval:]
        tuned = None
        if opts["steps"] > 0:
            config = LensTrainConfig(
                steps=opts["steps"],
                batch_size=opts["batch_size"],
                optimizer=opts["optimizer"],
                lr=opts["lr"],
                seed=opts["seed"],
            )
            tuned = train_tuned_lens(model, train, config)
            if opts["out"] is not None:
                tuned.save(opts["out"], format=opts["out_format"], base_model=opts["model_path"])
        report = evaluate_lenses(model, held_out, tuned)
    click.echo(
        f"{opts['model_path']}: {len(report.layers) - 1} blocks, {report.n_tokens} held-out tokens"
    )
    _print_table(["layer", "logit lens KL", "tuned lens KL"], report.rows())
    _write_json(opts["json_path"], report.to_dict())


# ------------------------------------------------------------------------ steer
@click.command()
@_model_option
@click.option(
    "--pairs",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON lines {prompt, matching, non_matching}; answers are single tokens.",
)
@click.option(
    "--eval-pairs",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pairs to measure on [default: the last --eval-fraction of --pairs].",
)
@click.option("--eval-fraction", default=0.5, show_default=True)
@click.option("--block", "blocks", type=int, multiple=True, required=True, help="Block to steer.")
@click.option(
    "--method",
    type=click.Choice(["mean_difference", "lda"]),
    default="mean_difference",
    show_default=True,
)
@click.option(
    "--multipliers", default="-2,-1,0,1,2", show_default=True, help="Comma-separated strengths."
)
@click.option(
    "--positions",
    type=click.Choice(["all", "last"]),
    default="all",
    show_default=True,
    help="Steer every position or only the prompt's last.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the vectors (.pt)."
)
@_json_option
@_device_option
@_download_option
def steer(**opts: Any) -> None:
    """Contrastive activation addition: build steering vectors and sweep the multiplier.

    Prints the mean matching probability p(matching) / (p(matching) +
    p(non_matching)) of the next token after each evaluation prompt.
    """
    multipliers = _floats(opts["multipliers"])
    with _user_errors():
        import torch

        from interp.interventions.steering import (
            multiplier_sweep,
            pairs_from_text,
            steering_vectors,
        )

        model, tokenizer = _load(opts["model_path"], opts["device"], opts["allow_download"])
        pairs = pairs_from_text(tokenizer, _read_jsonl(opts["pairs"]))
        if opts["eval_pairs"] is not None:
            build, evaluate = pairs, pairs_from_text(tokenizer, _read_jsonl(opts["eval_pairs"]))
        else:
            n_eval = round(opts["eval_fraction"] * len(pairs))
            if not 0 < n_eval < len(pairs):
                raise ValueError(
                    f"cannot split {len(pairs)} pairs with --eval-fraction {opts['eval_fraction']}"
                )
            build, evaluate = pairs[:-n_eval], pairs[-n_eval:]
        vectors = steering_vectors(model, build, opts["blocks"], method=opts["method"])
        positions = None if opts["positions"] == "all" else -1
        sweep = multiplier_sweep(model, evaluate, vectors, multipliers, positions=positions)
        if opts["out"] is not None:
            torch.save({str(b): v for b, v in vectors.items()}, opts["out"])
    norms = ", ".join(f"block {b}: |v| = {float(v.norm()):.3g}" for b, v in vectors.items())
    click.echo(f"{len(build)} pairs build the vectors ({norms}); {len(evaluate)} evaluate")
    _print_table(["multiplier", "p(matching)", "sem"], sweep.rows())
    _write_json(
        opts["json_path"],
        {"multipliers": sweep.multipliers.tolist(), "matching": sweep.matching.tolist()},
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"no pairs file at {path}")
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path}: line {i + 1} is not JSON") from None
    return records


# -------------------------------------------------------------------- intervene
def _prompt_tokens(tokenizer: Any, path: Path, max_len: int) -> Any:
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"no prompts file at {path}")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [tokenizer(line, add_special_tokens=False)["input_ids"] for line in lines]
    ids = [row for row in ids if row]
    if not ids:
        raise ValueError(f"{path} holds no prompts")
    length = min(max_len, *(len(row) for row in ids))
    # keep each prompt's last tokens, so every prompt ends where it ended
    return torch.tensor([row[-length:] for row in ids])


def _site(opts: dict[str, Any]) -> Any:
    from interp.interventions.intervention_scoring import CoderSite
    from interp.coders.io import load_coder

    coder = load_coder(opts["coder"], device=opts["device"])
    return CoderSite(opts["module"], coder)


@click.command()
@_model_option
@click.option("--coder", required=True, type=click.Path(path_type=Path), help="Coder folder.")
@click.option("--module", required=True, help="Module the coder sits at, e.g. transformer.h.3.")
@click.option(
    "--prompts",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Text file, one prompt per line (cut to the shortest prompt's last tokens).",
)
@click.option("--latent", "latents", type=int, multiple=True, required=True)
@click.option("--target-kl", default=0.5, show_default=True, help="Next-token KL (nats).")
@click.option("--max-prompt-len", default=32, show_default=True)
@click.option("--gen-tokens", default=16, show_default=True, help="Tokens generated per prompt.")
@click.option("--seed", default=0, show_default=True, help="Seed of the generations.")
@click.option(
    "--scorer",
    help="Causal LM that scores the explanations ('smollm2' or a folder) [default: --model].",
)
@_json_option
@_device_option
@_download_option
def intervene(**opts: Any) -> None:
    """Intervention scores of latents: delta for a target KL, promoted tokens, surprisal score.

    The score is how much less surprising (nats per token) the explanation is
    after generations with the intervention than after clean ones.
    """
    with _user_errors():
        from interp.interventions.intervention_scoring import score_latent
        from interp.models.language_model import CausalLMLoss

        model, tokenizer = _load(opts["model_path"], opts["device"], opts["allow_download"])
        if opts["scorer"] is None:
            scorer = CausalLMLoss(model, tokenizer)
        else:
            scorer = CausalLMLoss(
                *_load(opts["scorer"], opts["device"], opts["allow_download"], "--scorer")
            )
        prompts = _prompt_tokens(tokenizer, opts["prompts"], opts["max_prompt_len"])
        site = _site(opts)
        results = [
            score_latent(
                model,
                tokenizer,
                prompts,
                site,
                latent,
                scorer,
                target_kl=opts["target_kl"],
                n_tokens=opts["gen_tokens"],
                seed=opts["seed"],
            )
            for latent in opts["latents"]
        ]
    click.echo(f"{prompts.shape[0]} prompts of {prompts.shape[1]} tokens")
    _print_table(["latent", "delta", "KL", "score", "explanation"], [r.row() for r in results])
    _write_json(
        opts["json_path"],
        [
            {
                "latent": r.latent,
                "delta": r.delta.delta,
                "kl": r.delta.kl,
                "converged": r.delta.converged,
                "promoted": list(r.promoted.tokens),
                "explanation": r.explanation,
                "score": r.score,
            }
            for r in results
        ],
    )


# ---------------------------------------------------------------------- rewrite
def _scores(path: Path | None) -> Any:
    if path is None:
        return None
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"no scores file at {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False).astype(float)
    data = json.loads(path.read_text())
    if isinstance(data, dict):  # {"latent": score}
        size = 1 + max(int(k) for k in data)
        out = np.full(size, np.nan)
        for key, value in data.items():
            out[int(key)] = np.nan if value is None else float(value)
        return out
    return np.asarray(data, dtype=float)


@click.command()
@_model_option
@click.option("--coder", required=True, type=click.Path(path_type=Path), help="Transcoder folder.")
@click.option("--module", required=True, help="MLP module, e.g. transformer.h.3.mlp.")
@click.option("--corpus", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ctx-len", default=64, show_default=True)
@click.option("--max-tokens", type=int, default=None)
@click.option(
    "--fractions",
    default="0,0.25,0.5,0.75,1",
    show_default=True,
    help="Comma-separated fractions of latents to rewrite.",
)
@click.option(
    "--simulator",
    type=click.Choice(["oracle", "zero", "file"]),
    default="file",
    show_default=True,
    help="oracle: the encoder's own values; zero: all zeros; file: --simulations.",
)
@click.option(
    "--simulations",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Predicted activations (.pt or .npy), shape (sequences, ctx_len, latents).",
)
@click.option(
    "--scores",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Explanation scores (.npy, JSON list, or JSON {latent: score}); best first. "
    "Without them latents are chosen at random.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the random choice.")
@_json_option
@_device_option
@_download_option
def rewrite(**opts: Any) -> None:
    """Partial rewrite of an MLP from simulated transcoder latents.

    Prints next-token cross-entropy (nats per token) of the clean model, the
    transcoder reconstruction, the rewrite and MLP zero-ablation, the
    rewrite's KL from the clean model, and the share of the ablation gap the
    rewrite recovers.
    """
    fractions = _floats(opts["fractions"])
    if opts["simulator"] == "file" and opts["simulations"] is None:
        raise click.UsageError("--simulator file needs --simulations (or use oracle / zero)")
    with _user_errors():
        import torch

        from interp.models.hf import tokenize_corpus
        from interp.coders.io import load_activations
        from interp.interventions.rewrite import (
            ArraySimulator,
            OracleSimulator,
            ZeroSimulator,
            partial_rewrite,
        )

        model, tokenizer = _load(opts["model_path"], opts["device"], opts["allow_download"])
        tokens = tokenize_corpus(tokenizer, opts["corpus"], opts["ctx_len"], opts["max_tokens"])
        site = _site(opts)
        scores = _scores(opts["scores"])
        predictions = None
        if opts["simulator"] == "file":
            flat = load_activations(opts["simulations"])
            expected = tokens.numel()
            if flat.shape[0] != expected or flat.shape[1] != site.coder.num_latents:
                raise ValueError(
                    f"--simulations has {flat.shape[0]} rows of {flat.shape[1]} latents; expected "
                    f"{expected} rows (the corpus tokens) of {site.coder.num_latents}"
                )
            predictions = flat.reshape(*tokens.shape, -1)
        results = []
        for fraction in fractions:
            if opts["simulator"] == "oracle":
                simulator: Any = OracleSimulator(model, site)
            elif opts["simulator"] == "zero":
                simulator = ZeroSimulator()
            else:
                simulator = ArraySimulator(torch.as_tensor(predictions))
            results.append(
                partial_rewrite(
                    model, tokens, site, simulator, fraction, scores=scores, seed=opts["seed"]
                )
            )
    click.echo(f"{tokens.shape[0]} sequences of {tokens.shape[1]} tokens; losses in nats/token")
    _print_table(
        [
            "fraction",
            "latents",
            "chosen",
            "clean",
            "reconstr.",
            "rewrite",
            "zero-abl.",
            "KL rewrite",
            "recovered",
        ],
        [r.row() for r in results],
    )
    _write_json(opts["json_path"], [r.to_dict() for r in results])


COMMANDS = (lens, steer, intervene, rewrite)
