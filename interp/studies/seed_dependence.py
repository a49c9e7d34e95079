"""Seed dependence of TopK and ReLU+L1 sparse autoencoders on synthetic data.

Reproduces, on data with known features, the comparison of Paulo & Belrose
(arXiv:2501.16615): train each architecture with two initialisation seeds on
the same batches, match the latents of the two seeds with the Hungarian
algorithm and count those whose matched decoder / encoder cosine exceeds a
threshold (0.7). ReLU+L1 coders are compared at the L0 of the TopK coders:
their L1 coefficient is bisected until the trained L0 matches. Each coder's
recovery of the true features is also reported.

Run ``python -m interp.studies.seed_dependence`` (two datasets, about 75 s on
two CPU cores) or add ``--quick`` for a smaller smoke run (about 10 s).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import click

from interp.coders.calibration import match_l0_by_l1
from interp.coders.config import CoderConfig
from interp.coders.matching import SharedFractions, recovered_fraction, shared_fractions
from interp.coders.metrics import Evaluation, evaluate
from interp.coders.synthetic import SyntheticDataset, make_sparse_dataset
from interp.coders.training import TrainConfig, TrainResult, train_coder, train_seeds


@dataclass(frozen=True)
class StudyConfig:
    """Settings of the study.

    Parameters
    ----------
    d : int
        Activation width.
    n_features : int
        True features.
    num_latents : int
        Latents of every coder.
    k : int
        TopK ``k``, and the expected number of active true features per row.
    n_samples : int
        Rows of synthetic data.
    frequency_exponent : float
        Power-law exponent of the feature firing probabilities.
    correlation : float
        Within-group firing correlation of the features.
    steps : int
        Training steps of every coder (including the bisection probes).
    batch_size : int
        Rows per step.
    seeds : tuple of int
        Initialisation seeds (two for one pair).
    data_seeds : tuple of int
        One synthetic dataset (and batch order) per entry.
    threshold : float
        Cosine threshold for shared latents.
    recovery_threshold : float
        Cosine threshold for a recovered true feature.
    auxk_alpha : float
        AuxK weight of the TopK coders (0 = off, the reference default).
    l1_low, l1_high : float
        Initial bracket of the L1 coefficient.
    rel_tol : float
        Relative L0 tolerance of the bisection.
    max_probes : int
        Most coders trained by one bisection.
    """

    d: int = 32
    n_features: int = 64
    num_latents: int = 64
    k: int = 4
    n_samples: int = 16384
    frequency_exponent: float = 1.0
    correlation: float = 0.0
    steps: int = 3000
    batch_size: int = 256
    seeds: tuple[int, ...] = (0, 1)
    data_seeds: tuple[int, ...] = (0, 1)
    threshold: float = 0.7
    recovery_threshold: float = 0.7
    auxk_alpha: float = 0.0
    l1_low: float = 0.01
    l1_high: float = 1.0
    rel_tol: float = 0.05
    max_probes: int = 10


QUICK = StudyConfig(
    d=16,
    n_features=32,
    num_latents=32,
    k=3,
    n_samples=4096,
    steps=800,
    batch_size=128,
    data_seeds=(0,),
    max_probes=7,
    rel_tol=0.1,
)


@dataclass
class ArchitectureResult:
    """One architecture on one dataset, trained with every seed.

    Attributes
    ----------
    name : str
        ``"topk"`` or ``"relu+l1"``.
    evaluations : list of Evaluation
        Whole-dataset metrics per seed.
    recovered : list of float
        Recovered fraction of true features per seed.
    shared : SharedFractions
        Overlap of the first two seeds.
    l1_coefficient : float or None
        The bisected coefficient (ReLU+L1 only).
    n_probes : int
        Coders trained by the bisection.
    """

    name: str
    evaluations: list[Evaluation]
    recovered: list[float]
    shared: SharedFractions
    l1_coefficient: float | None = None
    n_probes: int = 0


@dataclass
class DatasetResult:
    """Both architectures on one synthetic dataset."""

    data_seed: int
    mean_active: float
    target_l0: float
    architectures: list[ArchitectureResult] = field(default_factory=list)


def _summarise(
    name: str,
    results: Sequence[TrainResult],
    data: SyntheticDataset,
    cfg: StudyConfig,
    **extra: float | int | None,
) -> ArchitectureResult:
    coders = [r.coder for r in results]
    return ArchitectureResult(
        name=name,
        evaluations=[evaluate(c, data.x) for c in coders],
        recovered=[recovered_fraction(data.features, c, cfg.recovery_threshold) for c in coders],
        shared=shared_fractions(coders[0], coders[1], cfg.threshold),
        **extra,
    )


def run_dataset(cfg: StudyConfig, data_seed: int, *, progress: bool = True) -> DatasetResult:
    """Train and compare both architectures on one synthetic dataset.

    Parameters
    ----------
    cfg : StudyConfig
        Study settings.
    data_seed : int
        Seed of the dataset and of the batch order.
    progress : bool
        Show progress bars.

    Returns
    -------
    DatasetResult
    """
    if len(cfg.seeds) < 2:
        raise ValueError("the study needs at least two initialisation seeds")
    data = make_sparse_dataset(
        cfg.n_samples,
        cfg.d,
        cfg.n_features,
        cfg.k,
        frequency_exponent=cfg.frequency_exponent,
        correlation=cfg.correlation,
        seed=data_seed,
    )
    train = TrainConfig(
        batch_size=cfg.batch_size,
        num_steps=cfg.steps,
        data_seed=data_seed,
        auxk_alpha=cfg.auxk_alpha,
        dead_feature_threshold=max(cfg.batch_size, cfg.n_samples // 4),
        log_every=max(1, cfg.steps // 20),
    )
    topk_cfg = CoderConfig(activation="topk", k=cfg.k, num_latents=cfg.num_latents)
    topk = train_seeds(
        data.x,
        coder_config=topk_cfg,
        train_config=train,
        seeds=cfg.seeds,
        progress=progress,
        description="topk",
    )
    topk_result = _summarise("topk", topk, data, cfg)
    target_l0 = sum(e.l0 for e in topk_result.evaluations) / len(topk_result.evaluations)

    relu_cfg = CoderConfig(activation="relu", k=0, num_latents=cfg.num_latents)
    relu_train = dataclasses.replace(train, auxk_alpha=0.0)
    calibration = match_l0_by_l1(
        data.x,
        target_l0=target_l0,
        coder_config=relu_cfg,
        train_config=relu_train,
        seed=cfg.seeds[0],
        low=cfg.l1_low,
        high=cfg.l1_high,
        rel_tol=cfg.rel_tol,
        max_probes=cfg.max_probes,
        progress=progress,
    )
    chosen = dataclasses.replace(relu_train, l1_coefficient=calibration.l1_coefficient)
    relu = [calibration.result] + [
        train_coder(
            data.x,
            coder_config=relu_cfg,
            train_config=chosen,
            seed=seed,
            progress=progress,
            description=f"relu+l1 seed {seed}",
        )
        for seed in cfg.seeds[1:]
    ]
    relu_result = _summarise(
        "relu+l1",
        relu,
        data,
        cfg,
        l1_coefficient=calibration.l1_coefficient,
        n_probes=len(calibration.probes),
    )
    return DatasetResult(
        data_seed=data_seed,
        mean_active=data.mean_active,
        target_l0=target_l0,
        architectures=[topk_result, relu_result],
    )


def run_study(cfg: StudyConfig, *, progress: bool = True) -> list[DatasetResult]:
    """Run :func:`run_dataset` for every data seed."""
    return [run_dataset(cfg, seed, progress=progress) for seed in cfg.data_seeds]


def _per_seed(values: Sequence[float], fmt: str) -> str:
    return "/".join(format(v, fmt) for v in values)


def format_table(cfg: StudyConfig, results: Sequence[DatasetResult]) -> str:
    """Plain-text table of the study.

    Parameters
    ----------
    cfg : StudyConfig
        Study settings (for the header).
    results : sequence of DatasetResult
        One entry per dataset.

    Returns
    -------
    str
    """
    seeds = "/".join(str(s) for s in cfg.seeds)
    lines = [
        "Seed dependence of sparse autoencoders on synthetic data",
        f"data: d={cfg.d}, {cfg.n_features} true features, power-law frequencies "
        f"(exponent {cfg.frequency_exponent:g}), correlation {cfg.correlation:g}, "
        f"{cfg.n_samples} rows",
        f"coders: {cfg.num_latents} latents, {cfg.steps} steps of {cfg.batch_size} rows, "
        f"seeds {seeds} on the same batches; AuxK alpha (TopK) {cfg.auxk_alpha:g}",
        f"shared: matched cosine > {cfg.threshold:g}; recovered: true feature with a "
        f"decoder row at cosine > {cfg.recovery_threshold:g}",
        "",
    ]
    headers = [
        "data",
        "coder",
        "L1 coef",
        f"L0 ({seeds})",
        f"FVU ({seeds})",
        f"dead ({seeds})",
        f"recovered ({seeds})",
        "shared dec",
        "shared enc",
        "shared both",
    ]
    rows = []
    for res in results:
        for arch in res.architectures:
            coef = "-" if arch.l1_coefficient is None else f"{arch.l1_coefficient:.4g}"
            rows.append(
                [
                    str(res.data_seed),
                    arch.name,
                    coef,
                    _per_seed([e.l0 for e in arch.evaluations], ".2f"),
                    _per_seed([e.fvu for e in arch.evaluations], ".3f"),
                    _per_seed([e.dead_fraction for e in arch.evaluations], ".2f"),
                    _per_seed(arch.recovered, ".2f"),
                    f"{arch.shared.decoder:.3f}",
                    f"{arch.shared.encoder:.3f}",
                    f"{arch.shared.both:.3f}",
                ]
            )
    if len(results) > 1:
        for i, name in enumerate(a.name for a in results[0].architectures):
            archs = [r.architectures[i] for r in results]
            mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
            rows.append(
                [
                    "mean",
                    name,
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{mean([a.shared.decoder for a in archs]):.3f}",
                    f"{mean([a.shared.encoder for a in archs]):.3f}",
                    f"{mean([a.shared.both for a in archs]):.3f}",
                ]
            )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for res in results:
        lines.append(
            f"data {res.data_seed}: mean active true features {res.mean_active:.2f}; "
            f"ReLU+L1 coefficient bisected to the TopK L0 {res.target_l0:.2f} in "
            f"{res.architectures[1].n_probes} probes"
        )
    return "\n".join(lines)


@click.command()
@click.option("--quick", is_flag=True, help="Small, fast version (a smoke test).")
@click.option("--steps", type=int, default=None, help="Training steps per coder.")
@click.option(
    "--datasets",
    "n_datasets",
    type=int,
    default=None,
    help="Number of synthetic datasets (data seeds 0, 1, ...).",
)
@click.option("--threshold", type=float, default=None, help="Cosine threshold for sharing.")
@click.option("--auxk-alpha", type=float, default=None, help="AuxK weight for TopK coders.")
@click.option("--progress/--no-progress", default=False, show_default=True)
def main(
    quick: bool,
    steps: int | None,
    n_datasets: int | None,
    threshold: float | None,
    auxk_alpha: float | None,
    progress: bool,
) -> None:
    """Compare seed dependence of TopK and ReLU+L1 SAEs at matched L0."""
    cfg = QUICK if quick else StudyConfig()
    changes: dict[str, object] = {}
    if steps is not None:
        changes["steps"] = steps
    if n_datasets is not None:
        if n_datasets < 1:
            raise click.BadParameter("need at least one dataset", param_hint="--datasets")
        changes["data_seeds"] = tuple(range(n_datasets))
    if threshold is not None:
        changes["threshold"] = threshold
    if auxk_alpha is not None:
        changes["auxk_alpha"] = auxk_alpha
    cfg = dataclasses.replace(cfg, **changes)
    start = time.perf_counter()
    results = run_study(cfg, progress=progress)
    click.echo(format_table(cfg, results))
    click.echo(f"wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
