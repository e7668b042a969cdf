"""The router interface, compatible with RouteLLM's `Router.calculate_strong_win_rate`.

Stage: scoring (rules `score_router`, `score_random`). Writes and checks
`results/scores/<benchmark>/<router>/seed-<k>.parquet` (`row, prompt_sha1, score`).
"""

from __future__ import annotations

import abc
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from ragrouter.common.io import atomic_path, sha1_text, write_parquet
from ragrouter.data.validate import SCORES, check_table


class Router(abc.ABC):
    """A router scores prompts; a higher score means the strong model is more likely needed.

    Subclasses implement the batched `strong_win_rates`; the single-prompt form RouteLLM calls is
    derived from it so both always agree.
    """

    # the validation rows' scores where training already computed them with the final router, so
    # that the training job writes them instead of scoring the rows again (minutes for the LLMs)
    validation_scores: np.ndarray | None = None

    @abc.abstractmethod
    def strong_win_rates(self, prompts: Sequence[str]) -> np.ndarray:
        """Strong-model win rate for every prompt, in order (float array, same length)."""

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.strong_win_rates([prompt])[0])

    def save(self, path: str | Path) -> None:
        """Pickle the router atomically; routers holding torch modules override this."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(self, fh)

    @staticmethod
    def load(path: str | Path) -> Router:
        with open(path, "rb") as fh:
            return pickle.load(fh)


class EmbeddingRouter(Router):
    """A router that scores prompts from their sentence embeddings (SW ranking, MF, P2L): `encoder`
    embeds the prompts (cached per prompt set), `strong_win_rates_from_embeddings` scores them."""

    encoder: object

    @abc.abstractmethod
    def strong_win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray: ...

    def strong_win_rates(self, prompts: Sequence[str]) -> np.ndarray:
        if len(prompts) == 0:
            return np.zeros(0)
        return self.strong_win_rates_from_embeddings(self.encoder.encode(list(prompts)))


def score_frame(benchmark: pl.DataFrame, scores: np.ndarray) -> pl.DataFrame:
    """The per-prompt score file every metric and table is computed from."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (benchmark.height,):
        raise ValueError(f"expected {benchmark.height} scores, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("router produced non-finite scores")
    return pl.DataFrame({"row": benchmark["row"], "prompt_sha1": benchmark["prompt_sha1"], "score": scores})


def write_scores(benchmark: pl.DataFrame, scores: np.ndarray, path: str | Path) -> None:
    write_parquet(score_frame(benchmark, scores), path)


def check_score_file(scores: pl.DataFrame, benchmark: pl.DataFrame, where: str) -> np.ndarray:
    """Check a score file (types, NaN, duplicate rows) and its match with the benchmark (rows and
    prompt hashes) and return the scores."""
    scores = check_table(scores, SCORES, where)
    if scores.height != benchmark.height:
        raise ValueError(f"{where}: {scores.height} rows, the benchmark has {benchmark.height}")
    scores = scores.sort("row")
    mismatch = (scores["prompt_sha1"] != benchmark["prompt_sha1"]).arg_true()
    if len(mismatch):
        i = int(mismatch[0])
        raise ValueError(f"{where}: row {i}: field 'prompt_sha1' does not match the benchmark prompt")
    values = scores["score"].to_numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise ValueError(f"{where}: row {int(bad[0])}: field 'score' is not finite")
    return values


__all__ = ["Router", "check_score_file", "score_frame", "sha1_text", "write_scores"]
