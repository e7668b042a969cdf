"""Training stage: one dispatcher that trains any configured router kind and saves its checkpoint.

Router kinds and what they train on:
- `sw_ranking`, `matrix_factorization`, `p2l`: battles + corpus, on cached sentence embeddings;
- `bert`, `causal_llm`: the corpus' labels, fine-tuning a local backbone folder.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.features import CachedEncoder, SentenceEncoder, load_embeddings
from ragrouter.routers.base import Router

EMBEDDING_KINDS = {"sw_ranking": "sw_ranking", "matrix_factorization": "matrix_factorization", "p2l": "p2l"}
BACKBONE_KINDS = {"bert": "bert_classifier", "causal_llm": "causal_llm"}
CHECKPOINT = "router.pkl"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_encoder(model_dir: str | Path, embedding_files: Sequence[str | Path], settings: dict | None = None) -> CachedEncoder:
    settings = settings or {}
    encoder = SentenceEncoder(model_dir, settings.get("max_length", 256), settings.get("batch_size", 64))
    return CachedEncoder(encoder, embedding_files)


def train_router(
    kind: str,
    corpus: pl.DataFrame,
    battles: pl.DataFrame,
    params: dict,
    seed: int,
    model_dir: str | Path,
    encoder: CachedEncoder | None = None,
) -> Router:
    seed_everything(seed)
    logger.info(f"training {kind} (seed {seed}) on {corpus.filter(pl.col('split') == 'train').height} train / {corpus.filter(pl.col('split') == 'validation').height} validation rows, {battles.height} battles; params {params}")
    if kind in EMBEDDING_KINDS:
        module = importlib.import_module(f"ragrouter.routers.{EMBEDDING_KINDS[kind]}")
        return module.train(corpus, battles, encoder, params, seed)
    if kind in BACKBONE_KINDS:
        module = importlib.import_module(f"ragrouter.routers.{BACKBONE_KINDS[kind]}")
        return module.train(corpus, params, seed, str(model_dir))
    raise ValueError(f"unknown router kind {kind!r}; known: {sorted(EMBEDDING_KINDS) + sorted(BACKBONE_KINDS)}")


def save_checkpoint(router: Router, out_dir: str | Path) -> None:
    """Save into a fresh directory, renamed into place only when complete."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        router.save(staging / CHECKPOINT)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def load_checkpoint(out_dir: str | Path) -> Router:
    path = Path(out_dir) / CHECKPOINT
    return Router.load(path)


def attach_embeddings(router: Router, embedding_files: Sequence[str | Path]) -> None:
    """Give an embedding-based router the precomputed embeddings of the prompts it will score."""
    encoder = getattr(router, "encoder", None)
    if isinstance(encoder, CachedEncoder):
        for path in embedding_files:
            encoder.add(load_embeddings(path))
