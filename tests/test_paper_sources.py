"""The paper's training sets as corpus sources: an Arena-55k fixture through the thesis' label
alignment (a judge on a loopback OpenAI-compatible server grades model_b's answer), cached so a
rerun asks nothing; without a judge the human vote decides; gpt4_dataset by path."""

from __future__ import annotations

import json
import threading

import pytest
from _standins import StandIn, chat_completion, start

from ragrouter.data.corpus import ARENA_VOTE_SCORE, build_corpus
from ragrouter.method.augment.judge import JudgeClient

ARENA = [
    {"id": 11, "model_a": "gpt-4-0613", "model_b": "mixtral-8x7b", "prompt": json.dumps(["Prove the hard theorem."]), "response_a": json.dumps(["A proof."]), "response_b": json.dumps(["No idea."]), "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
    {"id": 12, "model_a": "claude-2", "model_b": "llama-2-13b", "prompt": json.dumps(["Say hello."]), "response_a": json.dumps(["Hello!"]), "response_b": json.dumps(["Hi!"]), "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},
    {"id": 13, "model_a": "gpt-3.5-turbo", "model_b": "vicuna-13b", "prompt": json.dumps(["Name a colour."]), "response_a": json.dumps(["Red."]), "response_b": json.dumps(["Blue."]), "winner_model_a": 0, "winner_model_b": 1, "winner_tie": 0},
]


class Judge(StandIn):
    """Grades 2 when the question is hard, else 5."""

    def reply(self, body: dict) -> dict:
        with self.server.lock:  # the judge asks `workers` at a time
            self.server.calls += 1
        verdict = "[[2]]" if "hard" in body["messages"][-1]["content"] else "[[5]]"
        return chat_completion(body["model"], f"The answer is judged. Rating: {verdict}")


@pytest.fixture
def judge_server():
    server = start(Judge, calls=0, lock=threading.Lock())
    yield server
    server.shutdown()


def test_arena_55k_labels_are_aligned_by_the_judge_and_a_rerun_hits_the_cache(tmp_path, judge_server):
    arena = tmp_path / "arena.jsonl"
    arena.write_text("\n".join(json.dumps(r) for r in ARENA))
    params = {"base_url": f"http://127.0.0.1:{judge_server.server_port}/v1", "cache_dir": str(tmp_path / "cache"), "max_retries": 0}
    sources = [{"name": "arena_55k", "path": str(arena)}]
    corpus, battles = build_corpus(tmp_path, sources, judge=JudgeClient(params))
    by_id = {r["id"]: r for r in corpus.iter_rows(named=True)}
    assert by_id["arena_55k:11"]["weak_score"] == 2 and by_id["arena_55k:11"]["label"] == 1  # graded by the judge, not the vote
    assert by_id["arena_55k:13"]["weak_score"] == 5 and by_id["arena_55k:13"]["weak_model"] == "vicuna-13b"
    assert battles.height == 3 and set(battles["source"]) == {"arena_55k"}
    assert judge_server.calls == 3
    again = JudgeClient(params)
    rerun, _ = build_corpus(tmp_path, sources, judge=again)
    assert judge_server.calls == 3 and again.stats["cache_hits"] == 3 and rerun.equals(corpus)


def test_without_a_judge_the_human_vote_decides_and_gpt4_dataset_loads_by_path(tmp_path, data_dir):
    arena = tmp_path / "arena.jsonl"
    arena.write_text("\n".join(json.dumps(r) for r in ARENA))
    sample = data_dir / "gpt4-dataset-sample/labeled_test_dataset.json"
    corpus, _ = build_corpus(tmp_path, [{"name": "arena_55k", "path": str(arena)}, {"name": "gpt4_dataset", "path": str(sample)}])
    arena_rows = corpus.filter(corpus["source"] == "arena_55k").sort("id")
    assert arena_rows["weak_score"].to_list() == [ARENA_VOTE_SCORE["model_a"], ARENA_VOTE_SCORE["tie"], ARENA_VOTE_SCORE["model_b"]]
    assert (corpus["source"] == "gpt4_dataset").sum() == 10
