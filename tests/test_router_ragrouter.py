"""RAGRouter: variant names, feature lookup, RAG prompts against a planted knowledge base, 5-class scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from ragrouter.common.io import sha1_text
from ragrouter.evaluation.validation import ValidationSet, roc_auc
from ragrouter.method.classifier import (
    DEFAULT_RAG_PARAMS,
    NEIGHBOUR_NUMBERS,
    FeatureTable,
    blend_prior,
    blend_vote,
    choose_prior,
    choose_vote_weight,
    family_exclusions,
    fit_structure_prior,
    HELD_OUT,
    held_out_training_exclusions,
    TRAINING,
    joined_features,
    neighbour_numbers,
    numeric_scaling,
    query_inputs,
    structure_prior,
    task_balanced_weights,
    task_exclusions,
    validation_rows,
    with_unused_training_queries,
)
from ragrouter.method.fusion import STRUCTURE_STATISTICS
from ragrouter.method.knowledge_base import KnowledgeBase
from ragrouter.method.variants import parse_variant, variant_name
from ragrouter.routers import bert_classifier as bc


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
    assert table.vectors_and_statistics(["a"])[1] is None  # feat=off files carry no statistics
    with pytest.raises(KeyError, match=r"row 1.*'zzz'"):
        table(["a", "zzz"])
    pl.DataFrame({"prompt_sha1": [sha1_text("a")], "statistics": [[2.0, 3.0]], "vector": [[1.0, 0.0]]}).write_parquet(path)
    assert FeatureTable([path]).vectors_and_statistics(["a"])[1].tolist() == [[2.0, 3.0]]


class Vectors:
    """A feature provider over fixed vectors (and optional structure statistics) by prompt."""

    def __init__(self, vectors: dict[str, list[float]], statistics: dict[str, list[float]] | None = None) -> None:
        self.vectors, self.statistics = vectors, statistics

    def vectors_and_statistics(self, prompts):
        stats = np.array([self.statistics[p] for p in prompts], dtype=np.float32) if self.statistics else None
        return np.array([self.vectors[p] for p in prompts], dtype=np.float32), stats


def test_query_inputs_retrieve_neighbours_never_the_query_itself_and_give_their_numbers():
    vectors = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]], dtype=np.float32)
    texts = ["easy one", "easy two", "hard one", "hard two"]
    kb = KnowledgeBase.build(vectors, texts, [0, 0, 1, 1], [5, 5, 1, 2], {"index": "flat", "use_gpu": False})
    params = {**DEFAULT_RAG_PARAMS, "neighbours": 1, "budget": "chars", "numeric_features": ["structure", "neighbours"]}
    queries = Vectors({"hard one": [5.0, 5.0], "new easy": [0.05, 0.0]}, {"hard one": [3.0, 1.0], "new easy": [1.0, 0.0]})
    got = query_inputs(kb, ["hard one", "new easy"], queries, params, kb.ids_with_text(["hard one", "new easy"]))
    out = got.texts
    assert out[0].startswith("Query: hard one") and "suited model: strong | weak-model score: 2/5 | hard two" in out[0]
    assert "suited model: weak" in out[1] and np.allclose(got.vectors, [[5.0, 5.0], [0.05, 0.0]])
    # structure statistics, then (mean label, mean weak score as 0-1, nearest label, mean distance)
    assert np.allclose(got.numbers, [[3.0, 1.0, 1.0, 0.25, 1.0, 0.01], [1.0, 0.0, 0.0, 1.0, 0.0, 0.0025]], atol=1e-6)
    assert got.names == [*STRUCTURE_STATISTICS, *NEIGHBOUR_NUMBERS]
    assert got.vote.tolist() == [1.0, 0.0]  # the neighbours' mean strong label, with or without numeric_features
    bare = query_inputs(None, ["q"], Vectors({"q": [1.0]}), params)
    assert bare.texts == ["q"] and bare.numbers.shape == (1, 0) and bare.vote is None
    got = query_inputs(kb, ["new easy"], queries, {**params, "numeric_features": []})
    assert got.numbers.shape == (1, 0) and got.names == [] and got.vote.tolist() == [0.0]


def test_vote_weight_is_chosen_on_validation_and_blends_the_neighbours_vote_into_the_score():
    # within each source (5 rows of each label) the vote ranks the labels perfectly, the classifier inversely
    five = lambda values: np.repeat(values, 5)  # noqa: E731
    val = ValidationSet.of(pl.DataFrame({"prompt": [f"q{i}" for i in range(20)], "label": five([1, 0, 1, 0]), "source": five(["a", "a", "b", "b"])}))
    classifier_scores, vote = five([0.2, 0.8, 0.4, 0.6]), five([1.0, 0.0, 1.0, 0.0])
    assert choose_vote_weight(classifier_scores, vote, val, [0.0, 0.5, 1.0], "per_source") == 0.5  # 0.5 already ranks both pairs right
    assert choose_vote_weight(classifier_scores, 1 - vote, val, [0.0, 0.5, 1.0], "per_source") == 0.0
    assert np.allclose(blend_vote(classifier_scores, vote, 0.25), five([0.4, 0.6, 0.55, 0.45]))
    assert blend_vote(classifier_scores, None, 0.5) is classifier_scores  # rag=off: no neighbours, the classifier alone


def planted_task_confound(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two tasks with strong-needed base rates 80 % and 20 %; within each, longer prompts (log_words)
    are the harder ones, and `sentences` only tells the tasks apart."""
    rng = np.random.default_rng(seed)
    task = rng.integers(0, 2, n)
    labels = (rng.random(n) < np.where(task == 0, 0.8, 0.2)).astype(np.int64)
    statistics = np.zeros((n, len(STRUCTURE_STATISTICS)))
    statistics[:, 0] = labels + rng.normal(0, 1.0, n)  # log_words: difficulty within the task
    statistics[:, 2] = task + rng.normal(0, 0.05, n)  # sentences: the task
    return statistics, labels, [f"task{t}" for t in task]


def test_task_balanced_prior_learns_difficulty_within_tasks_not_which_task_is_hard():
    statistics, labels, tasks = planted_task_confound()
    weights = task_balanced_weights(labels, tasks)
    for t in ("task0", "task1"):
        rows = np.asarray(tasks) == t
        assert np.isclose(weights[rows & (labels == 1)].sum(), weights[rows & (labels == 0)].sum())
    assert task_balanced_weights(np.array([1, 1, 0]), ["a", "a", "b"]).tolist() == [0.0, 0.0, 0.0]  # one label per task: no weight
    from sklearn.linear_model import LogisticRegression

    pooled = LogisticRegression().fit(statistics[:, [0, 2]], labels).coef_[0]
    assert pooled[1] < -1.0  # pooled labels: "task1 is easy" carries most of the fit
    prior = fit_structure_prior(statistics, labels, tasks, ["log_words", "sentences"])
    assert prior["coef"][0] > 0.5 and abs(prior["coef"][1]) < 0.15
    within = [roc_auc(labels[np.asarray(tasks) == t], structure_prior(prior, statistics)[np.asarray(tasks) == t]) for t in ("task0", "task1")]
    assert min(within) > 0.65


def test_structure_prior_is_chosen_on_validation_and_each_prompt_keeps_its_own_score():
    statistics, labels, tasks = planted_task_confound(seed=1)
    val_stats, val_labels, val_tasks = planted_task_confound(200, seed=2)
    val = ValidationSet(prompts=[], labels=val_labels, sources=["s"] * 200, tasks=val_tasks)
    scores = np.where(np.asarray(val_tasks) == "task0", 0.7, 0.3) + np.random.default_rng(3).normal(0, 0.01, 200)  # knows the task only
    weight, prior = choose_prior(scores, val_stats, statistics, labels, tasks, val, [["sentences"], ["log_words"]], [0.0, 0.5, 1.0], "per_task")
    assert weight > 0 and prior["statistics"] == ["log_words"]
    assert val.auc(blend_prior(scores, structure_prior(prior, val_stats), weight, prior["quantiles"]), "per_task") > val.auc(scores, "per_task") + 0.1
    blended = blend_prior(scores, structure_prior(prior, val_stats), weight, prior["quantiles"])
    assert blended.min() >= 0 and blended.max() <= 1
    one = blend_prior(scores[:1], structure_prior(prior, val_stats[:1]), weight, prior["quantiles"])
    assert one[0] == blended[0]  # percentiles of the validation rows, not of the scored batch
    assert blend_prior(scores, scores, 0.0, prior["quantiles"]) is scores
    assert choose_prior(scores, val_stats, statistics, labels, tasks, val, [["sentences"]], [0.0, 0.5], "per_task") == (0.0, None)


def test_neighbour_numbers_fill_empty_slots_and_numbers_are_standardised_on_training_rows():
    kb = KnowledgeBase.build(np.eye(2, dtype=np.float32), ["a", "b"], [1, 0], [1, 5], {"index": "flat", "use_gpu": False})
    numbers = neighbour_numbers(kb, np.array([[0, 1], [1, -1], [-1, -1]]), np.array([[0.0, 2.0], [1.0, np.inf], [np.inf, np.inf]], dtype=np.float32))
    assert np.allclose(numbers, [[0.5, 0.5, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0], [0.5, 0.5, 0.5, 1.0]])
    train = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    scaling = numeric_scaling(train)
    assert scaling == {"mean": [2.0, 5.0], "std": [1.0, 1.0]}  # a constant column keeps std 1
    joined = joined_features(np.zeros((2, 3), dtype=np.float32), train, scaling)
    assert joined.shape == (2, 5) and joined[:, 3:].tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="retrain"):
        joined_features(np.zeros((2, 3), dtype=np.float32), train, {"mean": [0.0], "std": [1.0]})


@pytest.mark.slow
def test_token_budget_fits_the_classifier_and_shows_every_neighbour(minilm_dir):
    """Cut by characters, a 128-token RAG prompt lost its last neighbours to the classifier's
    truncation; cut by tokens, the query and all K neighbours fit, short texts stay whole."""
    from transformers import AutoTokenizer

    from ragrouter.method.knowledge_base import (
        cut_to_tokens,
        rag_prompt_in_tokens,
        token_budgets,
    )

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    assert token_budgets([5, 100, 100], 60) == [5, 28, 27] and token_budgets([3, 4], 100) == [3, 4] and token_budgets([9], 0) == [0]
    assert cut_to_tokens(tokenizer, "short  text", 10) == "short text" and cut_to_tokens(tokenizer, "one two three four", 3) == "one two…"
    long = " ".join(f"word{i}" for i in range(300))
    neighbours = [{"text": f"neighbour {k} " + long, "label": k % 2, "weak_score": 2 + k} for k in range(3)]
    prompt = rag_prompt_in_tokens(tokenizer, "What is the question? " + long, neighbours, 128)
    n_tokens = len(tokenizer(prompt)["input_ids"])
    assert 120 <= n_tokens <= 128, n_tokens
    assert all(f"[{k}] suited model" in prompt and f"neighbour {k - 1}" in prompt for k in (1, 2, 3)) and prompt.startswith("Query: What is the question?")
    short = rag_prompt_in_tokens(tokenizer, "hi", [{"text": "hello there", "label": 0, "weak_score": 5}], 128)
    assert short.startswith("Query: hi\n") and short.endswith("| hello there")
    with pytest.raises(ValueError, match="needs the classifier's tokenizer"):
        query_inputs(KnowledgeBase.build(np.zeros((2, 2), dtype=np.float32), ["a", "b"], [0, 1], [5, 1], {"index": "flat", "use_gpu": False}), ["q"], Vectors({"q": [0.0, 0.0]}), {**DEFAULT_RAG_PARAMS, "neighbours": 1})


def test_family_exclusions_hide_a_querys_parent_and_augmented_siblings():
    texts = ["parent q", "parent q reworded", "other q"]
    kb = KnowledgeBase.build(np.eye(3, dtype=np.float32), texts, [1, 1, 0], [1, 1, 5], {"index": "flat", "use_gpu": False})
    rows = pl.DataFrame({"id": ["a:1", "a:1#syn1", "b:2"], "prompt": texts})
    queries = pl.DataFrame({"id": ["a:1#sem1", "b:2"], "prompt": ["parent q, in other words", "other q"]})
    assert family_exclusions(kb, queries, rows) == [[0, 1], [2]]
    ids, _ = kb.search(np.array([[1.0, 0.0, 0.0]], dtype=np.float32), 1, family_exclusions(kb, queries[:1], rows))
    assert ids.tolist() == [[2]]  # the nearest entries are its own family: skipped


def test_validation_rows_score_each_row_again_with_its_own_task_held_out_of_retrieval():
    """Two tasks of routerdc-7models in a 64-cell IVF index probing 1 cell: a query of task A near A's
    entries retrieves A's; its held-out copy retrieves only B's, every slot filled (all cells searched)."""
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(0, 0.01, (200, 2)), rng.normal(10, 0.01, (200, 2))]).astype(np.float32)
    family = pl.DataFrame(
        {"id": [f"routerdc-7models:arc_easy:{i}" for i in range(200)] + [f"routerdc-7models:mbpp:{i}#syn1" for i in range(200)],
         "prompt": [f"a{i}" for i in range(200)] + [f"b{i}" for i in range(200)], "source": ["routerdc-7models"] * 400}
    )
    kb = KnowledgeBase.build(vectors, family["prompt"].to_list(), [0] * 200 + [1] * 200, [5] * 200 + [1] * 200, {"index": "ivf", "nlist": 8, "nprobe": 1, "use_gpu": False})
    validation = pl.DataFrame({"id": ["routerdc-7models:arc_easy:900"], "prompt": ["a new"], "source": ["routerdc-7models"], "label": [0]})
    assert [len(e) for e in task_exclusions(kb, validation, family)] == [200]
    rows, exclude = validation_rows(validation, kb, family, "with_and_without_own_task")
    assert rows["task"].to_list() == ["routerdc-7models/arc_easy", "routerdc-7models/arc_easy" + HELD_OUT] and exclude[0] == []
    ids, _ = kb.search(np.zeros((2, 2), dtype=np.float32), 3, exclude)
    assert (ids[0] < 200).all() and (ids[1] >= 200).all()  # own task, then only the other task's entries
    assert validation_rows(validation, kb, family, "with_own_task") == (validation, [[]])
    assert validation_rows(validation, None, family, "with_and_without_own_task") == (validation, None)
    with pytest.raises(ValueError, match="validation_retrieval must be one of"):
        validation_rows(validation, kb, family, "held_out")


def test_unused_training_queries_join_the_choice_rows_as_strata_of_their_own_never_retrieving_their_family():
    """Two training queries of task A (one an augmented variant), one of task B; the classifier's cap left
    out the augmented A query: it joins the validation row as stratum `A (training query)`, twice with
    `with_and_without_own_task`, never retrieving its family (its parent), the second time none of A."""
    family = pl.DataFrame(
        {"id": ["routerdc-7models:arc_easy:1", "routerdc-7models:arc_easy:1#syn1", "routerdc-7models:arc_easy:2", "routerdc-7models:mbpp:3"],
         "prompt": ["a1", "a1 again", "a2", "b3"], "source": ["routerdc-7models"] * 4, "label": [1, 1, 0, 1], "weak_score": [2, 2, 5, 1]}
    )
    kb = KnowledgeBase.build(np.eye(4, dtype=np.float32), family["prompt"].to_list(), [1, 1, 0, 1], [2, 2, 5, 1], {"index": "flat", "use_gpu": False})
    validation = pl.DataFrame({"id": ["routerdc-7models:mbpp:9"], "prompt": ["b9"], "source": ["routerdc-7models"], "label": [0], "weak_score": [5]})
    val_rows, val_exclude = validation_rows(validation, kb, family, "with_own_task")
    choice, exclude = with_unused_training_queries(val_rows, val_exclude, family[1:2], kb, family, "with_own_task")
    assert choice["task"].to_list() == ["routerdc-7models/mbpp", "routerdc-7models/arc_easy" + TRAINING]
    assert choice["label"].to_list() == [0, 1] and exclude == [[], [0, 1]]
    val_rows, val_exclude = validation_rows(validation, kb, family, "with_and_without_own_task")
    choice, exclude = with_unused_training_queries(val_rows, val_exclude, family[1:2], kb, family, "with_and_without_own_task")
    assert choice["task"].to_list()[2:] == ["routerdc-7models/arc_easy" + TRAINING, "routerdc-7models/arc_easy" + TRAINING + HELD_OUT]
    assert exclude[2:] == [[0, 1], [0, 1, 2]]
    assert ValidationSet.of(choice).tasks == choice["task"].to_list()


def test_a_share_of_the_classifiers_training_queries_retrieves_with_its_own_task_held_out():
    """Four arc_easy queries and four mbpp ones, six of them within the classifier's cap: a share of
    0.5 holds out the task of three of the six (seeded), never of a query outside the cap; the others
    keep the family exclusions only."""
    family = pl.DataFrame(
        {"id": [f"routerdc-7models:arc_easy:{i}" for i in range(4)] + [f"routerdc-7models:mbpp:{i}" for i in range(4)],
         "prompt": [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)], "source": ["routerdc-7models"] * 8}
    )
    kb = KnowledgeBase.build(np.eye(8, dtype=np.float32), family["prompt"].to_list(), [0, 1] * 4, [5, 1] * 4, {"index": "flat", "use_gpu": False})
    in_cap = np.array([True, True, True, False, True, True, True, False])
    exclude, held_out = held_out_training_exclusions(kb, family, family, in_cap, 0.5, seed=0)
    assert held_out.sum() == 3 and not (held_out & ~in_cap).any()
    own_task = {"arc_easy": [0, 1, 2, 3], "mbpp": [4, 5, 6, 7]}
    for i, (e, h) in enumerate(zip(exclude, held_out, strict=True)):
        assert e == (own_task["arc_easy" if i < 4 else "mbpp"] if h else [i])
    again, held_again = held_out_training_exclusions(kb, family, family, in_cap, 0.5, seed=0)
    assert again == exclude and (held_again == held_out).all()
    none, held_none = held_out_training_exclusions(kb, family, family, in_cap, 0.0, seed=0)
    assert none == family_exclusions(kb, family, family) and not held_none.any()
    with pytest.raises(ValueError, match="held_out_training_share must lie in"):
        held_out_training_exclusions(kb, family, family, in_cap, 1.5, seed=0)


def test_held_out_domains_hold_out_every_task_of_the_query_s_domain_with_its_own():
    """RouterBench's and RouterDC's ARC are two tasks of one dataset: with both in one domain, an ARC
    query's held-out copy and its held-out training retrieval reach neither, only the unlisted mbpp
    task (its own domain); without domains the twin task stays retrievable. A task in two domains fails."""
    family = pl.DataFrame(
        {"id": ["routerbench-zs:arc-challenge.test.1", "routerdc-7models:arc_challenge:2", "routerdc-7models:mbpp:3", "routerbench-zs:arc-challenge.test.4"],
         "prompt": ["a1", "a2", "b3", "a4"], "source": ["routerbench-zs", "routerdc-7models", "routerdc-7models", "routerbench-zs"]}
    )
    kb = KnowledgeBase.build(np.eye(4, dtype=np.float32), family["prompt"].to_list(), [0, 1, 1, 0], [5, 2, 1, 5], {"index": "flat", "use_gpu": False})
    arc = {"arc": ["routerbench-zs/arc-challenge", "routerdc-7models/arc_challenge"]}
    validation = pl.DataFrame({"id": ["routerbench-zs:arc-challenge.test.9"], "prompt": ["a9"], "source": ["routerbench-zs"], "label": [0]})
    assert task_exclusions(kb, validation, family) == [[0, 3]]
    assert task_exclusions(kb, validation, family, arc) == [[0, 1, 3]]
    _, exclude = validation_rows(validation, kb, family, "with_and_without_own_task", arc)
    assert exclude == [[], [0, 1, 3]]
    exclude, held_out = held_out_training_exclusions(kb, family, family, np.ones(4, dtype=bool), 1.0, seed=0, domains=arc)
    assert held_out.all() and exclude == [[0, 1, 3], [0, 1, 3], [2], [0, 1, 3]]
    with pytest.raises(ValueError, match="lists task 'routerdc-7models/mbpp' in both"):
        task_exclusions(kb, validation, family, {**arc, "code": ["routerdc-7models/mbpp"], "more": ["routerdc-7models/mbpp"]})


def test_weak_score_scheme_scores_probability_of_scores_1_to_3():
    assert [bc.class_of(s, "weak_score") for s in range(1, 6)] == [0, 1, 2, 3, 4]
    assert [bc.class_of(s) for s in range(1, 6)] == [0, 0, 0, 1, 2]
    probs = torch.tensor([[0.1, 0.1, 0.2, 0.3, 0.3], [0.0, 0.0, 0.0, 0.5, 0.5]])
    assert np.allclose(bc.strong_win_rate_from_logits(torch.log(probs + 1e-12), "weak_score"), [0.4, 0.0], atol=1e-6)


@pytest.mark.slow
def test_trains_on_rag_prompts_with_feature_head_and_round_trips(minilm_dir, tmp_path, monkeypatch):
    """Planted: hard prompts sit near strong-labelled KB entries (in feature space); the trained router
    ranks a new hard prompt above a new easy one, and a saved router scores identically."""
    from test_router_bert_classifier import (
        PROBE_EASY,
        PROBE_HARD,
        TEST_PARAMS,
        planted_corpus,
    )

    from ragrouter.method.classifier import RAGRouter, load, train

    corpus = planted_corpus()
    prompts = corpus["prompt"].to_list() + [PROBE_HARD, PROBE_EASY]
    hard = [s <= 3 for s in corpus["weak_score"]] + [True, False]
    rng = np.random.default_rng(0)
    vectors = np.array([[3.0, 0.0] if h else [0.0, 3.0] for h in hard], dtype=np.float32) + rng.normal(0, 0.1, (len(prompts), 2)).astype(np.float32)
    statistics = np.zeros((len(prompts), len(STRUCTURE_STATISTICS)), dtype=np.float32)
    statistics[:, 0] = [len(p.split()) for p in prompts]
    path = tmp_path / "features.parquet"
    pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in prompts], "statistics": statistics.tolist(), "vector": vectors.tolist()}).write_parquet(path)
    features = FeatureTable([path])
    train_rows = corpus.filter(pl.col("split") == "train")
    kb = KnowledgeBase.build(features(train_rows["prompt"].to_list()), train_rows["prompt"].to_list(), train_rows["label"].to_list(), train_rows["weak_score"].to_list(), {"use_gpu": False})
    validation = corpus.filter(pl.col("split") == "validation")
    # choices read each validation row twice (its one task held out the second time: no neighbours);
    # the validation scores are the rows as served
    params = {"neighbours": [1, 2], "numeric_features": ["neighbours"], "prior_weight": [0.0, 0.5], "validation_retrieval": "with_and_without_own_task"}
    router = train(train_rows, validation, kb, features, train_rows, params, TEST_PARAMS, 0, minilm_dir)
    assert router.params["neighbours"] in (1, 2) and router.classifier.feature_head is not None
    assert len(router.validation_scores) == validation.height
    # the 2-d vector and the 4 neighbour numbers, standardised on the training rows
    assert router.classifier.feature_head.in_features == 2 + 4 and len(router.params["numeric_scaling"]["mean"]) == 4
    assert router.params["prior_weight"] in (0.0, 0.5)  # chosen on validation
    hard_score, easy_score = router.strong_win_rates([PROBE_HARD, PROBE_EASY])
    assert hard_score > easy_score
    router.save(tmp_path / "router")
    loaded = load(tmp_path / "router")
    assert isinstance(loaded, RAGRouter) and loaded.kb is not None
    loaded.features = features
    assert np.allclose(loaded.strong_win_rates([PROBE_HARD, PROBE_EASY]), [hard_score, easy_score], atol=1e-6)

    # a structure prior blends in and survives the round trip
    prior = fit_structure_prior(statistics[: train_rows.height], train_rows["label"].to_numpy(), ["t"] * train_rows.height, ["log_words"])
    prior["quantiles"] = {"score": np.linspace(0, 1, 101).tolist(), "prior": np.linspace(-3, 3, 101).tolist()}
    loaded.params.update(prior_weight=0.5, prior=prior)
    blended = loaded.strong_win_rates([PROBE_HARD, PROBE_EASY])
    assert not np.allclose(blended, [hard_score, easy_score])
    loaded.save(tmp_path / "router2")
    again = load(tmp_path / "router2")
    again.features = loaded.features
    assert np.allclose(again.strong_win_rates([PROBE_HARD, PROBE_EASY]), blended, atol=1e-9)

    # choices on the validation rows and the training queries the classifier's cap leaves out: the
    # classifier trains on 12 rows, K is chosen on 2 x (2 validation + the other unused queries) rows
    import ragrouter.method.classifier as rc

    seen = {}
    real_train, real_choose = bc.train, rc.choose_neighbours

    def counted_train(frame, *args):
        seen["rows"] = frame.filter(pl.col("split") == "train").height
        return real_train(frame, *args)

    def counted_choose(kb, vectors, val, *args):
        seen["choice"] = len(val)
        return real_choose(kb, vectors, val, *args)

    monkeypatch.setattr(bc, "train", counted_train)
    monkeypatch.setattr(rc, "choose_neighbours", counted_choose)
    capped = train(train_rows, validation, kb, features, train_rows, {**params, "choice_rows": "validation_and_unused_training"}, {**TEST_PARAMS, "max_train_rows_per_source": 12}, 0, minilm_dir)
    assert seen == {"rows": 12, "choice": 2 * (validation.height + train_rows.height - 12)}
    assert len(capped.validation_scores) == validation.height and capped.params["prior_weight"] in (0.0, 0.5)
    with pytest.raises(ValueError, match="choice_rows must be one of"):
        train(train_rows, validation, kb, features, train_rows, {"choice_rows": "benchmark"}, TEST_PARAMS, 0, minilm_dir)

    # w = 1: the score is the neighbours' vote, bit for bit, and the classifier is never run
    assert again.classifier_in_score
    again.params.update(vote_weight=1.0, prior_weight=0.0)
    assert not again.classifier_in_score
    vote = query_inputs(again.kb, [PROBE_HARD, PROBE_EASY], features, again.params, with_texts=False).vote
    again.classifier.strong_win_rates = lambda *args: pytest.fail("the classifier ran although w = 1")
    assert np.array_equal(again.strong_win_rates([PROBE_HARD, PROBE_EASY]), vote) and vote[0] > vote[1]
