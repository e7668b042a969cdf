"""Source selection: the training rows worth rewriting (English prose of moderate length, no code,
never a validation prompt).

Stage: RAGRouter step 1, augmentation. Reads the corpus; returns the eligible train rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl
from loguru import logger

from ragrouter.method.augment.guards import code_line_share, looks_english
from ragrouter.method.augment.params import DEFAULT_PARAMS, merge_params


def _selection_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Accept either the full augmentation params or just their `selection` mapping."""
    if params and set(params) <= set(DEFAULT_PARAMS["selection"]) and not set(params) & set(DEFAULT_PARAMS):
        return merge_params({"selection": params})["selection"]
    return merge_params(params)["selection"]


def select_sources(corpus: pl.DataFrame, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """The training rows worth augmenting, one per distinct prompt (first id wins).

    Quality criterion, all of which must hold:
    * split == "train" (validation rows are never sources, so no variant can leak into validation);
    * English (`looks_english`), `min_words` <= whitespace words <= `max_words`;
    * at most `max_code_line_share` of the lines are code (there is little prose to rewrite);
    * the prompt is not also a validation prompt, and, with `skip_proxy_pairs`, the row is labelled
      on the routed pair itself (a proxy-pair label is a less certain label to copy);
    * its source is in `sources` when that is given.
    """
    sel = _selection_params(params)
    if "split" not in corpus.columns:
        raise ValueError("select_sources: the corpus has no 'split' column (run assign_split first)")
    validation = set(corpus.filter(pl.col("split") != "train")["prompt"].to_list())
    train = corpus.filter(pl.col("split") == "train")
    n_train = train.height
    if sel["sources"] is not None:
        train = train.filter(pl.col("source").is_in(list(sel["sources"])))
    if sel["skip_proxy_pairs"]:
        train = train.filter((pl.col("strong_model") == sel["strong_model"]) & (pl.col("weak_model") == sel["weak_model"]))
    train = train.sort("id").unique(subset=["prompt"], keep="first", maintain_order=True)
    keep = []
    reasons: Counter[str] = Counter()
    for prompt in train["prompt"].to_list():
        n_words = len(prompt.split())
        if prompt in validation:
            reasons["also a validation prompt"] += 1
        elif not sel["min_words"] <= n_words <= sel["max_words"]:
            reasons["length"] += 1
        elif not looks_english(prompt, sel["min_ascii_letter_share"], sel["min_function_word_share"]):
            reasons["not English"] += 1
        elif code_line_share(prompt) > sel["max_code_line_share"]:
            reasons["code"] += 1
        else:
            keep.append(True)
            continue
        keep.append(False)
    selected = train.filter(pl.Series(keep, dtype=pl.Boolean)) if keep else train.clear()
    logger.info(
        f"select_sources: {selected.height} of {n_train} train rows selected "
        f"({train.height} distinct eligible prompts; dropped: {dict(reasons)})"
    )
    return selected
