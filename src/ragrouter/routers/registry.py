"""Router registry: which module trains and loads each router kind, and the checkpoint format.

Stage: training and scoring of every router (rules `train_router`, `score_router`, `train_ragrouter`).
Reads a training corpus (and battles) and writes `resources/routers/<router>/seed-<k>/`.
The kind tables live in `ragrouter.routers.kinds`, which the Snakefile reads while it parses.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from loguru import logger

from ragrouter.common.embeddings import CachedEncoder, SentenceEncoder, load_embeddings
from ragrouter.common.io import atomic_dir
from ragrouter.common.seeding import seed_everything
from ragrouter.routers.base import Router
from ragrouter.routers.kinds import BACKBONE_KINDS, CHECKPOINT_KINDS, CORPUS_KINDS

CHECKPOINT = "router.pkl"


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
    if kind in CORPUS_KINDS:
        return importlib.import_module(CORPUS_KINDS[kind]).train(corpus, battles, encoder, params, seed)
    if kind in BACKBONE_KINDS:
        return importlib.import_module(BACKBONE_KINDS[kind]).train(corpus, params, seed, str(model_dir))
    raise ValueError(f"unknown router kind {kind!r}; known: {sorted(CORPUS_KINDS) + sorted(BACKBONE_KINDS)}")


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
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"{meta}: unknown router kind {kind!r}; known: {sorted(CHECKPOINT_KINDS)}")
        return importlib.import_module(CHECKPOINT_KINDS[kind]).load(out_dir)
    return Router.load(out_dir / CHECKPOINT)


def attach_embeddings(router: Router, embedding_files: Sequence[str | Path]) -> None:
    """Give an embedding-based router the precomputed embeddings of the prompts it will score."""
    encoder = getattr(router, "encoder", None)
    if isinstance(encoder, CachedEncoder):
        for path in embedding_files:
            encoder.add(load_embeddings(path))
