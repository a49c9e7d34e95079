"""Judges: answer parsing, scripted judges, and the HTTP judge against a real local server."""

import json
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from interp_scoring_data import DECODE, synthetic_cache

from interp.activations.examples import ExampleConfig, build_examples
from interp.judges.http import OpenAIJudge
from interp.judges.protocol import (
    Judge,
    JudgeRequest,
    JudgeUnavailableError,
    NoisyJudge,
    OracleJudge,
    RandomJudge,
    parse_answer,
)
from interp.scorers.scoring import detection_score

USER = ({"role": "user", "content": "question"},)


def _req(kind, n=2, truth=None, content="question"):
    return JudgeRequest(({"role": "user", "content": content},), kind, n_options=n, truth=truth)


@pytest.mark.parametrize(
    ("kind", "n", "text", "value"),
    [
        ("binary", 2, "1", 1),
        ("binary", 2, " 0\n", 0),
        ("binary", 2, "Yes, it is active.", 1),
        ("binary", 2, "No.", 0),
        ("choice", 5, "The intruder is example 3.", 2),
        ("choice", 5, "Example 9, no, 4", 3),
        ("scores", 3, "0 7 10", [0.0, 7.0, 10.0]),
        ("text", 2, "Explanation: animal names\nmore", "animal names"),
    ],
)
def test_parse_answer_reads_each_kind(kind, n, text, value):
    answer = parse_answer(_req(kind, n), text)
    assert answer.ok and answer.value == value and answer.text == text


@pytest.mark.parametrize(
    ("kind", "n", "text"),
    [
        ("binary", 2, "perhaps"),
        ("binary", 2, "7"),
        ("choice", 3, "Example 7"),
        ("scores", 3, "1 2"),
        ("scores", 2, "3 11"),
        ("text", 2, "  \n "),
    ],
)
def test_parse_answer_flags_malformed_text(kind, n, text):
    answer = parse_answer(_req(kind, n), text)
    assert not answer.ok and answer.value is None and answer.error.startswith("malformed")


def test_scripted_judges_follow_the_protocol():
    requests = [_req("binary", truth=i % 2) for i in range(2000)]
    assert isinstance(OracleJudge(), Judge) and isinstance(RandomJudge(), Judge)
    assert [a.value for a in OracleJudge().answer(requests)] == [r.truth for r in requests]
    noisy = NoisyJudge(0.25, seed=0).answer(requests)
    flipped = sum(a.value != r.truth for a, r in zip(noisy, requests, strict=False))
    assert flipped / 2000 == pytest.approx(0.25, abs=0.03)
    choices = RandomJudge(seed=0).answer([_req("choice", 4)] * 4000)
    counts = [sum(a.value == k for a in choices) for k in range(4)]
    assert all(abs(c / 4000 - 0.25) < 0.03 for c in counts)
    with pytest.raises(ValueError, match="truth"):
        OracleJudge().answer([_req("binary")])
    with pytest.raises(ValueError, match="error_rate"):
        NoisyJudge(1.5)
    with pytest.raises(ValueError, match="kind"):
        JudgeRequest(USER, "essay")


# -- a small OpenAI-compatible server ----------------------------------------------------------


class _Server:
    """Chat-completions server on 127.0.0.1; the request's model name picks the behaviour."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    key = body["messages"][-1]["content"]
                    server.calls[key] = server.calls.get(key, 0) + 1
                    count = server.calls[key]
                try:
                    server.respond(self, body, count)
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @staticmethod
    def _send(handler, status, payload, headers=()):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def respond(self, handler, body, count):
        mode = body["model"]
        content = body["messages"][-1]["content"]
        if handler.path != "/v1/chat/completions":
            return self._send(handler, 404, {"error": "not found"})
        if mode == "slow":
            time.sleep(1.0)
        if mode == "busy":
            time.sleep(0.15)
        if mode == "error":
            return self._send(handler, 500, {"error": "boom"})
        if mode == "flaky" and count <= 2:
            return self._send(handler, 503, {"error": "overloaded"})
        if mode == "limited" and count == 1:
            return self._send(handler, 429, {"error": "slow down"}, [("Retry-After", "0.05")])
        if mode == "bad-request":
            return self._send(handler, 400, {"error": "bad"})
        if mode == "not-json":
            return self._send(handler, 200, b"<html>oops</html>")
        if mode == "no-choices":
            return self._send(handler, 200, {"choices": []})
        text = "perhaps" if mode == "rambling" else content.split("=")[-1]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}}
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {
                        "token": text,
                        "logprob": -0.1,
                        "top_logprobs": [
                            {"token": "1", "logprob": math.log(0.7)},
                            {"token": "0", "logprob": math.log(0.2)},
                        ],
                    }
                ]
            }
        return self._send(handler, 200, {"choices": [choice]})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    srv = _Server()
    yield srv
    srv.close()


def _judge(server, mode, **kw):
    opts = {"timeout": 5.0, "max_retries": 2, "backoff": 0.01, "concurrency": 4}
    return OpenAIJudge(base_url=server.url, model=mode, **{**opts, **kw})


def test_http_judge_answers_and_reads_logprobs(server):
    judge = _judge(server, "ok")
    answers = judge.answer(
        [_req("binary", content=f"q{i} answer=1") for i in range(3)]
        + [_req("choice", 4, content="pick=3"), _req("text", content="=cats")]
    )
    assert [a.value for a in answers] == [1, 1, 1, 2, "cats"]
    assert answers[0].p_true == pytest.approx(0.7 / 0.9)  # P(1) / (P(0) + P(1))
    assert answers[3].p_true is None
    assert judge.stats.requests == 5 and judge.stats.failed == 0 and judge.stats.retries == 0


def test_http_judge_retries_transient_errors(server):
    judge = _judge(server, "flaky")
    answers = judge.answer([_req("binary", content=f"q{i}=0") for i in range(3)])
    assert [a.value for a in answers] == [0, 0, 0]
    assert judge.stats.retries == 6 and judge.stats.attempts == 9
    limited = _judge(server, "limited")
    assert limited.answer([_req("binary", content="r=1")])[0].value == 1
    assert limited.stats.retries == 1


def test_http_judge_counts_persistent_errors(server):
    judge = _judge(server, "error")
    answers = judge.answer([_req("binary", content=f"e{i}=1") for i in range(2)])
    assert all(not a.ok and "HTTP 500" in a.error and "3 tries" in a.error for a in answers)
    assert judge.stats.failed == 2 and judge.stats.attempts == 6
    bad = _judge(server, "bad-request").answer([_req("binary", content="b=1")])[0]
    assert not bad.ok and "HTTP 400" in bad.error


def test_http_judge_times_out_slow_answers(server):
    judge = _judge(server, "slow", timeout=0.2, max_retries=1)
    start = time.perf_counter()
    answer = judge.answer([_req("binary", content="s=1")])[0]
    assert time.perf_counter() - start < 0.9  # two 0.2 s tries, not two 1 s answers
    assert not answer.ok and "no answer within 0.2 s" in answer.error


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("not-json", "malformed response: not JSON"),
        ("no-choices", "malformed response: no choices"),
        ("rambling", "malformed answer"),
    ],
)
def test_http_judge_reports_malformed_output(server, mode, message):
    judge = _judge(server, mode)
    answer = judge.answer([_req("binary", content="m=1")])[0]
    assert not answer.ok and answer.error.startswith(message)
    assert judge.stats.malformed == 1 and judge.stats.retries == 0


def test_http_judge_limits_concurrency(server):
    judge = _judge(server, "busy", concurrency=3)
    start = time.perf_counter()
    answers = judge.answer([_req("binary", content=f"c{i}=1") for i in range(9)])
    elapsed = time.perf_counter() - start
    assert all(a.value == 1 for a in answers)
    assert server.max_in_flight == 3 and judge.stats.max_in_flight == 3
    assert elapsed >= 3 * 0.15  # three rounds of three


def test_http_judge_unreachable_and_misconfigured(server, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    judge = OpenAIJudge(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff=0.01
    )
    with pytest.raises(JudgeUnavailableError, match=f"cannot reach .*127.0.0.1:{port}"):
        judge.answer([_req("binary", content="x=1")])
    wrong_path = OpenAIJudge(base_url=server.url + "/nope", model="ok", backoff=0.01)
    with pytest.raises(JudgeUnavailableError, match="HTTP 404.*base URL"):
        wrong_path.answer([_req("binary", content="x=1")])
    monkeypatch.delenv("INTERP_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("INTERP_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="INTERP_JUDGE_BASE_URL"):
        OpenAIJudge(model="m")
    monkeypatch.setenv("INTERP_JUDGE_BASE_URL", server.url)
    with pytest.raises(ValueError, match="INTERP_JUDGE_MODEL"):
        OpenAIJudge()
    monkeypatch.setenv("INTERP_JUDGE_MODEL", "ok")
    from_env = OpenAIJudge(backoff=0.01)
    assert from_env.url == server.url + "/chat/completions" and from_env.name == "http:ok"
    assert from_env.answer([_req("binary", content="env=1")])[0].value == 1


class _EchoTruthServer(_Server):
    """Answers detection prompts correctly when the example mentions an animal, else rambles
    for every fifth request."""

    def respond(self, handler, body, count):
        text = body["messages"][-1]["content"].split("Text:")[1]
        animal = any(a in text for a in ("cat", "dog", "horse", "sheep", "goat"))
        n = sum(self.calls.values())
        reply = "I am not sure" if n % 5 == 0 else str(int(animal))
        choice = {"index": 0, "message": {"role": "assistant", "content": reply}}
        return self._send(handler, 200, {"choices": [choice]})


def test_detection_through_http_counts_malformed_answers():
    srv = _EchoTruthServer()
    try:
        cache = synthetic_cache(rows=100, ctx_len=32, p_animal=0.03, seed=1)
        ex = build_examples(
            cache,
            0,
            DECODE,
            ExampleConfig(window=8, n_quantiles=4, n_test_per_quantile=5, n_negatives=20),
        )
        judge = OpenAIJudge(base_url=srv.url, model="echo", backoff=0.01, concurrency=1)
        result = detection_score(judge, "animal names", ex)
    finally:
        srv.close()
    n = len(ex.test) + len(ex.negatives)
    assert n >= 30
    assert result.n_items == n and result.n_failed == n // 5  # every fifth answer is not 0 or 1
    assert result.metrics["accuracy"] == 1.0 and math.isnan(result.metrics["auc"])
    assert judge.stats.malformed == n // 5
