"""RAGRouter: variant names, feature lookup, RAG prompts against a planted knowledge base, 5-class scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from ragrouter.index import KnowledgeBase
from ragrouter.io import sha1_text
from ragrouter.routers import bert_classifier as bc
from ragrouter.routers.ragrouter import (
    DEFAULT_RAG_PARAMS,
    FeatureTable,
    parse_variant,
    rag_texts,
    variant_name,
)


def test_parse_variant_and_names():
    assert parse_variant("ragrouter_aug-on_sample-off_feat-on_rag-on") == {"aug": "on", "sample": "off", "feat": "on", "rag": "on"}
    assert variant_name("ragrouter_aug-on_sample-on_feat-on_rag-on") == "RAGRouter"
    assert variant_name("ragrouter_aug-on_sample-on_feat-off_rag-on") == "RAGRouter w/o semantic-syntactic features"
    with pytest.raises(ValueError, match="not a RAGRouter variant"):
        parse_variant("ragrouter_aug-yes_sample-on_feat-on_rag-on")


def test_feature_table_looks_up_by_hash_and_names_missing_prompts(tmp_path):
    path = tmp_path / "features.parquet"
    pl.DataFrame({"prompt_sha1": [sha1_text("a"), sha1_text("b")], "vector": [[1.0, 0.0], [0.0, 1.0]]}).write_parquet(path)
    table = FeatureTable([path])
    assert table(["b", "a"]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(KeyError, match=r"row 1.*'zzz'"):
        table(["a", "zzz"])


def test_rag_texts_retrieve_neighbours_and_never_the_query_itself():
    vectors = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]], dtype=np.float32)
    texts = ["easy one", "easy two", "hard one", "hard two"]
    kb = KnowledgeBase.build(vectors, texts, [0, 0, 1, 1], [5, 5, 1, 2], {"index": "flat", "use_gpu": False})
    params = {**DEFAULT_RAG_PARAMS, "neighbours": 1}
    out = rag_texts(kb, ["hard one", "new easy"], np.array([[5.0, 5.0], [0.05, 0.0]], dtype=np.float32), params, exclude_own_text=True)
    assert out[0].startswith("Query: hard one") and "suited model: strong | weak-model score: 2/5 | hard two" in out[0]
    assert "suited model: weak" in out[1]
    assert rag_texts(None, ["q"], None, params) == ["q"]


def test_weak_score_scheme_scores_probability_of_scores_1_to_3():
    assert [bc.class_of(s, "weak_score") for s in range(1, 6)] == [0, 1, 2, 3, 4]
    assert [bc.class_of(s) for s in range(1, 6)] == [0, 0, 0, 1, 2]
    probs = torch.tensor([[0.1, 0.1, 0.2, 0.3, 0.3], [0.0, 0.0, 0.0, 0.5, 0.5]])
    assert np.allclose(bc.strong_win_rate_from_logits(torch.log(probs + 1e-12), "weak_score"), [0.4, 0.0], atol=1e-6)
