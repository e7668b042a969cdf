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

from ragrouter.common.embeddings import CachedEncoder, PooledEncoder, SentenceEncoder, load_embeddings
from ragrouter.common.io import atomic_dir
from ragrouter.common.seeding import seed_everything
from ragrouter.data.corpus import TRAIN_CAP, cap_train_rows
from ragrouter.routers.base import Router
from ragrouter.routers.kinds import BACKBONE_KINDS, CHECKPOINT_KINDS, router_module

CHECKPOINT = "router.pkl"


def split_train_cap(params: dict) -> tuple[int | None, dict]:
    """A router's `TRAIN_CAP` (a training-only param of every kind, applied by `train_router`) and its other params."""
    return params.get(TRAIN_CAP), {k: v for k, v in params.items() if k != TRAIN_CAP}


def make_encoder(model_dir: str | Path, embedding_files: Sequence[str | Path], settings: dict | None = None) -> CachedEncoder:
    """The embedding routers' encoder: the cached files first, then the model that made them
    (`embedding.from_fusion`: the fusion encoder's mean-pooled states, with its `truncation`)."""
    settings = settings or {}
    if settings.get("from_fusion"):
        from ragrouter.method.fusion import feature_settings

        tokenisation = feature_settings(settings.get("fusion"), fused=False)
        encoder = PooledEncoder(model_dir, tokenisation["max_length"], tokenisation["truncation"], settings.get("batch_size", 64))
    else:
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
    """`params` may hold `max_train_rows_per_source` (any kind): the router trains on a seeded sample
    of at most that many train rows per source (`data.corpus.cap_train_rows`, the training seed), where
    its validation learning curve shows that more rows cost it nothing."""
    cap, params = split_train_cap(params)
    corpus, battles = cap_train_rows(corpus, battles, cap, seed)
    seed_everything(seed)
    logger.info(f"training {kind} (seed {seed}) on {corpus.filter(pl.col('split') == 'train').height} train / {corpus.filter(pl.col('split') == 'validation').height} validation rows, {battles.height} battles; params {params}")
    module = importlib.import_module(router_module(kind))
    if kind in BACKBONE_KINDS:
        return module.train(corpus, params, seed, str(model_dir))
    return module.train(corpus, battles, encoder, params, seed)


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


def check_checkpoint_settings(out_dir: str | Path, kind: str, params: dict) -> None:
    """A backbone router's checkpoint must have been trained with the settings `params` (the
    configured ones) give now: max length, truncation, label scheme or prompt. A mismatch (e.g. a
    checkpoint kept from another config) is an error, not a silent use of the saved values."""
    if kind not in BACKBONE_KINDS:
        return
    meta_path = Path(out_dir) / "router.json"
    saved = json.loads(meta_path.read_text())
    expected = importlib.import_module(BACKBONE_KINDS[kind]).expected_settings(split_train_cap(params)[1])
    wrong = {k: (saved.get(k), v) for k, v in expected.items() if saved.get(k) != v}
    if wrong:
        detail = "; ".join(f"{k}: trained with {was!r}, configured {now!r}" for k, (was, now) in wrong.items())
        raise ValueError(f"{meta_path}: checkpoint settings differ from the configuration ({detail}); retrain it")


def attach_embeddings(router: Router, embedding_files: Sequence[str | Path]) -> None:
    """Give an embedding-based router the precomputed embeddings of the prompts it will score."""
    encoder = getattr(router, "encoder", None)
    if isinstance(encoder, CachedEncoder):
        for path in embedding_files:
            encoder.add(load_embeddings(path))
