"""Training stage: one dispatcher that trains any configured router kind and saves its checkpoint.

Router kinds and what they train on:
- `sw_ranking`, `matrix_factorization`, `p2l`: battles + corpus, on cached sentence embeddings;
- `bert`, `causal_llm`: the corpus' labels, fine-tuning a local backbone folder.
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.features import CachedEncoder, SentenceEncoder, load_embeddings
from ragrouter.io import atomic_dir
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
    """Write the router's checkpoint folder atomically.

    Routers holding a fine-tuned torch model save a Hugging Face folder with router.json (their own
    `save`); the others are pickled into router.pkl.
    """
    if type(router).save is not Router.save:
        router.save(out_dir)
        return
    with atomic_dir(out_dir) as staging:
        router.save(staging / CHECKPOINT)


def load_checkpoint(out_dir: str | Path) -> Router:
    """Load a checkpoint written by `save_checkpoint`, dispatching on router.json's kind."""
    out_dir = Path(out_dir)
    meta = out_dir / "router.json"
    if meta.is_file():
        kind = json.loads(meta.read_text())["kind"]
        return importlib.import_module(f"ragrouter.routers.{kind}").load(out_dir)
    return Router.load(out_dir / CHECKPOINT)


def attach_embeddings(router: Router, embedding_files: Sequence[str | Path]) -> None:
    """Give an embedding-based router the precomputed embeddings of the prompts it will score."""
    encoder = getattr(router, "encoder", None)
    if isinstance(encoder, CachedEncoder):
        for path in embedding_files:
            encoder.add(load_embeddings(path))
