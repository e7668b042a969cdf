"""RAGRouter: a 5-class weak-score classifier that reads the query and its retrieved neighbours.

Stage: RAGRouter step 5 (rules `train_ragrouter`, `score_ragrouter`). Reads the variant's knowledge
base, queries and feature vectors; writes `resources/routers/<variant>/seed-<k>/`.

A query is turned into its feature vector (`h_fuse_global` with feat=on, the mean-pooled encoder
states with feat=off), its K nearest knowledge-base entries are retrieved (FAISS IVF, L2) and written
with their labels into one text (`knowledge_base.rag_prompt`); a fine-tuned classifier predicts the weak
model's 1-5 score, P(score <= 3) being the probability that the strong model is needed; the query
vector is also joined to the classifier's pooled representation. The router's score blends that with
the K neighbours' mean strong label, (1 - w) * classifier + w * vote, w chosen on validation
(`vote_weight`; the vote alone already ranked validation difficulty better than the classifier).
With rag=off the classifier reads the query alone and trains on every training row (knowledge-base
rows included), and the score is the classifier's.

A structure prior can join the score (`prior_weight`, feat=on): a logistic regression of the strong
label on the parse's structure statistics, fitted on the training rows with every task's two labels
weighted alike, so it learns what makes a prompt hard *within* a task, not which task needs the strong
model; the router's score is then (1 - a) * percentile(score) + a * percentile(prior), percentiles of
the validation rows' values, so each prompt's score stays its own. Why: within a task every
fine-tuned classifier ranked validation difficulty at chance, while how long a prompt is did not.

Numbers can join the query vector (`numeric_features`, standardised on the training rows): the
parse's structure statistics (feat=on; `fusion.structure_statistics`) and the K neighbours' labels
(rag=on; `neighbour_numbers`). Why they were tried: the classifier otherwise reads the neighbours'
labels only as words in a 128-token text, and how long and how nested a query is only through a
mean-pooled state, while a prompt's length alone ranks strong-needed benchmark prompts better than
every router trained without it. They are off by default: on validation they did not help.

The classifier is the BERT router's fine-tuning code (`routers.bert_classifier`) with the 5-class
`weak_score` label scheme and the feature head: one training loop for both, not a copy.

Variants are named by the four ablation switches, e.g. `ragrouter_aug-on_sample-on_feat-on_rag-on`.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import atomic_dir, resolve_params, sha1_text
from ragrouter.data.corpus import TRAIN_CAP, sample_per_source
from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.fusion import STRUCTURE_STATISTICS
from ragrouter.method.knowledge_base import (
    KnowledgeBase,
    rag_prompt,
    rag_prompt_in_tokens,
)
from ragrouter.routers import bert_classifier
from ragrouter.routers.base import Router

KIND = "ragrouter"
DEFAULT_RAG_PARAMS: dict[str, Any] = {
    "neighbours": 4,  # K retrieved knowledge-base entries per query; a list: the grid K is chosen from
    "query_chars": 480,  # the query is cut to this many characters in the RAG prompt
    "neighbour_chars": 120,  # each neighbour's text is cut to this many characters
    "validation_metric": "per_source",  # K choice by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
    # "tokens": the RAG prompt fits the classifier's max_length in its own tokens (query up to half,
    # the K neighbours share the rest); "chars": cut by query_chars / neighbour_chars, as before, which
    # let the classifier's truncation drop the last neighbours (127 of 128 tokens used on average)
    "budget": "tokens",
    # numbers joined to the query vector: "structure" (the features file's statistics, feat=on) and
    # "neighbours" (`NEIGHBOUR_NUMBERS` of the K retrieved entries, rag=on); [] joins the vector alone.
    # Off: on validation (seed 0, full variant, logs/experiments/) the mean per-source ROC-AUC was
    # 0.557 without them, 0.547 with them, 0.490 with them and a feature-head learning rate of 1e-2
    "numeric_features": [],
    # weight w of the K neighbours' mean strong label in the router's score, (1 - w) * classifier +
    # w * vote (rag=on; the neighbours' labels as a number, not only as words in the RAG prompt);
    # a list is a grid chosen on validation after the classifier is trained (`choose_vote_weight`)
    "vote_weight": 0.0,
    # weight a of the structure prior, (1 - a) * percentile(score) + a * percentile(prior) (feat=on);
    # a list is a grid chosen on validation with `prior_statistics` after the vote weight (`choose_prior`)
    "prior_weight": 0.0,
    # the `STRUCTURE_STATISTICS` the prior reads; a list of lists is a grid chosen with prior_weight
    "prior_statistics": ["log_words"],
    # what the validation rows retrieve (rag=on): "with_own_task", every KB entry but their own family
    # (each row's task is in the KB); "with_and_without_own_task", each row scored twice, the second time
    # with every KB entry of its own task held out, as for a task the KB lacks (a benchmark
    # decontaminated out of every source); every choice (K, epoch, w, a) reads both, as separate strata
    "validation_retrieval": "with_own_task",
    # the rows K, w and a are chosen on: "validation"; "validation_and_unused_training" adds the training
    # queries the classifier does not train on (those its per-source cap `max_train_rows_per_source`
    # leaves out), as strata of their own marked `TRAINING`, retrieved as the validation rows are (never
    # their own family); the structure prior is then fitted on the classifier's rows only. The epoch
    # is still chosen on the validation rows.
    "choice_rows": "validation",
    # share of the classifier's training queries whose RAG prompt retrieves with every KB entry of their
    # own task held out (seeded): with 0 the classifier only ever reads same-task neighbours in training,
    # while a benchmark task the KB lacks (MMLU) only ever gets other tasks' neighbours
    "held_out_training_share": 0.0,
    # {domain: [tasks]}: where a query's own task is held out (the validation rows' second copy, the
    # held-out training queries), every task of its domain is held out with it; a task listed in no
    # domain is its own (the default). Tasks as `data.sources.task_of` names them.
    "held_out_domains": {},
}
VALIDATION_RETRIEVAL = ("with_own_task", "with_and_without_own_task")
CHOICE_ROWS = ("validation", "validation_and_unused_training")
HELD_OUT = " (own task held out)"  # the task stratum of a validation row's held-out copy (its domain held out too)
TRAINING = " (training query)"  # the task stratum of a choice row taken from the unused training queries
PERCENTILES = 101  # validation quantiles kept per blended score: enough to map any prompt's value to [0, 1]
NEIGHBOUR_NUMBERS = ("mean_label", "mean_weak_score", "nearest_label", "mean_distance")


class FeatureTable:
    """Precomputed query vectors (and, from feat=on files, structure statistics) looked up by prompt
    sha1 (files written by rule encode_features)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.statistics: dict[str, np.ndarray] = {}
        for path in paths:
            table = pl.read_parquet(path)
            keys = table["prompt_sha1"].to_list()
            self.vectors.update(zip(keys, np.asarray(table["vector"].to_list(), dtype=np.float32), strict=True))
            if "statistics" in table.columns:
                self.statistics.update(zip(keys, np.asarray(table["statistics"].to_list(), dtype=np.float32), strict=True))
        self.sources = [str(p) for p in paths]

    def _lookup(self, table: dict[str, np.ndarray], prompts: Sequence[str], what: str) -> np.ndarray:
        keys = [sha1_text(p) for p in prompts]
        missing = [i for i, k in enumerate(keys) if k not in table]
        if missing:
            raise KeyError(f"{len(missing)} prompts have no {what} in {self.sources}; first (row {missing[0]}): {prompts[missing[0]][:80]!r}")
        return np.stack([table[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        return self._lookup(self.vectors, prompts, "feature vector")

    def vectors_and_statistics(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Query vectors and structure statistics (None where the files carry none: feat=off)."""
        return self(prompts), (self._lookup(self.statistics, prompts, "structure statistics") if self.statistics else None)


def family(row_id: str) -> str:
    """The source row an id descends from: augmented variants `<id>#syn1` / `#sem1` share it."""
    return row_id.split("#", 1)[0]


def family_tasks(rows: pl.DataFrame) -> list[str]:
    """Each row's task (`task_of` its family's id and its source): an augmented row `<id>#syn1`
    belongs to its parent's task."""
    return tasks_of([family(i) for i in rows["id"]], rows["source"])


def kb_ids_by_group(kb: KnowledgeBase, texts: Sequence[str], groups: Sequence[str]) -> dict[str, list[int]]:
    """KB ids per group, where `texts[i]` (a training row's prompt) belongs to `groups[i]`; a KB entry
    whose text several rows share is in each of their groups."""
    groups_of_text: dict[str, set[str]] = {}
    for text, group in zip(texts, groups, strict=True):
        groups_of_text.setdefault(text, set()).add(group)
    kb_ids: dict[str, list[int]] = {}
    for kb_id, text in enumerate(kb.texts):
        for group in groups_of_text.get(text, ()):
            kb_ids.setdefault(group, []).append(kb_id)
    return kb_ids


def family_exclusions(kb: KnowledgeBase, queries: pl.DataFrame, family_rows: pl.DataFrame) -> list[list[int]]:
    """Per query, the KB ids it must not retrieve: its own text and every KB entry of its family
    (the parent and its augmented variants carry the parent's label, so retrieving them would leak
    the query's own label into its training input). `family_rows` (id, prompt) maps KB texts to families."""
    kb_ids_of_family = kb_ids_by_group(kb, family_rows["prompt"].to_list(), [family(i) for i in family_rows["id"]])
    own = kb.ids_with_text(queries["prompt"].to_list())
    return [sorted(set(o) | set(kb_ids_of_family.get(family(i), []))) for o, i in zip(own, queries["id"].to_list(), strict=True)]


def domain_of_task(domains: dict[str, list[str]] | None) -> dict[str, str]:
    """task -> domain from `held_out_domains` ({domain: [tasks]}); a task listed in none is its own
    domain. A task listed twice is an error: it would be held out with two different sets."""
    of: dict[str, str] = {}
    for domain, tasks in (domains or {}).items():
        for task in tasks:
            if task in of:
                raise ValueError(f"ragrouter rag: held_out_domains lists task {task!r} in both {of[task]!r} and {domain!r}")
            of[task] = domain
    return of


def task_exclusions(kb: KnowledgeBase, queries: pl.DataFrame, family_rows: pl.DataFrame, domains: dict[str, list[str]] | None = None) -> list[list[int]]:
    """Per query (id, source), the KB ids of every entry of its own task (`task_of` the entry's family
    row in `family_rows`) and of every other task of its domain (`held_out_domains`): retrieval as for
    a task the knowledge base lacks. Why domains: RouterBench's ARC-Challenge and RouterDC's ARC are
    two tasks of one dataset, so holding out the task alone still retrieves its twin."""
    domain = domain_of_task(domains)
    kb_ids_of_domain = kb_ids_by_group(kb, family_rows["prompt"].to_list(), [domain.get(t, t) for t in family_tasks(family_rows)])
    return [kb_ids_of_domain.get(domain.get(task, task), []) for task in family_tasks(queries)]


def with_own_task_held_out(
    kb: KnowledgeBase, queries: pl.DataFrame, family_rows: pl.DataFrame, exclude: list[list[int]], domains: dict[str, list[str]] | None = None
) -> list[list[int]]:
    """Each query's `exclude` with every KB entry of its own task (and domain) added (`task_exclusions`)."""
    return [sorted(set(e) | set(t)) for e, t in zip(exclude, task_exclusions(kb, queries, family_rows, domains), strict=True)]


def validation_rows(
    validation: pl.DataFrame, kb: KnowledgeBase | None, family_rows: pl.DataFrame, retrieval: str, domains: dict[str, list[str]] | None = None
) -> tuple[pl.DataFrame, list[list[int]] | None]:
    """The rows RAGRouter's choices are scored on, and what each must not retrieve (None without a KB).
    "with_and_without_own_task" adds a `task` column (the per-task strata; a `task` column already
    there is kept) and appends a copy of every row whose task stratum is marked `HELD_OUT` and which
    retrieves nothing of its own task or its task's domain (`task_exclusions`)."""
    if retrieval not in VALIDATION_RETRIEVAL:
        raise ValueError(f"ragrouter rag: validation_retrieval must be one of {list(VALIDATION_RETRIEVAL)}, got {retrieval!r}")
    if kb is None:
        return validation, None
    if retrieval == "with_own_task":
        return validation, family_exclusions(kb, validation, family_rows)
    if not {"id", "source"} <= set(validation.columns):
        raise ValueError(f"ragrouter rag: validation_retrieval {retrieval!r} needs the validation rows' id and source (their task), got columns {validation.columns}")
    rows = validation if "task" in validation.columns else validation.with_columns(pl.Series("task", family_tasks(validation), dtype=pl.String))
    exclude = family_exclusions(kb, rows, family_rows)
    return pl.concat([rows, rows.with_columns(pl.col("task") + HELD_OUT)]), exclude + with_own_task_held_out(kb, rows, family_rows, exclude, domains)


def held_out_training_exclusions(
    kb: KnowledgeBase, queries: pl.DataFrame, family_rows: pl.DataFrame, candidates: np.ndarray, share: float, seed: int,
    domains: dict[str, list[str]] | None = None,
) -> tuple[list[list[int]], np.ndarray]:
    """What each training query must not retrieve (`family_exclusions`) and, for a seeded `share` of
    the `candidates` (a boolean mask: the queries the classifier trains on), every KB entry of its own
    task and domain too (`with_own_task_held_out`); also returns the mask of those held-out queries."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"ragrouter rag: held_out_training_share must lie in [0, 1], got {share!r}")
    exclude = family_exclusions(kb, queries, family_rows)
    held_out = np.zeros(queries.height, dtype=bool)
    if share == 0.0:
        return exclude, held_out
    if not {"id", "source"} <= set(queries.columns):
        raise ValueError(f"ragrouter rag: held_out_training_share needs the training rows' id and source (their task), got columns {queries.columns}")
    candidate_ids = np.flatnonzero(candidates)
    held_out[np.random.default_rng(seed).permutation(candidate_ids)[: round(share * candidate_ids.size)]] = True
    rows = np.flatnonzero(held_out)
    for row, own_task_out in zip(rows, with_own_task_held_out(kb, queries[rows], family_rows, [exclude[r] for r in rows], domains), strict=True):
        exclude[row] = own_task_out
    return exclude, held_out


def neighbour_vote(kb: KnowledgeBase, ids: np.ndarray) -> np.ndarray:
    """The retrieved neighbours' mean strong label per query (ids -1: empty slots; 0.5 for a query
    with none): the vote K is chosen by, and the number the router's score blends in."""
    labels = np.where(ids >= 0, kb.labels[np.maximum(ids, 0)], np.nan).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-empty rows: nanmean of nothing
        return np.nan_to_num(np.nanmean(labels, axis=1), nan=0.5)


def neighbour_numbers(kb: KnowledgeBase, ids: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """`NEIGHBOUR_NUMBERS` per query from its retrieved KB ids (-1: an empty slot): the neighbours'
    mean strong label and mean weak score (1-5 as 0-1), the nearest one's label, their mean squared
    L2 distance; a query with no neighbour gets 0.5 / 0.5 / 0.5 / the largest distance seen."""
    found = ids >= 0
    labels = np.where(found, kb.labels[np.maximum(ids, 0)], np.nan).astype(np.float64)
    scores = np.where(found, (kb.weak_scores[np.maximum(ids, 0)] - 1) / 4.0, np.nan)
    distance = np.where(found, dist, np.nan).astype(np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-empty rows: nanmean of nothing
        out = np.stack([neighbour_vote(kb, ids), np.nanmean(scores, 1), labels[:, 0], np.nanmean(distance, 1)], axis=1)
    fill = [0.5, 0.5, 0.5, np.nanmax(out[:, 3]) if np.isfinite(out[:, 3]).any() else 0.0]
    return np.where(np.isnan(out), np.asarray(fill)[None, :], out).astype(np.float32)


@dataclasses.dataclass
class QueryInputs:
    """What the router computes per prompt before its classifier runs."""

    texts: list[str]  # the classifier's text: the RAG prompt, or the bare query without a KB
    vectors: np.ndarray  # the query vectors (n, d)
    numbers: np.ndarray  # the raw `numeric_features` (n, m), m = 0 when none applies
    names: list[str]  # their m names
    vote: np.ndarray | None  # the K neighbours' mean strong label (0.5 without any); None without a KB
    statistics: np.ndarray | None  # the parse's structure statistics (feat=on), else None


def query_inputs(
    kb: KnowledgeBase | None,
    prompts: Sequence[str],
    features,
    params: dict[str, Any],
    exclude: list[list[int]] | None = None,
    tokenizer=None,
    max_tokens: int | None = None,
    with_texts: bool = True,
) -> QueryInputs:
    """The classifier's inputs for each prompt, and the neighbours' vote.
    `exclude[i]`: KB ids prompt i must not retrieve (see `family_exclusions`). With `budget: tokens`
    the prompt fits `max_tokens` of the classifier's `tokenizer`. `with_texts=False` leaves the bare
    prompts as texts: a score that is the vote alone never reads the RAG prompts."""
    prompts = list(prompts)
    vectors, statistics = features.vectors_and_statistics(prompts)
    numbers, names = [], []
    if "structure" in params["numeric_features"] and statistics is not None:
        numbers, names = [statistics], list(STRUCTURE_STATISTICS)
    texts, vote = prompts, None
    if kb is not None:
        ids, dist = kb.search(vectors, params["neighbours"], exclude)
        vote = neighbour_vote(kb, ids)
        if "neighbours" in params["numeric_features"]:
            numbers.append(neighbour_numbers(kb, ids, dist))
            names += list(NEIGHBOUR_NUMBERS)
        if with_texts:
            texts = _rag_texts(kb, prompts, ids, dist, params, tokenizer, max_tokens)
    numbers = np.concatenate(numbers, 1) if numbers else np.zeros((len(prompts), 0), dtype=np.float32)
    return QueryInputs(texts, vectors, numbers, names, vote, statistics)


def blend_vote(classifier_scores: np.ndarray, vote: np.ndarray | None, weight: float) -> np.ndarray:
    """The router's score: (1 - w) * the classifier's strong win rate + w * the neighbours' vote."""
    if vote is None or weight == 0:
        return classifier_scores
    return (1.0 - weight) * classifier_scores + weight * vote


def choose_vote_weight(classifier_scores: np.ndarray, vote: np.ndarray, val: ValidationSet, grid: Sequence[float], metric: str) -> float:
    """w of the grid with the best validation ROC-AUC of the blended score; ties go to the smaller w."""
    aucs = {float(w): val.auc(blend_vote(classifier_scores, vote, float(w)), metric) for w in sorted(grid)}
    best = max(aucs, key=lambda w: (round(aucs[w], 4), -w))
    logger.info(f"ragrouter: validation ROC-AUC ({metric}) of (1 - w) * classifier + w * K-neighbour vote {({w: round(v, 4) for w, v in aucs.items()})}; w = {best}")
    return best


def task_balanced_weights(labels: np.ndarray, tasks: Sequence[str]) -> np.ndarray:
    """Sample weights under which every task's two labels weigh the same (rows of a task with one
    label only weigh 0): a model fitted with them gains nothing from recognising the task."""
    labels, tasks = np.asarray(labels), np.asarray(tasks)
    weights = np.zeros(len(labels))
    for task in np.unique(tasks):
        rows = tasks == task
        counts = [int((labels[rows] == c).sum()) for c in (0, 1)]
        if min(counts):
            for c in (0, 1):
                weights[rows & (labels == c)] = rows.sum() / (2 * counts[c])
    return weights


def fit_structure_prior(statistics: np.ndarray, labels: np.ndarray, tasks: Sequence[str], names: Sequence[str]) -> dict[str, Any]:
    """Logistic regression of the strong label on the standardised `names` statistics, task-balanced
    (`task_balanced_weights`); returned as numbers `structure_prior` applies."""
    from sklearn.linear_model import LogisticRegression

    columns = [STRUCTURE_STATISTICS.index(n) for n in names]
    x = statistics[:, columns].astype(np.float64)
    mean, std = x.mean(axis=0), np.where(x.std(axis=0) > 1e-8, x.std(axis=0), 1.0)
    model = LogisticRegression(max_iter=1000).fit((x - mean) / std, labels, sample_weight=task_balanced_weights(labels, tasks))
    return {"statistics": list(names), "mean": mean.tolist(), "std": std.tolist(), "coef": model.coef_[0].tolist()}


def structure_prior(prior: dict[str, Any], statistics: np.ndarray) -> np.ndarray:
    """The prior's linear score of each prompt (its logit without the intercept: only its order counts)."""
    columns = [STRUCTURE_STATISTICS.index(n) for n in prior["statistics"]]
    return ((statistics[:, columns].astype(np.float64) - prior["mean"]) / prior["std"]) @ np.asarray(prior["coef"])


def reference_quantiles(values: np.ndarray) -> list[float]:
    """The `PERCENTILES` quantiles of the reference (validation) values that `percentile` maps onto."""
    return np.quantile(values, np.linspace(0, 1, PERCENTILES)).tolist()


def percentile(values: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Where each value lies among the reference values whose `PERCENTILES` quantiles are given (0-1)."""
    return np.interp(values, quantiles, np.linspace(0.0, 1.0, len(quantiles)))


def blend_prior(scores: np.ndarray, prior_scores: np.ndarray, weight: float, quantiles: dict[str, list[float]]) -> np.ndarray:
    """(1 - a) * percentile(score) + a * percentile(prior); a = 0 leaves the scores as they are."""
    if weight == 0:
        return scores
    return (1.0 - weight) * percentile(scores, quantiles["score"]) + weight * percentile(prior_scores, quantiles["prior"])


def choose_prior(
    scores: np.ndarray, val_statistics: np.ndarray, train_statistics: np.ndarray, labels: np.ndarray, tasks: Sequence[str],
    val: ValidationSet, statistics_grid: Sequence[Sequence[str]], weight_grid: Sequence[float], metric: str,
) -> tuple[float, dict[str, Any] | None]:
    """(a, prior) of the grids with the best validation ROC-AUC of the blended score (ties: the smaller
    a, then the earlier statistics); (0, None) when a = 0 wins. The percentiles are the validation rows'."""
    best, chosen = (-np.inf, 0.0), (0.0, None)
    for names in statistics_grid:
        prior = fit_structure_prior(train_statistics, labels, tasks, names)
        val_prior = structure_prior(prior, val_statistics)
        prior["quantiles"] = {"score": reference_quantiles(scores), "prior": reference_quantiles(val_prior)}
        aucs = {float(a): val.auc(blend_prior(scores, val_prior, float(a), prior["quantiles"]), metric) for a in sorted(weight_grid)}
        logger.info(f"ragrouter: structure prior on {list(names)} (coefficients {np.round(prior['coef'], 3).tolist()}): validation ROC-AUC ({metric}) of (1 - a) * score + a * prior {({a: round(v, 4) for a, v in aucs.items()})}")
        for a, auc in aucs.items():
            if (round(auc, 4), -a) > best:
                best, chosen = (round(auc, 4), -a), (a, prior if a > 0 else None)
    logger.info(f"ragrouter: a = {chosen[0]}" + (f" on {chosen[1]['statistics']}" if chosen[1] else ""))
    return chosen


def _rag_texts(kb: KnowledgeBase, prompts: list[str], ids: np.ndarray, dist: np.ndarray, params: dict[str, Any], tokenizer, max_tokens: int | None) -> list[str]:
    pairs = zip(prompts, kb.neighbours(ids, dist), strict=True)
    if params["budget"] == "tokens":
        if tokenizer is None or max_tokens is None:
            raise ValueError("rag_texts: budget 'tokens' needs the classifier's tokenizer and max_tokens")
        return [rag_prompt_in_tokens(tokenizer, q, nbs, max_tokens) for q, nbs in pairs]
    if params["budget"] != "chars":
        raise ValueError(f"rag params: budget must be 'tokens' or 'chars', got {params['budget']!r}")
    return [rag_prompt(q if len(q) <= params["query_chars"] else q[: params["query_chars"]] + "…", nbs, params["neighbour_chars"]) for q, nbs in pairs]


def choose_neighbours(kb: KnowledgeBase, vectors: np.ndarray, val: ValidationSet, grid: Sequence[int], metric: str = "pooled", exclude: list[list[int]] | None = None) -> int:
    """K with the best validation ROC-AUC of the neighbours' mean strong label (the retrieval signal
    the classifier reads), chosen before any classifier is trained; ties go to the smaller K."""

    ids, _ = kb.search(vectors, max(grid), exclude)
    aucs = {k: val.auc(neighbour_vote(kb, ids[:, :k]), metric) for k in sorted(grid)}
    best = max(aucs, key=lambda k: (round(aucs[k], 4), -k))
    logger.info(f"ragrouter: validation ROC-AUC ({metric}) of the K-neighbour label vote {({k: round(v, 4) for k, v in aucs.items()})}; K = {best}")
    return best


class RAGRouter(Router):
    """Classifier + optional knowledge base; query vectors come from an attached `FeatureTable`.

    The classifier always receives the query vector (joined to its pooled representation); with a
    knowledge base its text input is the RAG prompt, without one the bare query."""

    def __init__(self, classifier: bert_classifier.BertClassifierRouter, kb: KnowledgeBase | None, params: dict[str, Any]) -> None:
        self.classifier = classifier
        self.kb = kb
        self.params = {**DEFAULT_RAG_PARAMS, **params}
        self.features: FeatureTable | None = None
        self.feature_settings: dict[str, Any] | None = None  # `fusion.feature_settings` of its query vectors

    @property
    def classifier_in_score(self) -> bool:
        """False when validation gave the classifier no weight (w = 1): the score is the vote alone."""
        return self.kb is None or self.params["vote_weight"] != 1.0

    def use_backend(self, backend: str, threads: int | None = None) -> None:
        """The classifier's inference path (`BertClassifierRouter.use_backend`)."""
        self.classifier.use_backend(backend, threads)

    def strong_win_rates(self, prompts: Sequence[str]) -> np.ndarray:
        prompts = list(prompts)
        if not prompts:
            return np.empty(0, dtype=np.float64)
        if self.features is None:
            raise RuntimeError("RAGRouter: attach a FeatureTable (router.features) before scoring")
        vote_only = not self.classifier_in_score  # skips the classifier: (1 - 1) * classifier + vote is the vote exactly
        inputs = query_inputs(self.kb, prompts, self.features, self.params, tokenizer=self.classifier.tokenizer, max_tokens=self.classifier.max_length, with_texts=not vote_only)
        if vote_only:
            scores = inputs.vote
        else:
            scores = self.classifier.strong_win_rates(inputs.texts, joined_features(inputs.vectors, inputs.numbers, self.params["numeric_scaling"]))
            scores = blend_vote(scores, inputs.vote, self.params["vote_weight"])
        prior = self.params.get("prior")
        return blend_prior(scores, structure_prior(prior, inputs.statistics), self.params["prior_weight"], prior["quantiles"]) if prior else scores

    def save(self, path: str | Path) -> None:
        """router.json, classifier/ (Hugging Face folder) and kb/ (FAISS index + texts), atomically."""
        with atomic_dir(path) as tmp:
            self.classifier.save(tmp / "classifier")
            if self.kb is not None:
                self.kb.save(tmp / "kb")
            meta = {"kind": KIND, "params": self.params, "rag": self.kb is not None, "features": self.feature_settings}
            (tmp / "router.json").write_text(json.dumps(meta, indent=2) + "\n")

    @staticmethod
    def load(path: str | Path) -> RAGRouter:
        path = Path(path)
        meta = json.loads((path / "router.json").read_text())
        kb = KnowledgeBase.load(path / "kb") if meta["rag"] else None
        # checkpoints from before the numeric features and the vote: the query vector and the classifier alone
        params = {"numeric_features": [], "numeric_scaling": None, "vote_weight": 0.0, "prior_weight": 0.0, "prior": None, **meta["params"]}
        router = RAGRouter(bert_classifier.load(path / "classifier"), kb, params)
        router.feature_settings = meta.get("features")
        return router


def load(path: str | Path) -> RAGRouter:
    return RAGRouter.load(path)


def numeric_scaling(numbers: np.ndarray) -> dict[str, list[float]]:
    """Mean and standard deviation (1 where a column is constant) of the training rows' numbers."""
    std = numbers.std(axis=0)
    return {"mean": numbers.mean(axis=0).tolist(), "std": np.where(std > 1e-8, std, 1.0).tolist()}


def joined_features(vectors: np.ndarray, numbers: np.ndarray, scaling: dict[str, list[float]] | None) -> np.ndarray:
    """The classifier's feature input: the query vector and the standardised numbers."""
    if numbers.shape[1] == 0:
        return vectors
    if scaling is None or len(scaling["mean"]) != numbers.shape[1]:
        raise ValueError(f"RAGRouter: {numbers.shape[1]} numeric features but a scaling for {None if scaling is None else len(scaling['mean'])}; retrain the router")
    standard = (numbers - np.asarray(scaling["mean"], dtype=np.float32)) / np.asarray(scaling["std"], dtype=np.float32)
    return np.concatenate([vectors, standard.astype(np.float32)], axis=1)


def with_unused_training_queries(
    validation: pl.DataFrame, val_exclude: list[list[int]] | None, unused: pl.DataFrame, kb: KnowledgeBase | None, family_rows: pl.DataFrame, retrieval: str,
    domains: dict[str, list[str]] | None = None,
) -> tuple[pl.DataFrame, list[list[int]] | None]:
    """The validation rows (from `validation_rows`) followed by the training queries the classifier
    does not train on, built the same way, their task strata marked `TRAINING`: 4x the rows to choose
    K, w and a by, each retrieving as a validation row does (never its own family)."""
    tasks = pl.Series("task", [t + TRAINING for t in family_tasks(unused)], dtype=pl.String)
    unused, unused_exclude = validation_rows(unused.with_columns(tasks), kb, family_rows, retrieval, domains)
    if "task" not in validation.columns:
        validation = validation.with_columns(pl.Series("task", family_tasks(validation), dtype=pl.String))
    logger.info(f"ragrouter: K, w and a are chosen on {validation.height} validation rows and {unused.height} training queries the classifier does not train on")
    return pl.concat([validation, unused.select(validation.columns)]), None if kb is None else val_exclude + unused_exclude


def train(
    rows: pl.DataFrame,
    validation: pl.DataFrame,
    kb: KnowledgeBase | None,
    features: FeatureTable,
    family_rows: pl.DataFrame,
    params: dict[str, Any],
    classifier_params: dict[str, Any],
    seed: int,
    model_dir: str,
) -> RAGRouter:
    """Fine-tune the 5-class classifier on `rows` (rag=on: the query split, as RAG prompts that never
    retrieve their own family from `family_rows`; rag=off: every training row, bare; at most the
    classifier's `max_train_rows_per_source` of each source); the validation rows, built the same
    way, choose the epoch.
    A list of `neighbours` is a grid for K, chosen on the choice rows before training (`choose_neighbours`);
    a list of `vote_weight` is a grid for w, chosen on them after it (`choose_vote_weight`);
    a list of `prior_weight` is a grid for a, chosen last (`choose_prior`; feat=on only). The choice
    rows are the validation rows, and with `choice_rows: validation_and_unused_training` the training
    queries the classifier's cap leaves out (`with_unused_training_queries`)."""
    p = resolve_params(DEFAULT_RAG_PARAMS, params, "ragrouter rag")
    if p["choice_rows"] not in CHOICE_ROWS:
        raise ValueError(f"ragrouter rag: choice_rows must be one of {list(CHOICE_ROWS)}, got {p['choice_rows']!r}")
    served = validation.height  # the rows as the router retrieves for them; the validation file's rows
    if domain_of_task(p["held_out_domains"]):  # a task listed twice fails before any work
        logger.info(f"ragrouter: a query whose own task is held out loses its domain's other tasks too: {p['held_out_domains']}")
    validation, val_exclude = validation_rows(validation, kb, family_rows, p["validation_retrieval"], p["held_out_domains"])
    # the classifier's per-source cap, drawn here as `bert_classifier.train` would draw it, so that the
    # queries it leaves out are known
    classifier_settings = resolve_params(bert_classifier.DEFAULTS, classifier_params, "ragrouter classifier")
    cap = classifier_settings[TRAIN_CAP]
    classifier_params = {**classifier_params, TRAIN_CAP: None}
    in_classifier = np.zeros(rows.height, dtype=bool)
    in_classifier[sample_per_source(rows.with_row_index("_query"), cap, seed)["_query"].to_numpy()] = True
    in_choice = np.zeros(rows.height, dtype=bool)  # training queries among the choice rows
    choice, choice_exclude = validation, val_exclude
    if p["choice_rows"] == "validation_and_unused_training":
        in_choice = ~in_classifier
        choice, choice_exclude = with_unused_training_queries(validation, val_exclude, rows.filter(pl.Series(in_choice)), kb, family_rows, p["validation_retrieval"], p["held_out_domains"])
    val = ValidationSet.of(choice)
    tokenizer, max_tokens = None, None
    if kb is not None and p["budget"] == "tokens":
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        max_tokens = classifier_settings["max_length"]
    if kb is not None and isinstance(p["neighbours"], list):
        p["neighbours"] = choose_neighbours(kb, features(choice["prompt"].to_list()), val, p["neighbours"], p["validation_metric"], choice_exclude)
    frames, inputs_of, p["numeric_scaling"] = {}, {}, None
    train_exclude, held_out = None, np.zeros(rows.height, dtype=bool)
    if kb is not None:
        train_exclude, held_out = held_out_training_exclusions(kb, rows, family_rows, in_classifier, p["held_out_training_share"], seed, p["held_out_domains"])
    for split, part in (("train", rows), ("validation", choice)):
        exclude = choice_exclude if split == "validation" else train_exclude
        inputs = inputs_of[split] = query_inputs(kb, part["prompt"].to_list(), features, p, exclude, tokenizer, max_tokens)
        if split == "train" and inputs.numbers.shape[1]:
            p["numeric_scaling"] = numeric_scaling(inputs.numbers)
        joined = joined_features(inputs.vectors, inputs.numbers, p["numeric_scaling"])
        frames[split] = part.select("weak_score", "label", *(["source"] if "source" in part.columns else [])).with_columns(
            pl.Series("prompt", inputs.texts), pl.Series("features", joined.tolist(), dtype=pl.List(pl.Float32)), pl.lit(split).alias("split"),
            # what validation_metric per_task stratifies by, and the structure prior balances within
            *([part["task"]] if "task" in part.columns else [pl.Series("task", family_tasks(part))] if {"id", "source"} <= set(part.columns) else []),
        )
        if split == "validation" and inputs.numbers.shape[1] and choice.height:
            logger.info("ragrouter: validation ROC-AUC (per source) of each number alone: " + ", ".join(f"{name} {val.auc(inputs.numbers[:, j], 'per_source'):.3f}" for j, name in enumerate(inputs.names)))
    val_inputs, val_frame = inputs_of["validation"], frames["validation"]
    frame = pl.concat([frames["train"].filter(pl.Series(in_classifier)), val_frame.head(validation.height)], how="vertical")
    logger.info(
        f"ragrouter: {rows.height} training queries ({int(in_classifier.sum())} within the classifier's cap, {int(held_out.sum())} of them retrieving with their own task held out) "
        f"and {validation.height} validation prompts, "
        f"rag={'on' if kb is not None else 'off'}, classifier features {len(frame['features'][0])}-d (query vector + numbers {inputs_of['train'].names}); "
        f"first training input:\n{frame['prompt'][0]}"
    )
    classifier = bert_classifier.train(frame, {"labels": "weak_score", **classifier_params}, seed, model_dir)
    val_scores = classifier.strong_win_rates(val_frame["prompt"].to_list(), np.asarray(val_frame["features"].to_list(), dtype=np.float32))
    if isinstance(p["vote_weight"], list):
        p["vote_weight"] = choose_vote_weight(val_scores, val_inputs.vote, val, p["vote_weight"], p["validation_metric"]) if kb is not None else 0.0
    val_scores = blend_vote(val_scores, val_inputs.vote, p["vote_weight"])
    p["prior"] = None
    if isinstance(p["prior_weight"], list):
        weight_grid, p["prior_weight"] = p["prior_weight"], 0.0
        if val_inputs.statistics is not None:
            statistics_grid = p["prior_statistics"] if p["prior_statistics"] and isinstance(p["prior_statistics"][0], list) else [p["prior_statistics"]]
            fitted = pl.Series(~in_choice)  # the prior never fits on a row it is chosen by
            p["prior_weight"], p["prior"] = choose_prior(
                val_scores, val_inputs.statistics, inputs_of["train"].statistics[~in_choice], rows.filter(fitted)["label"].to_numpy(),
                frames["train"].filter(fitted)["task"].to_list(), val, statistics_grid, weight_grid, p["validation_metric"],
            )
            if p["prior"]:
                p["prior_statistics"] = p["prior"]["statistics"]
                val_scores = blend_prior(val_scores, structure_prior(p["prior"], val_inputs.statistics), p["prior_weight"], p["prior"]["quantiles"])
    elif p["prior_weight"]:
        raise ValueError("ragrouter rag: prior_weight > 0 needs a grid (a list) to fit the prior and its percentiles on validation")
    router = RAGRouter(classifier, kb, p)
    router.features = features
    # as the training rows, the validation rows never retrieved their own text or family
    router.validation_scores = val_scores[:served]
    return router
