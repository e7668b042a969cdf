"""The LLM-judge client against a local OpenAI-compatible server (loopback only, random port):
retries on timeouts and 429, strict verdict parsing with re-asking, and an on-disk cache that makes a
rerun send no request at all."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ragrouter.method.augment.judge import (
    JudgeClient,
    JudgeError,
    parse_score,
    request_key,
)

STRONG, WEAK, JUDGE = "strong-model", "weak-model", "judge-model"


class FakeOpenAI:
    """A scripted /v1/chat/completions: per model a list of actions used in turn, then `default`.

    Actions: ("ok", text) | ("status", code) | ("sleep", seconds, text)."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple]] = defaultdict(list)
        self.default = {STRONG: ("ok", "Strong answer."), WEAK: ("ok", "Weak answer."), JUDGE: ("ok", "Fine. Rating: [[4]]")}
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.calls.append(body)
                    queue = fake.script[body["model"]]
                    action = queue.pop(0) if queue else fake.default[body["model"]]
                if action[0] == "status":
                    self._send(action[1], {"error": {"message": f"scripted {action[1]}", "type": "test", "code": None}})
                    return
                if action[0] == "sleep":
                    time.sleep(action[1])
                content = action[-1]
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def count(self, model: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.calls if model is None or c["model"] == model)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def make_client(server: FakeOpenAI, tmp_path, **overrides) -> JudgeClient:
    assert server.base_url.startswith("http://127.0.0.1:")
    params = {
        "base_url": server.base_url,
        "api_key_env": "RAGROUTER_TEST_KEY_UNSET",
        "strong_model": STRONG,
        "weak_model": WEAK,
        "judge_model": JUDGE,
        "cache_dir": str(tmp_path / "cache"),
        "timeout_s": 5.0,  # generous: only test_timeout_is_retried wants a timeout
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "score_attempts": 3,
        "workers": 2,
        **overrides,
    }
    return JudgeClient(params)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Good answer. Rating: [[4]]", 4),
        ("[[ 1 ]]", 1),
        ("Rating: [[5]].", 5),
        ("Rating: 4", None),
        ("[[6]]", None),
        ("[[0]]", None),
        ("[[4.5]]", None),
        ("[[4/5]]", None),
        ("[[four]]", None),
        ("[[3]] or maybe [[4]]", None),
        ("[[4]] ... [[4]]", None),
        ("", None),
    ],
)
def test_parse_score_is_strict(text, score):
    assert parse_score(text) == score


def test_label_asks_three_models_and_maps_the_score(server, tmp_path):
    client = make_client(server, tmp_path)
    res = client.label("What is 2 + 2?")
    assert res is not None and res.weak_score == 4 and res.label == 0
    assert (res.strong_answer, res.weak_answer) == ("Strong answer.", "Weak answer.")
    assert [server.count(m) for m in (STRONG, WEAK, JUDGE)] == [1, 1, 1]
    judge_call = next(c for c in server.calls if c["model"] == JUDGE)
    assert "Strong answer." in judge_call["messages"][1]["content"] and "[[k]]" in judge_call["messages"][0]["content"]
    server.default[JUDGE] = ("ok", "Poor. [[2]]")
    low = client.label("Prove Fermat's last theorem.")
    assert low is not None and low.weak_score == 2 and low.label == 1


def test_timeout_is_retried(server, tmp_path):
    # 1.5 s leaves a loaded CI worker's ordinary loopback requests far inside the timeout
    client = make_client(server, tmp_path, timeout_s=1.5)
    server.script[STRONG] = [("sleep", 4.0, "late answer")]
    res = client.label("Name a prime number.")
    assert res is not None and res.strong_answer == "Strong answer."
    assert server.count(STRONG) == 2 and client.stats["retries"] == 1


def test_rate_limit_then_success(server, tmp_path):
    client = make_client(server, tmp_path)
    server.script[WEAK] = [("status", 429), ("status", 503)]
    res = client.label("Name a colour.")
    assert res is not None and res.weak_answer == "Weak answer."
    assert server.count(WEAK) == 3 and client.stats["retries"] == 2


def test_retries_are_bounded_and_client_errors_are_not_retried(server, tmp_path):
    client = make_client(server, tmp_path, max_retries=2)
    server.script[STRONG] = [("status", 500)] * 5
    with pytest.raises(JudgeError, match="gave up after 3 attempts"):
        client.label("Anything.")
    assert server.count(STRONG) == 3
    server.script[STRONG] = [("status", 400)]
    with pytest.raises(JudgeError, match="HTTP 400"):
        client.label("Something else.")
    assert server.count(STRONG) == 4


def test_malformed_score_is_rejected_and_asked_again(server, tmp_path):
    client = make_client(server, tmp_path)
    server.script[JUDGE] = [("ok", "I would say 4 out of 5."), ("ok", "Rating: [[3]]")]
    res = client.label("Explain gravity.")
    assert res is not None and res.weak_score == 3 and res.label == 1
    assert server.count(JUDGE) == 2 and client.stats["malformed"] == 1
    temps = [c["temperature"] for c in server.calls if c["model"] == JUDGE]
    assert temps == [0.0, 0.7]  # the repeat is a new sample, not the same request again


def test_always_malformed_score_drops_the_query(server, tmp_path):
    client = make_client(server, tmp_path, score_attempts=2)
    server.script[JUDGE] = [("ok", "[[9]]"), ("ok", "no verdict")]
    assert client.label("Explain magnetism.") is None
    assert server.count(JUDGE) == 2 and client.stats["dropped"] == 1


def test_rerun_hits_the_cache(server, tmp_path):
    prompts = ["What is the capital of France?", "Write a haiku about rain.", "Explain gravity."]
    server.script[JUDGE] = [("ok", "malformed"), ("ok", "[[5]]")]  # first query needs a second verdict
    first = make_client(server, tmp_path).label_many(prompts)
    calls = server.count()
    assert calls == 3 * 3 + 1 and all(r is not None for r in first)
    again = make_client(server, tmp_path)
    second = again.label_many(prompts)
    assert server.count() == calls  # nothing sent
    assert [r.weak_score for r in second] == [r.weak_score for r in first]
    assert again.stats["requests"] == 0 and again.stats["cache_hits"] == 10
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 10 and not list((tmp_path / "cache").rglob("*.tmp"))
    entry = json.loads(files[0].read_text())
    assert request_key(entry["model"], entry["messages"], entry["settings"]) == files[0].stem


def test_corrupt_cache_entry_is_refetched(server, tmp_path):
    client = make_client(server, tmp_path)
    client.answer(STRONG, "Hello?")
    (entry,) = list((tmp_path / "cache").rglob("*.json"))
    entry.write_text("{not json")
    assert make_client(server, tmp_path).answer(STRONG, "Hello?") == "Strong answer."
    assert server.count(STRONG) == 2 and json.loads(entry.read_text())["content"] == "Strong answer."
