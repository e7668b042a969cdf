"""Control router `prompt_length`: the prompt's word count as the routing score (longer prompts go
to the strong model). It learns nothing, so a trained router that does not beat it has learned
nothing about difficulty that a word count does not already say.

Stage: controls (rules `train_router`, `score_router`, like every router). Reads nothing to train;
scores any prompt list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ragrouter.routers.base import Router


def word_counts(prompts: Sequence[str]) -> np.ndarray:
    """Whitespace-separated words per prompt."""
    return np.array([len(p.split()) for p in prompts], dtype=np.float64)


class PromptLengthRouter(Router):
    """Score = n / (n + 1) for n words: monotone in the word count (so the same routing as the word
    count itself) and inside [0, 1) like a win rate."""

    def strong_win_rates(self, prompts: Sequence[str]) -> np.ndarray:
        n = word_counts(prompts)
        return n / (n + 1.0)


def train(corpus: pl.DataFrame, battles: pl.DataFrame, encoder, params: dict | None, seed: int) -> PromptLengthRouter:
    """Nothing to fit; the signature is every corpus router's."""
    if params:
        raise ValueError(f"prompt_length: takes no params, got {sorted(params)}")
    return PromptLengthRouter()
