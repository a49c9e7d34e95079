"""Commands of the coder stage: ``interp train``, ``interp overlap``, ``interp convert``.

Every command prints a short summary table and exits with status 1 and a
one-line ``Error: ...`` message on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from interp.cli.common import MODEL_HELP, _check_model, _print_table, _user_errors


def _parse_seeds(value: str) -> list[int]:
    try:
        seeds = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"expected distinct seeds, got {value!r}")
    return seeds



@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: <out>/<hookpoint>/{cfg.json,sae.safetensors}; with several "
    "seeds <out>/seed<S>/<hookpoint>/.",
)
@click.option(
    "--activations",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Activation matrix (.pt or .npy, shape (..., d)) to train on.",
)
@click.option(
    "--targets",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Targets for a transcoder (same shape as --activations).",
)
@click.option("--key", default=None, help="Entry of a .pt dict in --activations.")
@click.option("--target-key", default=None, help="Entry of a .pt dict in --targets.")
@click.option(
    "--hookpoint",
    default=None,
    help="Folder name for a coder trained from files [default: file stem].",
)
@click.option(
    "--model",
    "model_path",
    help="Model to take activations from: " + MODEL_HELP,
)
@click.option(
    "--module",
    "modules",
    multiple=True,
    help="Module to hook (repeatable), e.g. h.0.mlp. SAEs train on its output, "
    "transcoders on its input -> output.",
)
@click.option(
    "--corpus",
    type=click.Path(dir_okay=False, path_type=Path),
    help="UTF-8 text file run through --model.",
)
@click.option("--ctx-len", default=64, show_default=True, help="Tokens per sequence.")
@click.option("--max-tokens", type=int, default=None, help="Cap on corpus tokens.")
@click.option(
    "--model-batch-size", default=8, show_default=True, help="Sequences per model forward pass."
)
@click.option("--allow-download", is_flag=True, help="Allow fetching --model from the hub.")
@click.option(
    "--activation",
    type=click.Choice(["topk", "groupmax", "relu"]),
    default="topk",
    show_default=True,
    help="Latent activation (groupmax keeps the largest of k groups; relu is trained with "
    "--l1-coefficient).",
)
@click.option(
    "--multi-topk", is_flag=True, help="Add sparsify's Multi-TopK term (FVU of 4k latents / 8)."
)
@click.option("-k", "--k", "k", default=32, show_default=True, help="Active latents (TopK).")
@click.option(
    "--num-latents",
    default=0,
    show_default=True,
    help="Number of latents; 0 uses --expansion-factor * d.",
)
@click.option("--expansion-factor", default=32, show_default=True)
@click.option("--transcode", is_flag=True, help="Train a transcoder (predict module output).")
@click.option("--skip", "skip_connection", is_flag=True, help="Add an affine skip term W_skip x.")
@click.option(
    "--no-normalize-decoder", is_flag=True, help="Do not keep SAE decoder rows at unit norm."
)
@click.option(
    "--seeds",
    default="0",
    show_default=True,
    help="Comma-separated initialisation seeds; one coder per seed.",
)
@click.option("--batch-size", default=4096, show_default=True, help="Tokens per step.")
@click.option("--steps", default=0, show_default=True, help="Steps; 0 means one pass.")
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Adam learning rate [default: 2e-4 / sqrt(latents / 2^14)].",
)
@click.option("--lr-warmup-steps", default=0, show_default=True)
@click.option(
    "--l1-coefficient",
    default=0.0,
    show_default=True,
    help="Weight of the L1 penalty (ReLU coders), relative to the FVU.",
)
@click.option("--l1-warmup-steps", default=0, show_default=True)
@click.option(
    "--auxk-alpha",
    default=0.0,
    show_default=True,
    help="Weight of the AuxK dead-latent loss (0 = off, the reference default).",
)
@click.option("--k-aux", type=int, default=None, help="Dead latents in AuxK [default: d/2].")
@click.option(
    "--dead-threshold",
    default=10_000_000,
    show_default=True,
    help="Tokens without firing after which a latent counts as dead.",
)
@click.option("--data-seed", default=0, show_default=True, help="Seed of the batch order.")
@click.option(
    "--save-every",
    default=0,
    show_default=True,
    help="Resumable checkpoint every N steps under <out>/checkpoints (0 = none).",
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(**opts: Any) -> None:
    """Train sparse coders from an activation file or from a model's modules."""
    seeds = _parse_seeds(opts["seeds"])
    from_files = opts["activations"] is not None
    from_model = opts["model_path"] is not None
    if from_files == from_model:
        raise click.UsageError("give either --activations or --model (with --module and --corpus)")
    if from_model and (not opts["modules"] or opts["corpus"] is None):
        raise click.UsageError("--model needs at least one --module and a --corpus")
    if opts["targets"] is not None and not opts["transcode"]:
        raise click.UsageError("--targets is only used with --transcode")
    with _user_errors():
        import torch  # noqa: F401 - fail early with the install hint

        from interp.coders.config import CoderConfig
        from interp.coders.metrics import evaluate
        from interp.coders.training import TrainConfig, train_to_disk

        coder_config = CoderConfig(
            activation=opts["activation"],
            expansion_factor=opts["expansion_factor"],
            normalize_decoder=not opts["no_normalize_decoder"],
            num_latents=opts["num_latents"],
            k=opts["k"] if opts["activation"] != "relu" else 0,
            multi_topk=opts["multi_topk"],
            skip_connection=opts["skip_connection"],
            transcode=opts["transcode"],
        )
        train_config = TrainConfig(
            batch_size=opts["batch_size"],
            num_steps=opts["steps"],
            lr=opts["lr"],
            lr_warmup_steps=opts["lr_warmup_steps"],
            l1_coefficient=opts["l1_coefficient"],
            l1_warmup_steps=opts["l1_warmup_steps"],
            auxk_alpha=opts["auxk_alpha"],
            k_aux=opts["k_aux"],
            dead_feature_threshold=opts["dead_threshold"],
            data_seed=opts["data_seed"],
            save_every=opts["save_every"],
        )
        datasets = _file_datasets(opts) if from_files else _model_datasets(opts)
        results = train_to_disk(
            datasets,
            opts["out_dir"],
            coder_config=coder_config,
            train_config=train_config,
            seeds=seeds,
            device=opts["device"],
            progress=opts["progress"],
        )
        rows = []
        for (hookpoint, seed), (result, folder) in results.items():
            x, y = datasets[hookpoint]
            ev = evaluate(result.coder, x, y)
            rows.append(
                [
                    hookpoint,
                    str(seed),
                    f"{ev.fvu:.4f}",
                    f"{ev.l0:.2f}",
                    f"{ev.dead_fraction:.3f}",
                    str(folder),
                ]
            )
    _print_table(["hookpoint", "seed", "FVU", "L0", "dead", "saved to"], rows)


def _file_datasets(opts: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    from interp.coders.io import load_activations

    x = load_activations(opts["activations"], opts["key"])
    y = None
    if opts["transcode"]:
        if opts["targets"] is None:
            raise ValueError("--transcode with --activations needs --targets")
        y = load_activations(opts["targets"], opts["target_key"])
        if y.shape != x.shape:
            raise ValueError(
                f"activations {tuple(x.shape)} and targets {tuple(y.shape)} have different shapes"
            )
    name = opts["hookpoint"] or Path(opts["activations"]).stem
    return {name: (x, y)}


def _model_datasets(opts: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    from interp.models.hf import model_activations

    transcode = opts["transcode"]
    _check_model(opts["model_path"], opts["allow_download"])
    captured = model_activations(
        opts["model_path"],
        opts["corpus"],
        list(opts["modules"]),
        inputs=transcode,
        outputs=True,
        ctx_len=opts["ctx_len"],
        batch_size=opts["model_batch_size"],
        max_tokens=opts["max_tokens"],
        device=opts["device"],
        allow_download=opts["allow_download"],
        progress=opts["progress"],
    )
    datasets = {}
    for name, acts in captured.items():
        if transcode:
            if acts.input.shape != acts.output.shape:
                raise ValueError(
                    f"module {name}: input width {acts.input.shape[-1]} differs from output "
                    f"width {acts.output.shape[-1]}; transcoders need equal widths"
                )
            datasets[name] = (acts.input, acts.output)
        else:
            datasets[name] = (acts.output, None)
    return datasets


@click.command()
@click.argument("coder_a", type=click.Path(path_type=Path))
@click.argument("coder_b", type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    default=0.7,
    show_default=True,
    help="Cosine similarity above which a matched latent is shared.",
)
def overlap(coder_a: Path, coder_b: Path, threshold: float) -> None:
    """Shared fraction of latents between two coders (Hungarian matching).

    CODER_A and CODER_B are coder folders (cfg.json + sae.safetensors), for
    example the same hook point trained with two seeds.
    """
    with _user_errors():
        from interp.coders.io import load_coder
        from interp.coders.matching import shared_fractions

        a = load_coder(coder_a, dtype=_float32())
        b = load_coder(coder_b, dtype=_float32())
        shared = shared_fractions(a, b, threshold)
    click.echo(
        f"{coder_a} ({a.num_latents} latents) vs {coder_b} ({b.num_latents} latents), "
        f"d_in = {a.d_in}, threshold = {threshold:g}"
    )
    counts = {
        "decoder": shared.decoder,
        "encoder": shared.encoder,
        "both": shared.both,
    }
    rows = [
        [name, f"{value:.3f}", f"{round(value * shared.n_pairs)}/{shared.n_pairs}"]
        for name, value in counts.items()
    ]
    _print_table(["directions", "shared fraction", "latents"], rows)


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--to",
    "fmt",
    type=click.Choice(["native", "sparsify", "saelens"]),
    required=True,
    help="Layout to write: native or sparsify (cfg.json + sae.safetensors; sparsify refuses "
    "ReLU and JumpReLU coders) or saelens (cfg.json + sae_weights.safetensors, autoencoders).",
)
def convert(source: Path, dest: Path, fmt: str) -> None:
    """Rewrite a coder folder in another on-disk layout (tensors copied exactly).

    SOURCE is a coder folder in any layout this package reads (sparsify or
    SAELens); DEST is the folder to write.
    """
    with _user_errors():
        from interp.coders.io import load_coder, save_coder

        if dest.resolve() == source.resolve():
            raise ValueError("DEST must differ from SOURCE")
        coder = load_coder(source)
        save_coder(coder, dest, format=fmt)
    cfg = coder.cfg
    click.echo(
        f"{source} -> {dest} ({fmt}): {cfg.activation} coder, d_in = {coder.d_in}, "
        f"{coder.num_latents} latents"
    )


def _float32() -> Any:
    import torch

    return torch.float32


COMMANDS = (train, overlap, convert)
