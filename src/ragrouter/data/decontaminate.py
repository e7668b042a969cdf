"""Remove every training prompt that equals or near-duplicates an evaluation prompt.

Stage: data (rules `build_corpus`, `augment_corpus`). Reads the evaluation prompts; filters tables.

Two tests, both on normalised text (lower case, punctuation dropped, whitespace collapsed):
exact equality, and any shared word n-gram (n = 13 by default, the GPT-3 contamination test).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl
from loguru import logger

_NON_WORD = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()


def ngrams(words: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(words[i : i + n]) for i in range(len(words) - n + 1))


class EvalIndex:
    """Normalised texts and n-grams of all evaluation prompts, for fast membership tests."""

    def __init__(self, eval_prompts: Iterable[str], n: int = 13) -> None:
        self.n = n
        self.texts: set[str] = set()
        self.grams: set[tuple[str, ...]] = set()
        for prompt in eval_prompts:
            norm = normalise(prompt)
            self.texts.add(norm)
            self.grams.update(ngrams(norm.split(), n))

    def reason(self, prompt: str) -> str | None:
        """Why `prompt` is contaminated ("exact" / "ngram"), or None if it is clean."""
        norm = normalise(prompt)
        if norm in self.texts:
            return "exact"
        if any(g in self.grams for g in ngrams(norm.split(), self.n)):
            return "ngram"
        return None


def decontaminate(df: pl.DataFrame, index: EvalIndex, what: str = "corpus") -> pl.DataFrame:
    """Drop contaminated rows of `df` (column `prompt`) and log counts per source and reason."""
    by_prompt = {p: index.reason(p) for p in df["prompt"].unique().to_list()}  # battles repeat prompts
    reasons = [by_prompt[p] for p in df["prompt"].to_list()]
    flagged = df.with_columns(pl.Series("_reason", reasons, dtype=pl.String))
    dropped = flagged.filter(pl.col("_reason").is_not_null())
    by = "source" if "source" in df.columns else None
    if dropped.height:
        counts = dropped.group_by([by, "_reason"] if by else ["_reason"]).len().sort(pl.all())
        for rec in counts.iter_rows(named=True):
            logger.info(f"decontaminate {what}: dropped {rec['len']} rows" + (f" of {rec[by]}" if by else "") + f" ({rec['_reason']} match)")
    logger.info(f"decontaminate {what}: {df.height} rows in, {df.height - dropped.height} kept, {dropped.height} dropped")
    return flagged.filter(pl.col("_reason").is_null()).drop("_reason")
