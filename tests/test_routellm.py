"""RouteLLM's ecosystem: RAGRouter behind RouteLLM's OpenAI-compatible server (real HTTP on
loopback, stand-in models), a bounded load test with malformed requests mixed in, and RouteLLM's
released routers scored offline from checkpoints saved in RouteLLM's formats."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import polars as pl
import pytest

from _standins import StandIn, chat_completion, start
from ragrouter.common.io import sha1_text
from ragrouter.routers.base import check_score_file, write_scores

pytestmark = pytest.mark.slow
# LiteLLM names: each provider prefix takes its own base URL, so the two stand-ins are two servers
STRONG, WEAK = "openai/strong-standin", "hosted_vllm/weak-standin"


class StandInModels(StandIn):
    """An OpenAI-compatible stand-in model: chat completions answer with the server's name;
    embeddings are a fixed function of the text (for RouteLLM's MF router)."""

    def reply(self, body: dict) -> dict:
        if self.path.endswith("/embeddings"):
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": i, "embedding": np.random.default_rng(sum(map(ord, t))).normal(size=self.server.dim).tolist()} for i, t in enumerate(texts)]
            return {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        with self.server.lock:
            self.server.calls.append(body["model"])
        return chat_completion(body["model"], f"answered by {self.server.name}")


@pytest.fixture(scope="module")
def stand_in():
    """The strong and the weak stand-in model servers."""
    servers = {name: start(StandInModels, name=name, calls=[], lock=threading.Lock(), dim=1536) for name in ("strong", "weak")}
    yield servers
    for server in servers.values():
        server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def routellm_server(tiny_ragrouter, minilm_dir, stand_in, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    cmd = [sys.executable, "-m", "ragrouter.serving.cli", "serve", "--router", str(tiny_ragrouter), "--encoder", minilm_dir, "--max-length", "32"]
    cmd += ["--strong-model", STRONG, "--weak-model", WEAK, "--api-key", "loopback", "--port", str(port), "--threads", "1"]
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{stand_in['strong'].server_port}/v1",
        "HOSTED_VLLM_API_BASE": f"http://127.0.0.1:{stand_in['weak'].server_port}/v1",
    }
    env.pop("OPENAI_API_KEY", None)  # our router needs none
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ragrouter serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail(f"ragrouter serve did not come up: {log.read_text()[-3000:]}")
    yield base, proc
    proc.terminate()
    proc.wait(30)


def _our_scores(tiny_ragrouter, minilm_dir, prompts):
    from ragrouter.serving.routellm_server import register

    return [register()(str(tiny_ragrouter), minilm_dir, max_length=32).calculate_strong_win_rate(p) for p in prompts]


def test_openai_client_requests_reach_the_model_the_threshold_picks(routellm_server, stand_in, tiny_ragrouter, minilm_dir, tmp_path):
    from openai import OpenAI
    from test_router_bert_classifier import PROBE_EASY, PROBE_HARD

    from ragrouter.serving.cli import main

    base, _ = routellm_server
    hard, easy = _our_scores(tiny_ragrouter, minilm_dir, [PROBE_HARD, PROBE_EASY])
    assert hard > easy
    # the adapter's scores are `ragrouter route`'s
    prompts = tmp_path / "p.txt"
    prompts.write_text(f"{PROBE_HARD}\n{PROBE_EASY}\n")
    main(["route", "--router", str(tiny_ragrouter), "--encoder", minilm_dir, "--max-length", "32", "--threshold", "0.5", "--input", str(prompts), "--output", str(tmp_path / "r.jsonl"), "--threads", "1"])
    routed = [json.loads(line)["strong_win_rate"] for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    # the tiny router infers in bfloat16: `route` scores both prompts in one padded batch, the adapter
    # one at a time, and on a CPU with AMX-BF16 kernels (an Intel Xeon here) the two differ by ~5e-5
    np.testing.assert_allclose(routed, [hard, easy], atol=1e-3)

    client = OpenAI(base_url=f"{base}/v1", api_key="unused")
    threshold = (hard + easy) / 2
    answers = {}
    for prompt in (PROBE_HARD, PROBE_EASY):
        reply = client.chat.completions.create(model=f"router-ragrouter-{threshold:.6f}", messages=[{"role": "user", "content": prompt}])
        answers[prompt] = reply.choices[0].message.content
    assert answers == {PROBE_HARD: "answered by strong", PROBE_EASY: "answered by weak"}
    assert stand_in["strong"].calls == ["strong-standin"] and stand_in["weak"].calls == ["weak-standin"]
    reply = client.chat.completions.create(model="router-ragrouter-1", messages=[{"role": "user", "content": PROBE_HARD}])
    assert reply.choices[0].message.content == "answered by weak"  # no score reaches 1


def test_bounded_load_with_malformed_requests_never_crashes_the_server(routellm_server):
    """600 requests from 8 threads, a quarter of them malformed: every good one is answered, every
    bad one gets a 4xx with a message, and the server is still up afterwards."""
    base, proc = routellm_server
    ok = {"model": "router-ragrouter-0.5", "messages": [{"role": "user", "content": "hello"}]}
    bad = [
        b"{not json",
        {"messages": ok["messages"]},  # no model
        {**ok, "model": "gpt-4"},  # not router-<name>-<threshold>
        {**ok, "model": "router-ragrouter-high"},
        {**ok, "model": "router-nosuch-0.5"},
        {**ok, "model": "router-ragrouter-1.5"},
        {**ok, "messages": []},
        {**ok, "messages": [{"role": "user"}]},
        {**ok, "messages": "just a string"},
    ]
    rng = random.Random(0)
    plan = [(None, {**ok, "messages": [{"role": "user", "content": f"question {i % 20}"}]}) if rng.random() < 0.75 else ("bad", rng.choice(bad)) for i in range(600)]

    def send(item):
        kind, body = item
        with httpx.Client(base_url=base, timeout=60) as http:
            if isinstance(body, bytes):
                r = http.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
            else:
                r = http.post("/v1/chat/completions", json=body)
        return kind, r.status_code, r.text

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, plan))
    good = [r for r in results if r[0] is None]
    malformed = [r for r in results if r[0] == "bad"]
    assert all(code == 200 and "answered by" in text for _, code, text in good), [r for r in good if r[1] != 200][:3]
    assert all(400 <= code < 500 and text for _, code, text in malformed), [r for r in malformed if not 400 <= r[1] < 500][:3]
    assert len(good) > 400 and len(malformed) > 100 and {str(body) for kind, body in plan if kind} == {str(body) for body in bad}  # every kind of bad request
    assert proc.poll() is None


def test_released_routers_score_from_checkpoints_in_routellm_formats(stand_in, minilm_dir, tmp_path):
    """RouteLLM's own MF class on a randomly initialised MFModel saved with its hub mixin (prompt
    embeddings from the loopback stand-in), and its BERT class on a tiny sequence classifier."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ragrouter.serving.routellm_bridge import released_router_scores, routellm_routers

    routellm_routers()  # imports routellm without a key; its MF model class is then importable
    from routellm.routers.matrix_factorization.model import MFModel
    torch.manual_seed(0)
    MFModel(dim=16, num_models=64, text_dim=1536, num_classes=1, use_proj=True).save_pretrained(tmp_path / "mf")
    prompts = ["What is 2 + 2?", "Prove Fermat's last theorem.", "hello"]
    mf = released_router_scores("mf", {"checkpoint_path": str(tmp_path / "mf"), "hidden_size": 16}, prompts, f"http://127.0.0.1:{stand_in['strong'].server_port}/v1")
    assert mf.shape == (3,) and np.all((mf > 0) & (mf < 1)) and len(set(mf.round(9))) == 3

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=3)
    BertForSequenceClassification(config).save_pretrained(tmp_path / "bert")
    AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path / "bert")
    bert = released_router_scores("bert", {"checkpoint_path": str(tmp_path / "bert")}, prompts)
    assert bert.shape == (3,) and np.all((bert >= 0) & (bert <= 1))
    # ordinary score files, as rule score_released_router writes them, pass the metrics' checks
    benchmark = pl.DataFrame({"row": [0, 1, 2], "prompt": prompts}).with_columns(pl.col("prompt").map_elements(sha1_text, return_dtype=pl.String).alias("prompt_sha1"))
    for name, scores in (("mf", mf), ("bert", bert)):
        write_scores(benchmark, scores, tmp_path / f"{name}.parquet")
        np.testing.assert_allclose(check_score_file(pl.read_parquet(tmp_path / f"{name}.parquet"), benchmark, name), scores)
