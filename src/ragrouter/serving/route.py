"""Serving a trained RAGRouter: score new prompts end to end and route them to the strong or weak model.

Stage: serving (rule `serving_check`, `ragrouter route`). Reads a trained RAGRouter, its encoders and
raw prompts; returns scores and routes.

In the workflow, query vectors are precomputed per prompt set (rule encode_features); a served
router computes them on the fly with the same frozen encoders. Routing follows RouteLLM: a prompt
goes to the strong model when its strong win rate is >= the threshold, and the threshold for a
target share of strong calls is the matching quantile of the scores of a calibration set drawn from
the training distribution (RouteLLM calibrates on Chatbot Arena prompts; here the corpus'
validation split), never from the evaluation prompts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.evaluation.validation import validation_rows
from ragrouter.method import classifier
from ragrouter.method.classifier import RAGRouter
from ragrouter.method.fusion import (
    DEFAULT_FUSION_PARAMS,
    FusionEncoder,
    load_encoder,
    mean_pooled_semantic,
)


class QueryFeatures:
    """Query vectors computed on demand, as rule encode_features computes them: the frozen fusion
    encoder's `h_fuse_global` (feat=on, `fusion_dir` given; its saved config fixes the tokenisation)
    or mean-pooled encoder states (feat=off; `max_length` must match the workflow's fusion params)."""

    def __init__(self, encoder_dir: str | Path, fusion_dir: str | Path | None = None, max_length: int | None = None, batch_size: int = 64, truncation: str | None = None) -> None:
        self.max_length = max_length or DEFAULT_FUSION_PARAMS["max_length"]
        self.truncation = truncation or DEFAULT_FUSION_PARAMS["truncation"]
        self.batch_size = batch_size
        self.fusion = FusionEncoder.load(fusion_dir, encoder_dir) if fusion_dir else None
        self.encoder = None if fusion_dir else load_encoder(encoder_dir)  # feat=off: loaded once, not per call
        self.seconds = 0.0  # time spent computing vectors, for the throughput breakdown

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        return self.vectors_and_statistics(prompts)[0]

    def vectors_and_statistics(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Query vectors and, with the fusion encoder, the structure statistics of the same parse."""
        start = time.perf_counter()
        if self.fusion is not None:
            vectors, statistics = self.fusion.encode_with_statistics(list(prompts), batch_size=self.batch_size, progress=False)
        else:
            vectors, statistics = mean_pooled_semantic(list(prompts), self.encoder, self.max_length, self.batch_size, self.truncation, progress=False), None
        self.seconds += time.perf_counter() - start
        return vectors, statistics


def load_router(router_dir: str | Path, encoder_dir: str | Path, fusion_dir: str | Path | None = None, max_length: int | None = None) -> RAGRouter:
    """A RAGRouter checkpoint (rule train_ragrouter) ready to score raw prompts, with query vectors
    made as in training: the checkpoint's feature settings decide, and a conflicting argument
    (a fusion folder for a feat=off router, none for feat=on, another max length) is an error."""
    router = classifier.load(router_dir)
    saved = router.feature_settings
    if saved is None:
        logger.warning(f"{router_dir}: checkpoint without feature settings (trained before they were saved); using the arguments")
        truncation = None
    else:
        if saved["mode"] == "fusion" and not fusion_dir:
            raise ValueError(f"{router_dir}: trained on fused query vectors (feat=on); give its fusion folder (--fusion)")
        if saved["mode"] == "mean_pooled" and fusion_dir:
            raise ValueError(f"{router_dir}: trained on mean-pooled encoder states (feat=off); do not give a fusion folder")
        if max_length is not None and max_length != saved["max_length"] and saved["mode"] == "mean_pooled":
            raise ValueError(f"{router_dir}: trained with max_length {saved['max_length']}, got {max_length}")
        max_length, truncation = saved["max_length"], saved["truncation"]
    router.features = QueryFeatures(encoder_dir, fusion_dir, max_length, truncation=truncation)
    return router


def calibrate_threshold(scores: np.ndarray, strong_percent: float) -> float:
    """The threshold that sends `strong_percent` % of the calibration prompts to the strong model
    (RouteLLM's calibrate_threshold: the (1 - p) quantile of the strong win rates)."""
    if not 0.0 <= strong_percent <= 100.0:
        raise ValueError(f"strong_percent must be within [0, 100], got {strong_percent}")
    if len(scores) == 0:
        raise ValueError("calibration needs at least one prompt")
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - strong_percent / 100.0))


def route(scores: np.ndarray, threshold: float) -> np.ndarray:
    """True where the strong model is called (score >= threshold, as RouteLLM's Router.route)."""
    return np.asarray(scores) >= threshold


def calibration_prompts(corpus_path: str | Path, limit: int | None = None, seed: int = 0) -> list[str]:
    """Prompts of the corpus' validation split (every row when the file has no `split` column)."""
    table = pl.read_parquet(corpus_path)
    if "prompt" not in table.columns:
        raise ValueError(f"{corpus_path}: no `prompt` column; columns are {table.columns}")
    prompts = validation_rows(table)["prompt"].unique(maintain_order=True)
    if limit is not None and len(prompts) > limit:
        prompts = prompts.sample(limit, seed=seed)
    return prompts.to_list()


def single_prompt_latency(router: RAGRouter, prompts: Sequence[str]) -> dict[str, float]:
    """Seconds to route one prompt at a time (features, retrieval, classifier), p50 and p95 over
    `prompts`: what a request to a router server costs, where `timed_scores` measures batches."""
    seconds = []
    with torch.inference_mode():
        for prompt in prompts:
            start = time.perf_counter()
            router.strong_win_rates([prompt])
            seconds.append(time.perf_counter() - start)
    p50, p95 = np.percentile(seconds, [50, 95]) if seconds else (float("nan"), float("nan"))
    logger.info(f"route: single-prompt latency over {len(seconds)} prompts: p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms")
    return {"latency_prompts": len(seconds), "latency_p50_ms": 1000 * float(p50), "latency_p95_ms": 1000 * float(p95)}


def timed_scores(router: RAGRouter, prompts: Sequence[str]) -> tuple[np.ndarray, float, float]:
    """Strong win rates, the prompts/s of the whole path (features, retrieval, classifier) and the
    share of that time spent on the query vectors."""
    features_before = getattr(router.features, "seconds", 0.0)
    start = time.perf_counter()
    with torch.inference_mode():
        scores = router.strong_win_rates(list(prompts))
    elapsed = max(time.perf_counter() - start, 1e-9)
    features_share = (getattr(router.features, "seconds", 0.0) - features_before) / elapsed
    rate = len(prompts) / elapsed
    logger.info(f"route: {len(prompts)} prompts in {elapsed:.1f} s ({rate:.1f} prompts/s, {torch.get_num_threads()} threads; {100 * features_share:.0f}% on query vectors)")
    return scores, rate, features_share
