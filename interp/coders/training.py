"""Training sparse coders on activation tensors.

One coder is trained per initialisation seed; the batch order depends only on
``TrainConfig.data_seed``, so coders that differ in their seed see the same
batches in the same order (the controlled comparison of seed dependence).

Each step: renormalise decoder rows (autoencoders), forward, loss
``FVU + auxk_alpha * AuxK + l1_coefficient * L1``, backward, remove the
gradient component parallel to each decoder row (autoencoders), Adam step,
update the dead-latent counters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from interp.coders.sparse_coder import SparseCoder, build_coder
from interp.coders.config import CoderConfig
from interp.coders.io import load_coder, save_coder
from interp.seeding import make_generator

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Parameters
    ----------
    batch_size : int
        Rows (tokens) per step; capped at the dataset size.
    num_steps : int
        Optimiser steps; 0 means one pass over the data.
    lr : float, optional
        Adam learning rate; default ``2e-4 / sqrt(M / 2**14)`` for M latents
        (the reference scaling).
    lr_warmup_steps : int
        Linear warm-up of the learning rate over this many steps.
    l1_coefficient : float
        Weight of the L1 penalty ``sum_j z_j ||W_dec[j]||`` (mean over rows)
        relative to the FVU; the sparsity knob of ReLU coders. Use 0 for TopK.
    l1_warmup_steps : int
        Ramp the L1 coefficient linearly from 0 over this many steps.
    auxk_alpha : float
        Weight of the AuxK dead-latent loss. Default 0 (off), as in the
        reference trainer; Gao et al. use 1/32.
    k_aux : int, optional
        Dead latents used by AuxK; default ``d_in // 2``.
    dead_feature_threshold : int
        A latent is dead when it has not fired in this many tokens (rows).
        Default 10 million, as in the reference.
    data_seed : int
        Seed of the batch order (shared by every initialisation seed).
    save_every : int
        Write a checkpoint every this many steps (0: only at the end, and only
        when a checkpoint folder is given).
    log_every : int
        Record metrics in the history every this many steps.
    """

    batch_size: int = 4096
    num_steps: int = 0
    lr: float | None = None
    lr_warmup_steps: int = 0
    l1_coefficient: float = 0.0
    l1_warmup_steps: int = 0
    auxk_alpha: float = 0.0
    k_aux: int | None = None
    dead_feature_threshold: int = 10_000_000
    data_seed: int = 0
    save_every: int = 0
    log_every: int = 10

    def __post_init__(self) -> None:
        for name in ("batch_size", "log_every", "dead_feature_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_steps", "lr_warmup_steps", "l1_warmup_steps", "save_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("l1_coefficient", "auxk_alpha"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.k_aux is not None and self.k_aux < 1:
            raise ValueError(f"k_aux must be >= 1, got {self.k_aux}")

    def learning_rate(self, num_latents: int) -> float:
        """The configured learning rate, or the reference default for ``num_latents``."""
        if self.lr is not None:
            return self.lr
        return 2e-4 / math.sqrt(num_latents / 2**14)

    def steps_for(self, n_rows: int) -> int:
        """Number of steps for a dataset of ``n_rows`` rows."""
        if self.num_steps:
            return self.num_steps
        return max(1, n_rows // min(self.batch_size, n_rows))


@dataclass(frozen=True)
class StepLog:
    """Metrics of one logged training step (on that step's batch)."""

    step: int
    loss: float
    fvu: float
    l0: float
    auxk_loss: float
    l1_loss: float
    dead_fraction: float


@dataclass
class TrainResult:
    """A trained coder and what happened during training.

    Attributes
    ----------
    coder : SparseCoder
        The trained coder (decoder rows renormalised for autoencoders).
    seed : int
        Initialisation seed.
    history : list of StepLog
        Logged steps.
    tokens_since_fired : Tensor, shape (M,)
        Rows seen since each latent last fired.
    dead_feature_threshold : int
        Threshold used for :attr:`dead_mask`.
    """

    coder: SparseCoder
    seed: int
    history: list[StepLog] = field(default_factory=list)
    tokens_since_fired: Tensor | None = None
    dead_feature_threshold: int = 10_000_000

    @property
    def dead_mask(self) -> Tensor:
        """Latents that have not fired in the last ``dead_feature_threshold`` rows."""
        if self.tokens_since_fired is None:
            return torch.zeros(self.coder.num_latents, dtype=torch.bool)
        return self.tokens_since_fired >= self.dead_feature_threshold


class DeadLatentTracker:
    """Counts the rows (tokens) since each latent last fired.

    Parameters
    ----------
    num_latents : int
        Number of latents.
    threshold : int
        A latent is dead after this many rows without firing.
    device : str or torch.device
        Device of the counters.
    """

    def __init__(
        self, num_latents: int, threshold: int, device: str | torch.device = "cpu"
    ) -> None:
        self.threshold = threshold
        self.tokens_since_fired = torch.zeros(num_latents, dtype=torch.long, device=device)

    def update(self, fired: Tensor, n_tokens: int) -> None:
        """Advance by a batch of ``n_tokens`` rows in which ``fired`` latents were active."""
        self.tokens_since_fired += n_tokens
        self.tokens_since_fired[fired] = 0

    @property
    def dead_mask(self) -> Tensor:
        """Boolean mask of dead latents."""
        return self.tokens_since_fired >= self.threshold

    @property
    def dead_fraction(self) -> float:
        """Fraction of dead latents."""
        return float(self.dead_mask.float().mean())


class BatchSampler:
    """Shuffled batches of row indices, reproducible and resumable.

    Each epoch is a fresh permutation; an incomplete last batch is dropped so
    every batch has the same size.

    Parameters
    ----------
    n_rows : int
        Dataset size.
    batch_size : int
        Rows per batch (capped at ``n_rows``).
    seed : int
        Seed of the permutations.
    """

    def __init__(self, n_rows: int, batch_size: int, seed: int) -> None:
        if n_rows < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        self.n_rows = n_rows
        self.batch_size = min(batch_size, n_rows)
        self.generator = make_generator(seed)
        self._new_epoch()

    def _new_epoch(self) -> None:
        self._epoch_state = self.generator.get_state()
        self._perm = torch.randperm(self.n_rows, generator=self.generator)
        self._pos = 0

    def next(self) -> Tensor:
        """Indices of the next batch."""
        if self._pos + self.batch_size > self.n_rows:
            self._new_epoch()
        batch = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Any]:
        """State from which :meth:`load_state_dict` resumes the same sequence."""
        return {"epoch_state": self._epoch_state, "pos": self._pos}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict` output."""
        self.generator.set_state(state["epoch_state"])
        self._new_epoch()
        self._pos = int(state["pos"])


MULTI_TOPK_WEIGHT = 1.0 / 8.0
"""Weight of the Multi-TopK FVU in the loss (as in sparsify)."""


def _check_data(coder_config: CoderConfig, x: Tensor, y: Tensor | None) -> None:
    if coder_config.activation == "jumprelu":
        raise ValueError(
            "JumpReLU coders are loaded (from SAELens), not trained here; train topk, "
            "groupmax or relu coders"
        )
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty (n, d) matrix, got shape {tuple(x.shape)}")
    if coder_config.transcode and y is None:
        raise ValueError("a transcoder needs targets y (the module outputs)")
    if y is not None and y.shape != x.shape:
        raise ValueError(
            "inputs and targets must have the same shape, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )


def save_checkpoint(
    folder: str | Path,
    coder: SparseCoder,
    optimizer: torch.optim.Optimizer,
    sampler: BatchSampler,
    step: int,
    tracker: DeadLatentTracker,
    seed: int,
    train_config: TrainConfig,
) -> Path:
    """Write a resumable checkpoint: the coder (reference layout) plus ``state.pt``."""
    folder = save_coder(coder, folder)
    torch.save(
        {
            "step": step,
            "seed": seed,
            "optimizer": optimizer.state_dict(),
            "sampler": sampler.state_dict(),
            "tokens_since_fired": tracker.tokens_since_fired.cpu(),
            "train_config": dataclasses.asdict(train_config),
        },
        folder / STATE_FILE,
    )
    return folder


def train_coder(
    x: Tensor,
    y: Tensor | None = None,
    *,
    coder_config: CoderConfig,
    train_config: TrainConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str | None = None,
) -> TrainResult:
    """Train one sparse coder.

    Parameters
    ----------
    x : Tensor, shape (n, d)
        Inputs (activations).
    y : Tensor, shape (n, d), optional
        Targets for transcoders (module outputs); autoencoders use ``x``.
    coder_config : CoderConfig
        Architecture.
    train_config : TrainConfig, optional
        Optimisation settings (defaults if omitted).
    seed : int
        Initialisation seed of the coder.
    device : str or torch.device
        Where to train.
    checkpoint_dir : str or Path, optional
        Folder for checkpoints (coder in the reference layout plus
        ``state.pt``), written every ``save_every`` steps and at the end.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` if there is one.
    progress : bool
        Show a progress bar.
    description : str, optional
        Progress-bar label.

    Returns
    -------
    TrainResult
    """
    cfg = train_config or TrainConfig()
    _check_data(coder_config, x, y)
    target = x if y is None else y
    n_rows, d_in = x.shape
    coder = build_coder(d_in, coder_config, seed=seed, device=device)
    optimizer = torch.optim.Adam(coder.parameters(), lr=cfg.learning_rate(coder.num_latents))
    base_lr = optimizer.param_groups[0]["lr"]
    sampler = BatchSampler(n_rows, cfg.batch_size, cfg.data_seed)
    tracker = DeadLatentTracker(coder.num_latents, cfg.dead_feature_threshold, device)
    total_steps = cfg.steps_for(n_rows)
    start = 0

    state_path = Path(checkpoint_dir) / STATE_FILE if checkpoint_dir is not None else None
    if resume and state_path is not None and state_path.is_file():
        coder = load_coder(checkpoint_dir, device=device, dtype=torch.float32)
        if coder.cfg != coder_config or coder.d_in != d_in:
            raise ValueError(
                f"checkpoint in {checkpoint_dir} holds a different coder ({coder.cfg}, "
                f"d_in={coder.d_in})"
            )
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if int(state["seed"]) != seed:
            raise ValueError(
                f"checkpoint in {checkpoint_dir} was trained with seed {state['seed']}, not {seed}"
            )
        optimizer = torch.optim.Adam(coder.parameters(), lr=base_lr)
        optimizer.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        tracker.tokens_since_fired = state["tokens_since_fired"].to(device)
        start = int(state["step"])
    else:
        coder.initialize_from_data_(x, y)

    history: list[StepLog] = []
    bar = tqdm(
        range(start, total_steps),
        desc=description or f"seed {seed}",
        disable=not progress,
        leave=False,
        initial=start,
        total=total_steps,
    )
    for step in bar:
        index = sampler.next()
        xb = x[index].to(device=device, dtype=coder.dtype)
        yb = target[index].to(device=device, dtype=coder.dtype)
        if coder.normalizes_decoder:
            coder.normalize_decoder_()
        dead_mask = tracker.dead_mask if cfg.auxk_alpha > 0 else None
        out = coder(xb, yb, dead_mask=dead_mask, k_aux=cfg.k_aux)
        l1_weight = cfg.l1_coefficient
        if cfg.l1_warmup_steps:
            l1_weight *= min(1.0, (step + 1) / cfg.l1_warmup_steps)
        loss = (
            out.fvu
            + cfg.auxk_alpha * out.auxk_loss
            + l1_weight * out.l1_loss
            + MULTI_TOPK_WEIGHT * out.multi_topk_fvu
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if coder.normalizes_decoder:
            coder.remove_parallel_gradient_()
        if cfg.lr_warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = base_lr * min(1.0, (step + 1) / cfg.lr_warmup_steps)
        optimizer.step()

        tracker.update(out.latents.fired(coder.num_latents), index.numel())

        if step % cfg.log_every == 0 or step == total_steps - 1:
            dead = tracker.dead_fraction
            record = StepLog(
                step=step,
                loss=loss.item(),
                fvu=out.fvu.item(),
                l0=out.l0.item(),
                auxk_loss=out.auxk_loss.item(),
                l1_loss=out.l1_loss.item(),
                dead_fraction=dead,
            )
            history.append(record)
            bar.set_postfix(fvu=f"{record.fvu:.3f}", l0=f"{record.l0:.1f}", dead=f"{dead:.2f}")
        if checkpoint_dir is not None and cfg.save_every and (step + 1) % cfg.save_every == 0:
            save_checkpoint(checkpoint_dir, coder, optimizer, sampler, step + 1, tracker, seed, cfg)
    bar.close()

    if coder.normalizes_decoder:
        coder.normalize_decoder_()
    if checkpoint_dir is not None:
        save_checkpoint(checkpoint_dir, coder, optimizer, sampler, total_steps, tracker, seed, cfg)
    return TrainResult(
        coder=coder,
        seed=seed,
        history=history,
        tokens_since_fired=tracker.tokens_since_fired.cpu(),
        dead_feature_threshold=cfg.dead_feature_threshold,
    )


def train_seeds(
    x: Tensor,
    y: Tensor | None = None,
    *,
    coder_config: CoderConfig,
    train_config: TrainConfig | None = None,
    seeds: Sequence[int] = (0,),
    device: str | torch.device = "cpu",
    progress: bool = True,
    description: str | None = None,
) -> list[TrainResult]:
    """Train one coder per initialisation seed on the same batches.

    Parameters
    ----------
    x, y : Tensor
        As in :func:`train_coder`.
    coder_config : CoderConfig
        Architecture shared by all seeds.
    train_config : TrainConfig, optional
        Optimisation settings shared by all seeds (one data order).
    seeds : sequence of int
        Initialisation seeds.
    device : str or torch.device
        Where to train.
    progress : bool
        Show progress bars.
    description : str, optional
        Prefix of the progress-bar labels.

    Returns
    -------
    list of TrainResult
        In the order of ``seeds``.
    """
    if not seeds:
        raise ValueError("give at least one seed")
    prefix = f"{description} " if description else ""
    return [
        train_coder(
            x,
            y,
            coder_config=coder_config,
            train_config=train_config,
            seed=seed,
            device=device,
            progress=progress,
            description=f"{prefix}seed {seed}",
        )
        for seed in seeds
    ]


def output_folder(out_dir: str | Path, hookpoint: str, seed: int, n_seeds: int) -> Path:
    """Folder of one trained coder.

    One seed: ``out_dir/<hookpoint>``; several seeds:
    ``out_dir/seed<seed>/<hookpoint>``, so each seed folder is a complete
    collection in the reference layout.
    """
    out_dir = Path(out_dir)
    return out_dir / hookpoint if n_seeds == 1 else out_dir / f"seed{seed}" / hookpoint


def train_to_disk(
    datasets: Mapping[str, tuple[Tensor, Tensor | None]],
    out_dir: str | Path,
    *,
    coder_config: CoderConfig,
    train_config: TrainConfig | None = None,
    seeds: Sequence[int] = (0,),
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[tuple[str, int], tuple[TrainResult, Path]]:
    """Train coders for several hook points and seeds and save them.

    Final coders go to :func:`output_folder`; with ``save_every > 0``,
    resumable checkpoints go to ``out_dir/checkpoints/`` under the same
    relative path.

    Parameters
    ----------
    datasets : mapping of str to (Tensor, Tensor or None)
        Hook point name to (inputs, targets or ``None``).
    out_dir : str or Path
        Output root.
    coder_config, train_config, seeds, device, progress
        As in :func:`train_seeds`.

    Returns
    -------
    dict
        ``(hookpoint, seed)`` to ``(TrainResult, folder)``.
    """
    cfg = train_config or TrainConfig()
    out_dir = Path(out_dir)
    results: dict[tuple[str, int], tuple[TrainResult, Path]] = {}
    for hookpoint, (x, y) in datasets.items():
        for seed in seeds:
            folder = output_folder(out_dir, hookpoint, seed, len(seeds))
            checkpoints = (
                out_dir / "checkpoints" / folder.relative_to(out_dir) if cfg.save_every else None
            )
            result = train_coder(
                x,
                y,
                coder_config=coder_config,
                train_config=cfg,
                seed=seed,
                device=device,
                checkpoint_dir=checkpoints,
                resume=checkpoints is not None,
                progress=progress,
                description=f"{hookpoint} seed {seed}",
            )
            save_coder(result.coder, folder)
            results[(hookpoint, seed)] = (result, folder)
    return results
