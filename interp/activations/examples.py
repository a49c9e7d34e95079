"""Examples of a latent: cached activations, windows, quantile samples and negatives.

The pipeline follows the auto-interpretability recipe:

1. :class:`ActivationCache` holds a token corpus in rows, shape
   (rows, ctx_len), and the activations of selected latents on it (see
   :func:`interp.activations.caching.cache_activations` to fill one from a model).
2. :meth:`ActivationCache.windows` cuts every row into windows of
   ``window`` tokens.
3. Activating windows (the latent fires somewhere in them) are ranked by
   their maximum activation and split into rank quantiles
   (:func:`rank_quantiles`): equal-count bins of the sorted list, bin 0
   holding the strongest.
4. :func:`build_examples` draws the explainer's examples, a test sample from
   every quantile and non-activating windows (random without replacement,
   nearest by sentence embedding, or where neighbouring latents fire).
5. :func:`highlight_mask` and :func:`render` mark tokens whose activation is
   at least ``0.3`` of the example's maximum as ``<<token>>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

NegativeSource = Literal["random", "similar", "neighbours"]
Decoder = Callable[[Sequence[int]], list[str]]
Embed = Callable[[Sequence[str]], np.ndarray]
OPEN, CLOSE = "<<", ">>"


# -- cache -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationCache:
    """Activations of selected latents over a token corpus.

    Attributes
    ----------
    tokens : ndarray of int64, shape (rows, ctx_len)
        The corpus, one row per model context.
    latents : ndarray of int64, shape (L,)
        Which latents of the coder are cached (distinct).
    activations : ndarray of float32, shape (L, rows, ctx_len)
        Activation of each cached latent at each token (0 where silent).
    """

    tokens: np.ndarray
    latents: np.ndarray
    activations: np.ndarray

    def __post_init__(self) -> None:
        tokens = np.asarray(self.tokens)
        latents = np.asarray(self.latents, dtype=np.int64).ravel()
        acts = np.asarray(self.activations, dtype=np.float32)
        if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be an integer (rows, ctx_len) array, got {tokens.shape}")
        if acts.shape != (latents.size, *tokens.shape):
            raise ValueError(
                f"activations have shape {acts.shape}, expected (latents, rows, ctx_len) = "
                f"{(latents.size, *tokens.shape)}"
            )
        if len(set(latents.tolist())) != latents.size:
            raise ValueError("cached latents must be distinct")
        if (acts < 0).any() or not np.isfinite(acts).all():
            raise ValueError("latent activations must be finite and non-negative")
        object.__setattr__(self, "tokens", tokens.astype(np.int64))
        object.__setattr__(self, "latents", latents)
        object.__setattr__(self, "activations", acts)

    @property
    def ctx_len(self) -> int:
        """Tokens per row."""
        return int(self.tokens.shape[1])

    def index(self, latent: int) -> int:
        """Position of ``latent`` in :attr:`latents`."""
        hits = np.flatnonzero(self.latents == latent)
        if hits.size == 0:
            raise KeyError(
                f"latent {latent} is not in the cache (cached: {_preview(self.latents)}); "
                "cache it first"
            )
        return int(hits[0])

    def of(self, latent: int) -> np.ndarray:
        """Activations of one latent, shape (rows, ctx_len)."""
        return self.activations[self.index(latent)]

    def windows(self, latent: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Cut every row into consecutive windows of ``window`` tokens.

        A row's tail shorter than a window is dropped.

        Parameters
        ----------
        latent : int
            The latent.
        window : int
            Tokens per window (at most ``ctx_len``).

        Returns
        -------
        tokens, activations : ndarray, shape (n_windows, window)
            Window ``w`` is tokens ``[j * window, (j + 1) * window)`` of row
            ``w // (ctx_len // window)`` with ``j = w % (ctx_len // window)``.
        """
        return (
            _cut(self.tokens, window, self.ctx_len),
            _cut(self.of(latent), window, self.ctx_len),
        )

    def save(self, path: str | Path) -> Path:
        """Write the cache to a ``.npz`` file."""
        path = Path(path)
        np.savez_compressed(
            path, tokens=self.tokens, latents=self.latents, activations=self.activations
        )
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> ActivationCache:
        """Read a cache written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no activation cache at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["tokens"], data["latents"], data["activations"])
        except (KeyError, OSError, ValueError) as err:
            raise ValueError(f"{path} is not an activation cache ({err})") from err


def _cut(array: np.ndarray, window: int, ctx_len: int) -> np.ndarray:
    if not 1 <= window <= ctx_len:
        raise ValueError(f"window must be between 1 and ctx_len = {ctx_len}, got {window}")
    per_row = ctx_len // window
    return array[:, : per_row * window].reshape(-1, window)


def _preview(values: np.ndarray, n: int = 8) -> str:
    items = ", ".join(str(v) for v in values[:n].tolist())
    return items + (", ..." if values.size > n else "")


# -- examples ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One window of text with a latent's activations on it.

    Attributes
    ----------
    token_ids : ndarray of int64, shape (window,)
        Token ids.
    tokens : tuple of str
        The tokens as text (concatenated they give the window's text).
    activations : ndarray of float32, shape (window,)
        The latent's activation at each token.
    window : int
        Index of the window in :meth:`ActivationCache.windows`.
    quantile : int
        Rank quantile (0 = strongest) of an activating example, -1 for a
        non-activating one.
    source : str
        How the example was chosen: ``"top"``, ``"quantile"``, ``"random"``,
        ``"similar"`` or ``"neighbours"``.
    """

    token_ids: np.ndarray
    tokens: tuple[str, ...]
    activations: np.ndarray
    window: int
    quantile: int
    source: str

    @property
    def activating(self) -> bool:
        """Whether the latent fires in this window."""
        return self.quantile >= 0

    @property
    def max_activation(self) -> float:
        """Largest activation in the window."""
        return float(self.activations.max(initial=0.0))

    @property
    def text(self) -> str:
        """The window's text."""
        return "".join(self.tokens)

    def normalized(self, max_activation: float) -> np.ndarray:
        """Activations on a 0-10 integer scale: ``ceil(10 * act / max_activation)``."""
        return normalized_activations(self.activations, max_activation)

    def highlight(self, threshold: float = 0.3) -> np.ndarray:
        """Mask of this example's highlighted tokens (see :func:`highlight_mask`)."""
        return highlight_mask(self.activations, threshold)


@dataclass(frozen=True)
class LatentExamples:
    """The examples of one latent used to explain and to score it.

    Attributes
    ----------
    latent : int
        The latent.
    max_activation : float
        Its largest activation over the whole cache.
    train : list of Example
        Activating examples shown to the explainer.
    test : list of Example
        Activating examples held out for scoring, from every quantile.
    negatives : list of Example
        Non-activating examples for scoring.
    n_activating : int
        Number of activating windows in the cache.
    """

    latent: int
    max_activation: float
    train: list[Example]
    test: list[Example]
    negatives: list[Example]
    n_activating: int = 0

    def test_quantiles(self) -> dict[int, list[Example]]:
        """Held-out activating examples grouped by quantile."""
        groups: dict[int, list[Example]] = {}
        for example in self.test:
            groups.setdefault(example.quantile, []).append(example)
        return dict(sorted(groups.items()))


@dataclass(frozen=True)
class ExampleConfig:
    """How to draw a latent's examples.

    Attributes
    ----------
    window : int
        Tokens per example window (32 in the reference recipe).
    n_quantiles : int
        Number of rank quantiles of the activating windows.
    n_train : int
        Activating examples shown to the explainer.
    train_type : {"top", "random"}
        Explain from the strongest windows or from a random sample.
    n_test_per_quantile : int
        Held-out activating examples drawn from each quantile.
    n_negatives : int
        Non-activating examples.
    negatives : {"random", "similar", "neighbours"}
        Random silent windows, those nearest the activating examples by
        sentence embedding, or windows where neighbouring latents fire (both
        topped up with random windows if too few).
    candidate_pool : int
        For ``"similar"``: how many random silent windows (as a multiple of
        ``n_negatives``) are embedded to pick the nearest from.
    """

    window: int = 32
    n_quantiles: int = 10
    n_train: int = 20
    train_type: Literal["top", "random"] = "top"
    n_test_per_quantile: int = 5
    n_negatives: int = 50
    negatives: NegativeSource = "random"
    candidate_pool: int = 5

    def __post_init__(self) -> None:
        for name in ("window", "n_quantiles", "candidate_pool"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("n_train", "n_test_per_quantile", "n_negatives"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.train_type not in ("top", "random"):
            raise ValueError(f"train_type must be 'top' or 'random', got {self.train_type!r}")
        if self.negatives not in ("random", "similar", "neighbours"):
            raise ValueError(
                f"negatives must be 'random', 'similar' or 'neighbours', got {self.negatives!r}"
            )


def rank_quantiles(values: ArrayLike, n_bins: int) -> np.ndarray:
    """Assign each value to a rank quantile: equal-count bins of the sorted values.

    Bins are by *rank*, not by value: sort descending and split the list
    into ``n_bins`` consecutive parts whose sizes differ by at most one (the
    first bins take the extra items). Ties are broken by position.

    Parameters
    ----------
    values : array_like, shape (n,)
        For example the maximum activation of each activating window.
    n_bins : int
        Number of bins (clipped to ``n`` when there are fewer values).

    Returns
    -------
    ndarray of int64, shape (n,)
        Bin of each value; 0 holds the largest values.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    bins = np.empty(values.size, dtype=np.int64)
    if values.size == 0:
        return bins
    order = np.argsort(-values, kind="stable")
    for b, members in enumerate(np.array_split(order, min(n_bins, values.size))):
        bins[members] = b
    return bins


def normalized_activations(activations: np.ndarray, max_activation: float) -> np.ndarray:
    """``ceil(10 * act / max_activation)`` clipped to [0, 10], as integers."""
    if max_activation <= 0:
        return np.zeros(np.shape(activations), dtype=np.int64)
    scaled = np.ceil(10.0 * np.asarray(activations, dtype=float) / max_activation - 1e-9)
    return np.clip(scaled, 0, 10).astype(np.int64)


def highlight_mask(activations: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """Tokens to highlight: activation >= ``threshold`` times the example's maximum.

    Parameters
    ----------
    activations : ndarray, shape (window,)
        One example's activations.
    threshold : float
        Fraction of the example's maximum, in (0, 1].

    Returns
    -------
    ndarray of bool
        All ``False`` for an example where the latent is silent.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    acts = np.asarray(activations, dtype=float)
    top = acts.max(initial=0.0)
    if top <= 0:
        return np.zeros(acts.shape, dtype=bool)
    return acts >= threshold * top


def random_highlight(
    n_tokens: int,
    n_highlight: int,
    rng: np.random.Generator,
    avoid: np.ndarray | None = None,
) -> np.ndarray:
    """A mask with ``n_highlight`` tokens chosen uniformly without replacement.

    Parameters
    ----------
    n_tokens : int
        Length of the example.
    n_highlight : int
        Tokens to highlight.
    rng : numpy.random.Generator
        Source of randomness.
    avoid : ndarray of bool, optional
        Tokens not to pick (for example the truly active ones, so that the
        highlight is wrong); if fewer than ``n_highlight`` others exist, the
        avoided tokens fill up the rest.

    Returns
    -------
    ndarray of bool, shape (n_tokens,), with exactly ``min(n_highlight, n_tokens)`` True.
    """
    if n_highlight < 0:
        raise ValueError(f"n_highlight must be >= 0, got {n_highlight}")
    n_highlight = min(n_highlight, n_tokens)
    avoid = np.zeros(n_tokens, dtype=bool) if avoid is None else np.asarray(avoid, dtype=bool)
    free, blocked = np.flatnonzero(~avoid), np.flatnonzero(avoid)
    take = rng.permutation(free)[:n_highlight]
    if take.size < n_highlight:
        take = np.concatenate([take, rng.permutation(blocked)[: n_highlight - take.size]])
    mask = np.zeros(n_tokens, dtype=bool)
    mask[take] = True
    return mask


def render(tokens: Sequence[str], mask: np.ndarray | None = None) -> str:
    """Join tokens into text, wrapping each run of highlighted tokens in ``<<`` ``>>``."""
    if mask is None:
        return "".join(tokens)
    if len(mask) != len(tokens):
        raise ValueError(f"mask has {len(mask)} entries for {len(tokens)} tokens")
    parts: list[str] = []
    inside = False
    for token, on in zip(tokens, mask, strict=True):
        if on and not inside:
            parts.append(OPEN)
        elif not on and inside:
            parts.append(CLOSE)
        inside = bool(on)
        parts.append(token)
    if inside:
        parts.append(CLOSE)
    return "".join(parts)


# -- sampling ----------------------------------------------------------------------------------


def decoder_neighbours(decoder: np.ndarray, latent: int, k: int) -> np.ndarray:
    """The ``k`` latents whose decoder directions are closest (cosine) to ``latent``'s.

    Parameters
    ----------
    decoder : ndarray, shape (M, d)
        Decoder rows of a coder.
    latent : int
        The latent.
    k : int
        Number of neighbours.

    Returns
    -------
    ndarray of int64, shape (min(k, M - 1),)
        Most similar first; never ``latent`` itself.
    """
    w = np.asarray(decoder, dtype=float)
    if not 0 <= latent < w.shape[0]:
        raise IndexError(f"latent {latent} out of range for {w.shape[0]} decoder rows")
    norms = np.linalg.norm(w, axis=1)
    sims = w @ w[latent] / np.maximum(norms * norms[latent], 1e-12)
    sims[latent] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return order[: min(k, w.shape[0] - 1)].astype(np.int64)


def nearest_by_embedding(reference: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` candidates most cosine-similar to the reference centroid.

    Parameters
    ----------
    reference : ndarray, shape (r, d)
        Embeddings of the activating examples.
    candidates : ndarray, shape (c, d)
        Embeddings of silent windows.
    n : int
        How many to return.

    Returns
    -------
    ndarray of int64
        Most similar first.
    """
    ref, cand = np.asarray(reference, dtype=float), np.asarray(candidates, dtype=float)
    if ref.ndim != 2 or cand.ndim != 2 or ref.shape[1] != cand.shape[1]:
        raise ValueError(f"embedding shapes do not match: {ref.shape} vs {cand.shape}")
    centroid = ref.mean(axis=0)
    sims = (
        cand @ centroid / np.maximum(np.linalg.norm(cand, axis=1) * np.linalg.norm(centroid), 1e-12)
    )
    return np.argsort(-sims, kind="stable")[:n].astype(np.int64)


@dataclass
class _Windows:
    tokens: np.ndarray
    acts: np.ndarray
    decode: Decoder
    made: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def example(self, w: int, quantile: int, source: str) -> Example:
        if w not in self.made:
            self.made[w] = tuple(self.decode(self.tokens[w].tolist()))
            if len(self.made[w]) != self.tokens.shape[1]:
                raise ValueError(
                    f"decode returned {len(self.made[w])} strings for {self.tokens.shape[1]} tokens"
                )
        return Example(
            self.tokens[w].copy(), self.made[w], self.acts[w].copy(), int(w), quantile, source
        )


def build_examples(
    cache: ActivationCache,
    latent: int,
    decode: Decoder,
    config: ExampleConfig | None = None,
    *,
    seed: int | np.random.Generator = 0,
    embed: Embed | None = None,
    neighbours: Sequence[int] | None = None,
) -> LatentExamples:
    """Draw a latent's explainer examples, held-out test examples and negatives.

    Parameters
    ----------
    cache : ActivationCache
        Tokens and activations (must hold ``latent``, and the neighbours
        when ``config.negatives == "neighbours"``).
    latent : int
        The latent.
    decode : callable
        Maps a list of token ids to a list of token strings of equal length
        (see :func:`token_decoder`).
    config : ExampleConfig, optional
        Sizes and strategies; defaults to :class:`ExampleConfig()`.
    seed : int or numpy.random.Generator
        Randomness of every sample.
    embed : callable, optional
        Texts -> embeddings (n, d); required for ``"similar"`` negatives.
    neighbours : sequence of int, optional
        Latents whose firing windows make ``"neighbours"`` negatives (e.g.
        from :func:`decoder_neighbours`).

    Returns
    -------
    LatentExamples

    Notes
    -----
    Training examples are the ``n_train`` strongest windows (``"top"``) or a
    uniform sample of activating windows (``"random"``); test examples are
    drawn without replacement from every rank quantile among the remaining
    activating windows; negatives are windows where the latent is silent,
    never repeated.
    """
    config = config or ExampleConfig()
    rng = np.random.default_rng(seed)
    tokens, acts = cache.windows(latent, config.window)
    windows = _Windows(tokens, acts, decode)
    peak = acts.max(axis=1)
    active = np.flatnonzero(peak > 0)
    silent = np.flatnonzero(peak == 0)
    if active.size == 0:
        raise ValueError(f"latent {latent} never fires in the cache; it cannot be explained")
    bins = rank_quantiles(peak[active], config.n_quantiles)
    order = active[np.argsort(-peak[active], kind="stable")]
    n_train = min(config.n_train, active.size)
    if config.train_type == "top":
        train_idx = order[:n_train]
    else:
        train_idx = rng.choice(active, size=n_train, replace=False)
    taken = set(train_idx.tolist())
    quantile_of = dict(zip(active.tolist(), bins.tolist(), strict=True))
    train = [windows.example(w, quantile_of[w], config.train_type) for w in train_idx]
    test: list[Example] = []
    for b in range(int(bins.max()) + 1):
        pool = np.array([w for w in active[bins == b].tolist() if w not in taken], dtype=np.int64)
        pick = rng.choice(pool, size=min(config.n_test_per_quantile, pool.size), replace=False)
        test += [windows.example(int(w), b, "quantile") for w in np.sort(pick)]
    negatives = _negatives(
        cache, latent, config, windows, silent, rng, train, embed=embed, neighbours=neighbours
    )
    return LatentExamples(
        latent=int(latent),
        max_activation=float(peak.max()),
        train=train,
        test=test,
        negatives=negatives,
        n_activating=int(active.size),
    )


def _negatives(
    cache: ActivationCache,
    latent: int,
    config: ExampleConfig,
    windows: _Windows,
    silent: np.ndarray,
    rng: np.random.Generator,
    train: list[Example],
    *,
    embed: Embed | None,
    neighbours: Sequence[int] | None,
) -> list[Example]:
    n = min(config.n_negatives, silent.size)
    chosen: list[int] = []
    source = config.negatives
    if source == "similar":
        if embed is None:
            raise ValueError("'similar' negatives need an embed function (texts -> embeddings)")
        pool = rng.choice(silent, size=min(silent.size, n * config.candidate_pool), replace=False)
        texts = [windows.example(int(w), -1, source).text for w in pool]
        reference = embed([e.text for e in train])
        nearest = nearest_by_embedding(reference, np.asarray(embed(texts)), n)
        chosen = pool[nearest].tolist()
    elif source == "neighbours":
        if not neighbours:
            raise ValueError("'neighbours' negatives need a list of neighbouring latents")
        fires = np.zeros(windows.tokens.shape[0], dtype=bool)
        for other in neighbours:
            fires |= cache.windows(int(other), config.window)[1].max(axis=1) > 0
        pool = silent[fires[silent]]
        chosen = rng.choice(pool, size=min(n, pool.size), replace=False).tolist()
    examples = [windows.example(int(w), -1, source) for w in chosen]
    if len(chosen) < n:  # top up with random silent windows
        rest = np.setdiff1d(silent, np.asarray(chosen, dtype=np.int64))
        extra = rng.choice(rest, size=n - len(chosen), replace=False)
        examples += [windows.example(int(w), -1, "random") for w in extra]
    return examples


def token_decoder(tokenizer: Any) -> Decoder:
    """A :data:`Decoder` from a Hugging Face tokenizer (each id decoded on its own).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Must have ``decode``.

    Returns
    -------
    callable
        ids -> list of token strings.
    """

    def decode(ids: Sequence[int]) -> list[str]:
        return [tokenizer.decode([int(i)]) for i in ids]

    return decode


def vocabulary_decoder(vocabulary: Sequence[str], separator: str = " ") -> Decoder:
    """A :data:`Decoder` for a word list: token ``i`` is ``separator + vocabulary[i]``."""
    words = list(vocabulary)

    def decode(ids: Sequence[int]) -> list[str]:
        return [separator + words[int(i)] for i in ids]

    return decode


def examples_per_latent(
    cache: ActivationCache,
    latents: Sequence[int],
    decode: Decoder,
    config: ExampleConfig | None = None,
    *,
    seed: int = 0,
    embed: Embed | None = None,
    neighbours: dict[int, Sequence[int]] | None = None,
    progress: bool | None = False,
) -> dict[int, LatentExamples]:
    """:func:`build_examples` for several latents; latents that never fire are skipped.

    Each latent gets its own generator seeded by ``(seed, latent)``, so a
    latent's examples do not depend on which other latents are processed.
    ``progress`` shows a bar of the latents (``None``: only on a terminal).
    """
    from tqdm.auto import tqdm

    out: dict[int, LatentExamples] = {}
    disable = None if progress is None else not progress
    for latent in tqdm(latents, desc="drawing examples", unit="latent", leave=False,
                       disable=disable):
        if not (cache.of(latent) > 0).any():
            continue
        out[int(latent)] = build_examples(
            cache,
            latent,
            decode,
            config,
            seed=np.random.default_rng([seed, int(latent)]),
            embed=embed,
            neighbours=None if neighbours is None else neighbours.get(int(latent)),
        )
    return out
