"""Prompt features: sentence embeddings from a local encoder, cached by prompt hash.

Stage: features. Read by SW ranking, MF, P2L and the kNN control.

One pass of the encoder over all evaluation prompts costs minutes on 2 cores, so embeddings are
computed once per prompt set and every embedding-based router reads them: config `embedding:
{from_fusion: true}` reads the mean-pooled encoder states RAGRouter's `encode_features` already
computes (`resources/ragrouter/features/feat-off/<set>.parquet`, `prompt_sha1, vector`; new prompts
through `PooledEncoder`), otherwise rule `embed_prompts` writes `resources/embeddings/<set>.parquet`
(`prompt_sha1, embedding`; new prompts through `SentenceEncoder`). Both are L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from ragrouter.common.io import sha1_text, write_parquet
from ragrouter.data.validate import EMBEDDINGS, check_table


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local sentence-transformers folder."""

    def __init__(self, model_dir: str | Path, max_length: int = 256, batch_size: int = 64) -> None:
        self.model_dir = str(model_dir)
        self.max_length = max_length
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_dir, device="cpu")
            self._model.max_seq_length = self.max_length
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
        ).astype(np.float32)

    def __getstate__(self) -> dict:  # never pickle the torch model with a router
        return {**self.__dict__, "_model": None}


class PooledEncoder:
    """L2-normalised mean-pooled token states of an encoder folder, tokenised and truncated as
    RAGRouter's fusion encoder does (`fusion.mean_pooled_semantic`): the vectors of the feat=off
    feature files, for prompts no file holds."""

    def __init__(self, model_dir: str | Path, max_length: int, truncation: str, batch_size: int = 64) -> None:
        self.model_dir, self.max_length, self.truncation, self.batch_size = str(model_dir), max_length, truncation, batch_size
        self._encoder = None

    @property
    def dim(self) -> int:
        return int(self._load()[1].config.hidden_size)

    def _load(self):
        if self._encoder is None:
            from ragrouter.method.fusion import load_encoder

            self._encoder = load_encoder(self.model_dir)
        return self._encoder

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        from ragrouter.method.fusion import mean_pooled_semantic

        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalised(mean_pooled_semantic(list(texts), self._load(), self.max_length, self.batch_size, self.truncation, progress=progress))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_encoder": None}


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as sentence-transformers' Normalize module does."""
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class CachedEncoder:
    """An encoder that answers from precomputed embedding files first, by prompt sha1."""

    def __init__(self, encoder: SentenceEncoder | PooledEncoder, cache_files: Sequence[str | Path] = ()) -> None:
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}
        for path in cache_files:
            self.add(load_embeddings(path))

    def add(self, table: pl.DataFrame) -> None:
        vectors = np.asarray(table["embedding"].to_list(), dtype=np.float32)
        self.cache.update(zip(table["prompt_sha1"].to_list(), vectors, strict=True))

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        keys = [sha1_text(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if missing:  # only then load the model: importing sentence-transformers alone costs seconds
            out[missing] = self.encoder.encode([texts[i] for i in missing], progress=progress)
        for i, k in enumerate(keys):
            if k in self.cache:
                out[i] = self.cache[k]
        return out

    @property
    def dim(self) -> int:
        return len(next(iter(self.cache.values()))) if self.cache else self.encoder.dim

    def __getstate__(self) -> dict:  # the cache is run-specific; a saved router keeps only the encoder
        return {"encoder": self.encoder, "cache": {}}


def embed_prompts(prompts: Sequence[str], encoder: SentenceEncoder, path: str | Path) -> pl.DataFrame:
    """Embed unique prompts and write `prompt_sha1, embedding` (list[float32]) to parquet."""
    unique = list(dict.fromkeys(prompts))
    vectors = encoder.encode(unique, progress=True)
    table = pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in unique], "embedding": vectors.tolist()}).with_columns(
        pl.col("embedding").cast(pl.List(pl.Float32))
    )
    write_parquet(table, path)
    return table


def load_embeddings(path: str | Path) -> pl.DataFrame:
    """An embedding file, checked: one finite float32 vector per prompt sha1. A feat=off feature
    file (`vector`: rule encode_features' mean-pooled states) is read L2-normalised, as `PooledEncoder`
    embeds a new prompt."""
    table = pl.read_parquet(path)
    if "vector" in table.columns and "embedding" not in table.columns:
        vectors = l2_normalised(np.asarray(table["vector"].to_list(), dtype=np.float32).reshape(table.height, -1))
        table = table.select("prompt_sha1").with_columns(pl.Series("embedding", vectors.tolist(), dtype=pl.List(pl.Float32)))
    return check_table(table, EMBEDDINGS, str(path))
