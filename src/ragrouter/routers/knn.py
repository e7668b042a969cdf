"""Control router `knn`: the mean routing label of a prompt's k nearest training prompts on the
shared sentence embedding (cosine). k is chosen on the validation split by the mean of per-source
ROC-AUCs (`ragrouter.evaluation.validation.stratified_auc`), so a k that only recognises which
source a prompt came from is not rewarded.

It is the simplest router that uses the same corpus, labels and embedding as the trained ones; a
trained router that does not beat it adds nothing to nearest-neighbour lookup.

Stage: controls (rules `train_router`, `score_router`). Reads the corpus and its cached
embeddings; scores from the benchmark's cached embeddings.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import resolve_params
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.base import EmbeddingRouter

DEFAULTS = {"k": [5, 10, 20, 50, 100], "batch_size": 1024, "validation_metric": "per_source"}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class KNNRouter(EmbeddingRouter):
    """Mean label of the k most similar training prompts (ties in similarity broken by row order)."""

    def __init__(self, encoder, train_embeddings: np.ndarray, labels: np.ndarray, k: int, batch_size: int = 1024) -> None:
        self.encoder = encoder
        self.train_embeddings = _unit(train_embeddings)
        self.labels = np.asarray(labels, dtype=np.float64)
        self.k = int(k)
        self.batch_size = int(batch_size)

    def neighbour_labels(self, embeddings: np.ndarray, k_max: int) -> np.ndarray:
        """(n, k_max) labels of each query's nearest training prompts, nearest first."""
        q = _unit(embeddings)
        k_max = min(k_max, len(self.labels))
        out = np.empty((len(q), k_max))
        for start in range(0, len(q), self.batch_size):
            sims = q[start : start + self.batch_size] @ self.train_embeddings.T
            # a stable sort of -similarity: equal similarities keep training-row order on every CPU
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k_max]
            out[start : start + len(order)] = self.labels[order]
        return out

    def strong_win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        if len(embeddings) == 0:
            return np.zeros(0)
        return self.neighbour_labels(embeddings, self.k).mean(axis=1)


def train(corpus: pl.DataFrame, battles: pl.DataFrame, encoder, params: dict | None, seed: int) -> KNNRouter:
    """Index the train rows; choose k from the grid on the validation rows."""
    p = resolve_params(DEFAULTS, params, "knn")
    grid = sorted(int(k) for k in (p["k"] if isinstance(p["k"], list | tuple) else [p["k"]]))
    train_rows = corpus.filter(pl.col("split") == "train")
    val_rows = corpus.filter(pl.col("split") == "validation")
    if train_rows.height == 0:
        raise ValueError("knn: the corpus has no train rows")
    emb = encoder.encode(train_rows["prompt"].to_list())
    router = KNNRouter(encoder, emb, train_rows["label"].to_numpy(), grid[0], p["batch_size"])
    if val_rows.height and len(grid) > 1:
        val = ValidationSet.of(val_rows)
        neighbours = router.neighbour_labels(encoder.encode(val.prompts), grid[-1])
        scores = {k: val.auc(neighbours[:, :k].mean(axis=1), p["validation_metric"]) for k in grid}
        # highest metric wins; a tie goes to the smaller k (rounded so float noise cannot decide it)
        router.k = max(grid, key=lambda k: (round(np.nan_to_num(scores[k], nan=-1.0), 6), -k))
        logger.info(f"knn: validation ROC-AUC ({p['validation_metric']}) by k: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        logger.info(f"knn: chose k={router.k}; validation {val.summary(neighbours[:, : router.k].mean(axis=1))}")
    logger.info(f"knn: {train_rows.height} training prompts, k={router.k}")
    return router
