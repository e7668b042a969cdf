"""Validation metrics used to make every training-time choice (epochs, grids, K) on the corpus'
validation split; benchmark prompts never enter here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.data.sources import tasks_of


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of `scores` against binary `labels` (ties in the score count half); NaN when only
    one class is present."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64)))


def per_source_auc(labels: np.ndarray, scores: np.ndarray, sources: Sequence[str]) -> dict[str, float]:
    """ROC-AUC within each source (sorted by name); NaN for a source with one label only."""
    labels, scores, sources = np.asarray(labels), np.asarray(scores, dtype=np.float64), np.asarray(sources)
    return {s: roc_auc(labels[sources == s], scores[sources == s]) for s in sorted(set(sources.tolist()))}


MIN_PER_CLASS = 5  # a source with fewer validation rows of either label is too noisy to choose by


def kept_strata(labels: np.ndarray, strata: Sequence[str], min_per_class: int = MIN_PER_CLASS) -> dict[str, tuple[int, int]]:
    """(not needed, strong needed) row counts of each stratum with >= `min_per_class` of both."""
    labels, strata = np.asarray(labels), np.asarray(strata)
    counts = {s: (int(((strata == s) & (labels == 0)).sum()), int(((strata == s) & (labels == 1)).sum())) for s in sorted(set(strata.tolist()))}
    return {s: c for s, c in counts.items() if min(c) >= min_per_class}


def stratified_auc(labels: np.ndarray, scores: np.ndarray, sources: Sequence[str], min_per_class: int = MIN_PER_CLASS) -> float:
    """Mean of the per-source ROC-AUCs: how well the score ranks difficulty *within* a source.

    The pooled ROC-AUC also rewards a score that only recognises the source, when the sources'
    strong-needed base rates differ (73 % on alpaca-eval, 17 % on RouterBench); this one does not.
    Sources with fewer than `min_per_class` rows of either label are left out (the 10-row
    gpt4_dataset sample has one or two validation rows: its AUC is 0 or 1). NaN when none is left."""
    per, kept = per_source_auc(labels, scores, sources), kept_strata(labels, sources, min_per_class)
    return float(np.mean([per[s] for s in kept])) if kept else float("nan")


def pair_weighted_auc(labels: np.ndarray, scores: np.ndarray, strata: Sequence[str], min_per_class: int = MIN_PER_CLASS) -> float:
    """Share of the within-stratum (strong needed, not needed) pairs the score orders right, ties
    half: each stratum's ROC-AUC weighted by its number of pairs, over the strata `stratified_auc`
    keeps. Why beside the plain mean: there a stratum of 6 strong-needed rows weighs as much as one
    of 45, so a few small tasks can carry the mean; here every pair counts once. NaN when none is kept."""
    per, kept = per_source_auc(labels, scores, strata), kept_strata(labels, strata, min_per_class)
    return float(np.average([per[s] for s in kept], weights=[n * p for n, p in kept.values()])) if kept else float("nan")


def stratified_auc_resamples(
    labels: np.ndarray, scores: Sequence[np.ndarray], strata: Sequence[str], resamples: int = 200, seed: int = 0, min_per_class: int = MIN_PER_CLASS
) -> np.ndarray:
    """`stratified_auc` of each score array on the same bootstrap resamples, (len(scores), resamples):
    each stratum's strong-needed and other rows are resampled with replacement apart, so every resample
    keeps the strata and their label counts (and so the strata the mean keeps). The same rows for every
    score make differences between scores paired. AUCs from ranks (Mann-Whitney), all at once."""
    from scipy.stats import rankdata

    labels, strata = np.asarray(labels), np.asarray(strata)
    scores = [np.asarray(s, dtype=np.float64) for s in scores]
    rng = np.random.default_rng(seed)
    per_stratum = []
    for s in kept_strata(labels, strata, min_per_class):
        pos, neg = (np.flatnonzero((strata == s) & (labels == c)) for c in (1, 0))
        rows = np.hstack([rng.choice(pos, (resamples, len(pos))), rng.choice(neg, (resamples, len(neg)))])
        pos_ranks = np.stack([rankdata(x[rows], axis=1)[:, : len(pos)].sum(axis=1) for x in scores])
        per_stratum.append((pos_ranks - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
    return np.mean(per_stratum, axis=0) if per_stratum else np.full((len(scores), resamples), np.nan)


def stratified_auc_se(labels: np.ndarray, scores: np.ndarray, strata: Sequence[str], resamples: int = 200, seed: int = 0, min_per_class: int = MIN_PER_CLASS) -> float:
    """Bootstrap standard error of `stratified_auc` (`stratified_auc_resamples`). Why: a validation
    choice between two settings whose means differ by less than this is noise."""
    return float(np.std(stratified_auc_resamples(labels, [scores], strata, resamples, seed, min_per_class)[0]))


VALIDATION_METRICS = ("pooled", "per_source", "per_task")
@dataclass(frozen=True)
class ValidationSet:
    """Validation prompts with their routing labels (1 = strong needed) and sources: what every
    router's choices (epoch, grid, K) are scored on, by `auc(scores, metric)`."""

    prompts: list[str]
    labels: np.ndarray
    sources: list[str]
    tasks: list[str] | None = None  # each row's task (a `task` column, or `task_of` its id); None: unknown

    @classmethod
    def of(cls, rows: pl.DataFrame) -> ValidationSet:
        sources = rows["source"].to_list() if "source" in rows.columns else ["all"] * rows.height
        tasks = None
        if "task" in rows.columns:
            tasks = rows["task"].to_list()
        elif "id" in rows.columns:
            tasks = tasks_of(rows["id"], sources)
        prompts = rows["prompt"].to_list() if "prompt" in rows.columns else []  # a validation score file has none
        return cls(prompts, rows["label"].to_numpy().astype(np.int64), sources, tasks)

    def __len__(self) -> int:
        return len(self.labels)

    def auc(self, scores: np.ndarray, metric: str = "pooled") -> float:
        """"pooled": ROC-AUC over all rows; "per_source" / "per_task": the mean of the ROC-AUCs within
        each source / task (`task_of`), or the pooled one when none has `MIN_PER_CLASS` rows of each
        label (tiny validation splits)."""
        if metric == "pooled":
            return roc_auc(self.labels, scores)
        if metric in ("per_source", "per_task"):
            if metric == "per_task" and self.tasks is None:
                raise ValueError("validation metric per_task: the validation rows carry no ids to read the task from")
            strata = self.tasks if metric == "per_task" else self.sources
            value = stratified_auc(self.labels, scores, strata)
            return roc_auc(self.labels, scores) if np.isnan(value) else value
        raise ValueError(f"validation metric must be one of {VALIDATION_METRICS}, got {metric!r}")

    def summary(self, scores: np.ndarray) -> str:
        """Both metrics and every source's ROC-AUC, for the training logs."""
        per = ", ".join(f"{s} {v:.3f}" for s, v in per_source_auc(self.labels, scores, self.sources).items())
        return f"pooled ROC-AUC {self.auc(scores):.4f}, mean per-source {self.auc(scores, 'per_source'):.4f} ({per})"


def validation_rows(corpus: pl.DataFrame) -> pl.DataFrame:
    """The corpus' validation split (every row of a file without a `split` column)."""
    return corpus.filter(pl.col("split") == "validation") if "split" in corpus.columns else corpus


def validation_scores(router, rows: pl.DataFrame, scores: np.ndarray | None = None) -> pl.DataFrame:
    """A trained router's scores on the corpus' validation rows (id, source, label, score): the
    file the report's per-source validation table reads, one per router and seed. The training
    log gets its summary: the final router's validation, after any epoch or grid choice.
    `scores`: the rows' scores where training already computed them with the final router."""
    rows = validation_rows(rows)
    if scores is None:
        scores = router.strong_win_rates(rows["prompt"].to_list()) if rows.height else np.zeros(0)
    elif len(scores) != rows.height:
        raise ValueError(f"validation_scores: {len(scores)} scores for {rows.height} validation rows")
    if rows.height:
        logger.info(f"final router: validation ({rows.height} prompts) {ValidationSet.of(rows).summary(scores)}")
    return rows.select("id", "source", "label").with_columns(pl.Series("score", np.asarray(scores, dtype=np.float64)))


def validation_table(files: dict[str, Sequence[str]]) -> pl.DataFrame:
    """Per router (the keys, in order): ROC-AUC within each source, their mean (`stratified_auc`,
    sources with >= MIN_PER_CLASS rows of each label), the same mean over tasks (`task_of`: a score
    that tells a source's easy tasks from its hard ones gains nothing there, as on a one-task
    benchmark) with its bootstrap standard error (`stratified_auc_se`), the per-task AUC weighted by
    pairs (`pair_weighted_auc`) and pooled, each the mean over its seeds' files."""
    rows = []
    for router, paths in files.items():
        per_seed = []
        for path in paths:
            t = pl.read_parquet(path)
            labels, scores, sources = t["label"].to_numpy(), t["score"].to_numpy(), t["source"].to_list()
            tasks = tasks_of(t["id"], sources)
            per_seed.append(
                {
                    **per_source_auc(labels, scores, sources),
                    "mean per-source": stratified_auc(labels, scores, sources),
                    "mean per-task": stratified_auc(labels, scores, tasks),
                    "per-task SE": stratified_auc_se(labels, scores, tasks),
                    "pair-weighted per-task": pair_weighted_auc(labels, scores, tasks),
                    "pooled": roc_auc(labels, scores),
                }
            )
        keys = list(per_seed[0])
        rows.append({"router": router, "seeds": len(per_seed), **{k: float(np.mean([d[k] for d in per_seed])) for k in keys}})
    return pl.DataFrame(rows)
