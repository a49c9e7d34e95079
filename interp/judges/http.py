"""A judge served by any OpenAI-compatible ``/chat/completions`` endpoint.

Works with hosted APIs and with local servers (vLLM, llama.cpp's server,
Ollama's OpenAI endpoint, ...). Uses only the standard library.

Failure handling
----------------
* Connection errors, time-outs, HTTP 429 and 5xx are retried with
  exponential back-off (``backoff * 2**attempt`` seconds, at most
  ``max_backoff``; a numeric ``Retry-After`` header is honoured within the
  same cap).
* A request still failing after ``max_retries`` retries comes back as a
  :class:`~interp.judges.protocol.JudgeAnswer` with ``error`` set (counted by the
  scorers), except when the server could never be reached or rejects the
  configuration (HTTP 401, 403, 404): then :class:`JudgeUnavailableError`
  is raised, naming the URL and how to fix it.
* A response that is not the expected JSON, or whose text does not hold an
  answer of the requested kind, is an ``error`` answer ("malformed ...").
* At most ``concurrency`` requests are in flight at once.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from interp.judges.protocol import (
    JudgeAnswer,
    JudgeRequest,
    JudgeUnavailableError,
    p_true_from_logprobs,
    parse_answer,
)

ENV_BASE_URL = "INTERP_JUDGE_BASE_URL"
ENV_MODEL = "INTERP_JUDGE_MODEL"
ENV_API_KEY = "INTERP_JUDGE_API_KEY"
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_FATAL_STATUS = {
    401: "the server refused the API key (set INTERP_JUDGE_API_KEY or --judge-api-key)",
    403: "the server refused access (check the API key)",
    404: "no such endpoint or model (check the base URL, which usually ends in /v1, "
    "and the model name)",
}


@dataclass
class JudgeStats:
    """Counters of an :class:`OpenAIJudge`'s traffic.

    Attributes
    ----------
    requests : int
        Requests answered (successfully or not).
    attempts : int
        HTTP calls made, retries included.
    retries : int
        Calls repeated after a transient failure.
    failed : int
        Requests that came back with an error.
    malformed : int
        Of those, answers the parser or JSON decoder could not read.
    max_in_flight : int
        Most requests in flight at once.
    """

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    failed: int = 0
    malformed: int = 0
    max_in_flight: int = 0


class _Transient(Exception):
    """A failure worth retrying."""

    def __init__(self, message: str, *, connection: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.connection = connection
        self.retry_after = retry_after


class _Failed(Exception):
    """A request that cannot succeed (no retry)."""


@dataclass
class OpenAIJudge:
    """Judge backed by an OpenAI-compatible chat-completions server.

    Parameters
    ----------
    base_url : str, optional
        Server root, e.g. ``http://127.0.0.1:8000/v1``; requests go to
        ``{base_url}/chat/completions``. Default: ``$INTERP_JUDGE_BASE_URL``.
    model : str, optional
        Model name sent with each request. Default: ``$INTERP_JUDGE_MODEL``.
    api_key : str, optional
        Bearer token. Default: ``$INTERP_JUDGE_API_KEY``; none is sent if unset.
    timeout : float
        Seconds to wait for one HTTP call.
    max_retries : int
        Retries of a transient failure (so at most ``max_retries + 1`` calls).
    backoff : float
        First back-off delay in seconds; doubles on each retry.
    max_backoff : float
        Longest back-off delay in seconds.
    concurrency : int
        Most requests in flight at once.
    temperature : float
        Sampling temperature (0 for the most deterministic answers).
    logprobs : bool
        Ask for the top log-probabilities of binary answers (to compute
        ``p_true`` and AUCs); servers that ignore the field still work.
    name : str, optional
        Name in result tables; default ``"http:<model>"``.
    """

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    concurrency: int = 4
    temperature: float = 0.0
    logprobs: bool = True
    name: str = ""
    stats: JudgeStats = field(default_factory=JudgeStats, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _in_flight: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url or os.environ.get(ENV_BASE_URL)
        self.model = self.model or os.environ.get(ENV_MODEL)
        self.api_key = self.api_key or os.environ.get(ENV_API_KEY)
        if not self.base_url:
            raise ValueError(
                f"no judge server: pass a base URL (--judge-base-url) or set {ENV_BASE_URL}"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"judge base URL must start with http:// or https://: {self.base_url}")
        if not self.model:
            raise ValueError(f"no judge model name: pass --judge-model or set {ENV_MODEL}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0 or self.timeout <= 0 or self.backoff < 0:
            raise ValueError("max_retries and backoff must be >= 0 and timeout > 0")
        self.name = self.name or f"http:{self.model}"

    @property
    def url(self) -> str:
        """The chat-completions endpoint."""
        return f"{str(self.base_url).rstrip('/')}/chat/completions"

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Send every request (at most ``concurrency`` at once); answers in order."""
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            futures = [pool.submit(self._answer_one, r) for r in requests]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    # -- one request -------------------------------------------------------------------------

    def _payload(self, request: JudgeRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": self.temperature,
        }
        if self.logprobs and request.kind == "binary":
            payload["logprobs"] = True
            payload["top_logprobs"] = 5
        return payload

    def _answer_one(self, request: JudgeRequest) -> JudgeAnswer:
        with self._lock:
            self._in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
        try:
            answer = self._call_with_retries(request)
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.stats.requests += 1
            if not answer.ok:
                self.stats.failed += 1
                if answer.error and answer.error.startswith("malformed"):
                    self.stats.malformed += 1
        return answer

    def _call_with_retries(self, request: JudgeRequest) -> JudgeAnswer:
        body = json.dumps(self._payload(request)).encode("utf-8")
        last: _Transient | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
                if last is not None and last.retry_after is not None:
                    delay = min(max(delay, last.retry_after), self.max_backoff)
                with self._lock:
                    self.stats.retries += 1
                time.sleep(delay)
            with self._lock:
                self.stats.attempts += 1
            try:
                response = self._post(body)
            except _Transient as err:
                last = err
                continue
            except _Failed as err:
                return JudgeAnswer(None, error=str(err))
            return self._read(request, response)
        assert last is not None
        tries = self.max_retries + 1
        if last.connection:
            raise JudgeUnavailableError(
                f"cannot reach the judge server at {self.url} after {tries} tries ({last}); "
                f"start the server or fix --judge-base-url / {ENV_BASE_URL}"
            )
        return JudgeAnswer(None, error=f"{last} (after {tries} tries)")

    def _post(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = _snippet(err.read())
            if err.code in _FATAL_STATUS:
                raise JudgeUnavailableError(
                    f"judge server {self.url} answered HTTP {err.code}: {_FATAL_STATUS[err.code]}"
                    f" ({detail})"
                ) from None
            if err.code in _RETRY_STATUS:
                raise _Transient(
                    f"HTTP {err.code} from judge server: {detail}",
                    retry_after=_retry_after(err.headers.get("Retry-After")),
                ) from None
            raise _Failed(f"HTTP {err.code} from judge server: {detail}") from None
        except TimeoutError:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Transient(f"no answer within {self.timeout:g} s") from None
            raise _Transient(f"connection failed: {err.reason}", connection=True) from None
        except (ConnectionError, http.client.HTTPException) as err:
            raise _Transient(f"connection dropped: {err!r}") from None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Failed(f"malformed response: not JSON ({_snippet(raw)})") from None

    def _read(self, request: JudgeRequest, response: Any) -> JudgeAnswer:
        try:
            choice = response["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (KeyError, IndexError, TypeError) as err:
            return JudgeAnswer(
                None, error=f"malformed response: no choices[0].message.content ({err!r})"
            )
        answer = parse_answer(request, text)
        if request.kind == "binary" and answer.ok:
            p = _binary_probability(choice.get("logprobs"))
            if p is not None:
                answer = JudgeAnswer(answer.value, text, p_true=p)
        return answer


def _binary_probability(logprobs: Any) -> float | None:
    """``P(1) / (P(0) + P(1))`` from the first answer token's top log-probabilities."""
    try:
        first = logprobs["content"][0]
        options = first.get("top_logprobs") or [first]
        found: dict[str, float] = {}
        for entry in options:
            token = str(entry["token"]).strip()
            if token in ("0", "1") and token not in found:
                found[token] = float(entry["logprob"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not found:
        return None
    return p_true_from_logprobs(found.get("1", float("-inf")), found.get("0", float("-inf")))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _snippet(raw: bytes, n: int = 120) -> str:
    text = raw.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return repr(text if len(text) <= n else text[: n - 3] + "...")
