"""Augmentation parameters: the defaults and the config overlay (unknown keys are errors).

Stage: RAGRouter step 1, augmentation (rule `augment_corpus`).
"""

from __future__ import annotations

import copy
from typing import Any

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL

# Where the LLM judge caches its answers (git-ignored like every intermediate; results/ holds
# outputs only). The workflow declares it as an input of augment_corpus (rules/common.smk).
JUDGE_CACHE_DIR = "resources/judge_cache"

DEFAULT_PARAMS: dict[str, Any] = {
    # Extra rows relative to the size of the corpus given to `augment_corpus` (thesis: 175k -> 225k,
    # +29 %). null = every variant the generators yield (used to measure yields).
    "target_ratio": 0.29,
    "labeling": "inherit",  # "inherit" (offline) | "judge" (OpenAI-compatible LLM judge)
    # Share of the target reserved for syntactic variants (they keep the meaning by construction but
    # are rarer: about one source in eight yields one); a kind that falls short leaves its share to
    # the other. Reaching it usually means parsing every source.
    "syntactic_share": 0.5,
    "syntactic_per_source": 2,  # at most this many syntactic variants per source query
    "semantic_per_source": 1,  # at most this many semantic variants per source query
    "batch_size": 64,  # nlp.pipe batch size
    "n_process": 1,  # nlp.pipe processes (the reference machine has 2 shared cores)
    "selection": {
        "min_words": 5,  # whitespace words; shorter prompts are mostly fragments or bare math
        "max_words": 300,  # longer ones are few-shot transcripts where one sentence matters little
        "min_ascii_letter_share": 0.95,  # English: share of letters that are ASCII
        "min_function_word_share": 0.08,  # English: share of common English function words
        "max_code_line_share": 0.2,  # code-heavy prompts have little prose to rewrite
        "skip_proxy_pairs": False,  # drop rows labelled on a proxy pair (e.g. routerdc-7models)
        "strong_model": STRONG_MODEL,  # the routed pair; other pairs are proxy pairs
        "weak_model": WEAK_MODEL,
        "sources": None,  # null = every source; else the list of sources eligible
    },
    "semantic": {
        "max_edits": 2,  # words (lemma groups) changed per semantic variant
        # Relative weights. Replacing a word by its hypernym is off by default: on the real corpus it
        # too often changes the question ("Earth's surface" -> "Earth's artifact"); the gloss keeps
        # the word and still adds the knowledge-graph relation.
        "operations": {"synonym": 1.0, "hypernym": 0.0, "expand": 0.5},
        "min_sense_share": 0.7,  # a polysemous word's first WordNet sense must hold this share of its uses
        "min_sense_count": 3,  # ... and be attested this often in SemCor (WordNet tag counts)
        "min_lemma_count": 1,  # a synonym must be attested in that sense this often
        "min_hypernym_depth": 4,  # no "entity", "object", "abstraction" as hypernyms
        # WordNet lexicographer files never touched: quantities and relations are the technical
        # vocabulary of math questions ("integer", "sum", "ratio"), where a near-synonym is wrong.
        "skip_lexnames": ["noun.quantity", "noun.relation"],
    },
    # Unlabelled query files (only with labeling: judge): [{path, field, source}], e.g.
    # {path: ../shared/data/routellm-evals/gsm8k/train.jsonl, field: question, source: gsm8k-train}
    "unlabelled": [],
    "judge": {},  # `ragrouter.method.augment.judge.DEFAULT_JUDGE_PARAMS` overrides
}

AUGMENTATION_KINDS = ("none", "syntactic", "semantic", "judged")


def merge_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with `params` (one level of nesting); unknown keys fail loudly so a typo in
    the config does not silently fall back to a default."""
    merged = copy.deepcopy(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if key not in merged:
            raise ValueError(f"augmentation params: unknown key {key!r}; known: {sorted(merged)}")
        if isinstance(merged[key], dict) and key != "judge":
            if not isinstance(value, dict):
                raise ValueError(f"augmentation params: {key!r} must be a mapping")
            for sub in value:
                if sub not in merged[key]:
                    raise ValueError(f"augmentation params: unknown key {key}.{sub}; known: {sorted(merged[key])}")
            merged[key].update(copy.deepcopy(value))
        else:
            merged[key] = copy.deepcopy(value)
    if merged["labeling"] not in ("inherit", "judge"):
        raise ValueError(f"augmentation params: labeling must be 'inherit' or 'judge', got {merged['labeling']!r}")
    return merged
