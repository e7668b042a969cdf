"""The ONNX Runtime fast path of the fine-tuned classifiers: float32 ONNX gives the torch scores,
int8 stays close, and the agreement numbers are RouteLLM's APGR of both score sets."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_distributed import _tiny_bert
from test_router_bert_classifier import PROBE_EASY, PROBE_HARD, TEST_PARAMS, planted_corpus

from ragrouter.evaluation.metrics import agreement
from ragrouter.routers import bert_classifier as bc

pytestmark = pytest.mark.slow
PROBES = [PROBE_HARD, PROBE_EASY, "what is 2 + 2", "Prove that x^2 sin(x) diverges", "tell me a joke"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny BERT fine-tuned with a feature head (RAGRouter's classifier) and one without."""
    folder = tmp_path_factory.mktemp("onnx")
    _tiny_bert(folder / "backbone")
    corpus = planted_corpus()
    vectors = np.random.default_rng(0).normal(size=(corpus.height, 6)).astype(np.float32)
    params = {**TEST_PARAMS, "epochs": 3, "learning_rate": 1e-3, "train_dtype": "float32", "inference_dtype": "float32"}
    plain = bc.train(corpus, params, 0, str(folder / "backbone"))
    with_head = bc.train(corpus.with_columns(pl.Series("features", vectors.tolist())), params, 0, str(folder / "backbone"))
    return plain, with_head


@pytest.mark.parametrize("head", [False, True], ids=["plain", "feature_head"])
def test_onnx_float32_scores_equal_torch_and_int8_stays_close(trained, head):
    router = trained[head]
    features = np.random.default_rng(1).normal(size=(len(PROBES), 6)).astype(np.float32) if head else None
    reference = router.strong_win_rates(PROBES, features)
    router.use_backend("onnx", threads=1)
    onnx = router.strong_win_rates(PROBES, features)
    router.use_backend("onnx_int8", threads=1)
    int8 = router.strong_win_rates(PROBES, features)
    router.use_backend("torch")
    assert np.allclose(router.strong_win_rates(PROBES, features), reference, atol=0)  # back on the reference path
    assert np.allclose(onnx, reference, atol=1e-5)
    assert not np.array_equal(int8, reference) and np.allclose(int8, reference, atol=0.05)  # quantised, and close


def test_int8_score_of_a_prompt_does_not_depend_on_its_batch(trained):
    """Dynamic quantisation scales activations per call: int8 scores prompts one at a time, so the
    workflow's batched score file and a prompt served alone get the same number."""
    router = trained[True]
    features = np.random.default_rng(2).normal(size=(len(PROBES), 6)).astype(np.float32)
    router.use_backend("onnx_int8", threads=1)
    try:
        together = router.strong_win_rates(PROBES, features)
        alone = np.concatenate([router.strong_win_rates([p], features[i : i + 1]) for i, p in enumerate(PROBES)])
        router.fast.per_prompt = False  # padded batches, as before: the batch moves the scores
        batched = router.strong_win_rates(PROBES, features)
    finally:
        router.use_backend("torch")
    assert np.array_equal(together, alone)
    assert not np.array_equal(batched, alone)


def test_fast_path_refuses_what_it_cannot_run(trained):
    router = trained[False]
    with pytest.raises(ValueError, match="inference_backend must be one of"):
        router.use_backend("tensorrt")
    router.dtype = "bfloat16"
    try:
        with pytest.raises(ValueError, match="runs float32 classifiers on the CPU"):
            router.use_backend("onnx_int8")
    finally:
        router.dtype = "float32"


def test_agreement_reports_spearman_and_apgr_of_both_score_sets():
    benchmark = pl.DataFrame({"strong": [1.0, 1.0, 0.0, 1.0, 0.0, 1.0], "weak": [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]})
    reference = np.array([0.9, 0.2, 0.1, 0.8, 0.3, 0.4])
    same = agreement(reference, reference + 0.01, benchmark, "mmlu")
    assert same["spearman"] == pytest.approx(1.0) and same["apgr_diff"] == pytest.approx(0.0) and same["max_abs_diff"] == pytest.approx(0.01)
    flipped = agreement(reference, 1 - reference, benchmark, "mmlu")
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["apgr_fast"] < flipped["apgr_reference"]


def test_checked_int8_scores_a_checkpoint_in_int8_only_where_validation_agrees(tmp_path):
    from ragrouter.common.onnx_inference import INT8_COLUMN, configured_backend

    rng = np.random.default_rng(0)
    sources = ["a"] * 100 + ["b"] * 100
    labels = rng.integers(0, 2, size=200)
    score = labels * 0.3 + rng.random(200)
    rows = pl.DataFrame({"id": [f"{s}:{i}" for i, s in enumerate(sources)], "source": sources, "label": labels, "score": score})
    close = rows.with_columns(pl.Series(INT8_COLUMN, score + rng.normal(scale=1e-4, size=200)))
    # one in ten rows' int8 score moved: rank agreement ~0.99, under the 0.999 bar
    moved = rows.with_columns(pl.Series(INT8_COLUMN, np.where(np.arange(200) % 10 == 0, rng.random(200), score)))
    for name, frame in (("close", close), ("moved", moved), ("none", rows)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    assert configured_backend("onnx_int8_checked", tmp_path / "close.parquet") == "onnx_int8"
    assert configured_backend("onnx_int8_checked", tmp_path / "moved.parquet") == "onnx"
    assert configured_backend("onnx", None) == "onnx"
    with pytest.raises(ValueError, match="none.parquet: no score_onnx_int8 column"):
        configured_backend("onnx_int8_checked", tmp_path / "none.parquet")
