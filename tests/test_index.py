"""FAISS knowledge base: planted neighbours, self-exclusion, persistence, RAG prompt, stratified split."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ragrouter.method.knowledge_base import (
    KnowledgeBase,
    auto_nlist,
    rag_prompt,
    split_kb,
)

N, DIM = 2000, 32


@pytest.fixture(scope="module")
def data() -> dict:
    """Twin pairs: row 2i+1 is row 2i plus tiny noise, so each row's nearest other row is its twin."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(N // 2, DIM)).astype(np.float32)
    vectors = np.empty((N, DIM), dtype=np.float32)
    vectors[0::2] = base
    vectors[1::2] = base + rng.normal(scale=1e-3, size=base.shape).astype(np.float32)
    labels = rng.integers(0, 2, N)
    scores = np.where(labels == 1, 2, 5)
    return {"vectors": vectors, "texts": [f"query {i}" for i in range(N)], "labels": labels, "scores": scores}


@pytest.fixture(scope="module")
def kb(data) -> KnowledgeBase:
    return KnowledgeBase.build(data["vectors"], data["texts"], data["labels"], data["scores"], {"nprobe": 8})


def twin(i: np.ndarray) -> np.ndarray:
    return i ^ 1


def test_ivf_index_with_capped_nlist(kb):
    assert kb.kind == "ivf" and kb.params["nlist"] == auto_nlist(N) == min(round(4 * N**0.5), N // 39)


def test_returns_planted_nearest_neighbour(kb, data):
    rng = np.random.default_rng(1)
    rows = rng.choice(N, 50, replace=False)
    queries = data["vectors"][rows] + rng.normal(scale=1e-4, size=(50, DIM)).astype(np.float32)
    ids, dist = kb.search(queries, k=2)
    assert set(map(tuple, np.sort(ids, axis=1))) == set(map(tuple, np.sort(np.stack([rows, twin(rows)], 1), axis=1)))
    assert (np.diff(dist, axis=1) >= 0).all()


def test_query_in_kb_never_returns_itself(kb, data):
    rows = np.arange(0, N, 37)
    ids, _ = kb.search(data["vectors"][rows], k=5, exclude_ids=rows)
    assert not (ids == rows[:, None]).any()
    np.testing.assert_array_equal(ids[:, 0], twin(rows))  # the planted neighbour comes first instead
    ids, _ = kb.search(data["vectors"][rows], k=5, exclude_ids=[[r, r ^ 1] for r in rows])
    assert not (ids == rows[:, None]).any() and not (ids == twin(rows)[:, None]).any()


def test_exclusion_by_duplicate_text():
    vectors = np.eye(4, dtype=np.float32)
    kb = KnowledgeBase.build(vectors, ["a", "b", "a", "c"], [1, 0, 1, 0], [1, 5, 1, 5])
    assert kb.kind == "flat"  # tiny KB: exact search
    ids, _ = kb.search(vectors[:1], k=3, exclude_ids=kb.ids_with_text(["a"]))
    assert set(ids[0]) == {1, 3, -1}


def test_unfillable_slots_are_padded():
    kb = KnowledgeBase.build(np.eye(3, dtype=np.float32), ["a", "b", "c"], [0, 1, 0], [4, 2, 5])
    ids, dist = kb.search(np.eye(3, dtype=np.float32)[:1], k=5, exclude_ids=[0])
    assert ids[0].tolist()[2:] == [-1, -1, -1] and np.isinf(dist[0, 2:]).all()
    assert len(kb.neighbours(ids)[0]) == 2


def test_save_load_round_trip(kb, data, tmp_path):
    kb.save(tmp_path)
    again = KnowledgeBase.load(tmp_path)
    q = data["vectors"][:20]
    for a, b in zip(kb.search(q, 4, exclude_ids=np.arange(20)), again.search(q, 4, exclude_ids=np.arange(20)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.texts == kb.texts and again.kind == "ivf" and (again.labels == kb.labels).all()


def test_rag_prompt_lists_k_neighbours_with_labels(kb, data):
    k = 3
    ids, dist = kb.search(data["vectors"][:1], k=k, exclude_ids=[0])
    neighbours = kb.neighbours(ids, dist)[0]
    text = rag_prompt("What is 2 + 2?\nExplain.", neighbours)
    lines = text.splitlines()
    assert lines[0] == "Query: What is 2 + 2?" and lines[1] == "Explain."
    rows = [line for line in lines if line.startswith("[")]
    assert [r.split("]")[0] for r in rows] == ["[1", "[2", "[3"]
    for row, nb in zip(rows, neighbours, strict=True):
        suited = "strong" if nb["label"] == 1 else "weak"
        assert f"suited model: {suited}" in row and f"score: {nb['weak_score']}/5" in row and row.endswith(nb["text"])


def test_rag_prompt_is_fixed_and_truncates():
    nb = [{"text": "x " * 500, "label": 1, "weak_score": 2}, {"text": "short\nneighbour", "label": 0, "weak_score": 5}]
    text = rag_prompt("q", nb, max_chars=50)
    assert text.splitlines()[1] == "Similar queries (2):"
    assert text.splitlines()[2].endswith("…") and len(text.splitlines()[2]) < 120
    assert text.splitlines()[3] == "[2] suited model: weak | weak-model score: 5/5 | short neighbour"


def _corpus(n_train: int = 1000, n_val: int = 100) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n = n_train + n_val
    label = (rng.random(n) < 0.3).astype(np.int64)
    return pl.DataFrame(
        {
            "id": [f"s:{i}" for i in range(n)],
            "prompt": [f"p{i}" for i in range(n)],
            "label": label,
            "weak_score": np.where(label == 1, 2, 5),
            "split": ["train"] * n_train + ["validation"] * n_val,
        }
    )


def test_split_kb_is_stratified_7_3():
    corpus = _corpus()
    kb, queries = split_kb(corpus, 0.7, seed=0)
    train = corpus.filter(pl.col("split") == "train")
    assert kb.height + queries.height == train.height and not set(kb["id"]) & set(queries["id"])
    assert (kb["split"] == "train").all() and (queries["split"] == "train").all()
    for label in (0, 1):
        n = int((train["label"] == label).sum())
        assert int((kb["label"] == label).sum()) == round(0.7 * n)
    again, _ = split_kb(corpus, 0.7, seed=0)
    assert again.equals(kb) and not split_kb(corpus, 0.7, seed=1)[0].equals(kb)


def test_split_kb_keeps_duplicates_together():
    corpus = _corpus(200, 0).with_columns(pl.col("prompt").str.replace(r"\d$", ""))  # groups of up to 10 copies
    kb, queries = split_kb(corpus, 0.7, seed=0)
    assert not set(kb["prompt"]) & set(queries["prompt"])
