"""RouteLLM's released routers as baselines: built by `routellm`'s own classes from its config
(hub ids or local folders) and scored prompt by prompt with `calculate_strong_win_rate`, as
RouteLLM's evaluation does. `routellm_server` goes the other way (our RAGRouter inside RouteLLM).

Stage: evaluation (rule `score_released_router`). Reads a RouteLLM router config; returns scores.

RouteLLM creates OpenAI clients when it is imported (for the embeddings of SW ranking and MF), and
the client raises without `OPENAI_API_KEY`. Routers that make no OpenAI call should not need a key,
so `routellm_routers()` sets a placeholder for the duration of that import only when none is set;
a released MF or SW router still needs a real key, or `embeddings_base_url` pointing at a local
OpenAI-compatible embeddings server.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

PLACEHOLDER_KEY = "not-needed-by-this-router"


@contextlib.contextmanager
def key_for_import() -> Iterator[None]:
    missing = "OPENAI_API_KEY" not in os.environ
    if missing:
        os.environ["OPENAI_API_KEY"] = PLACEHOLDER_KEY
    try:
        yield
    finally:
        if missing:
            os.environ.pop("OPENAI_API_KEY", None)


def routellm_routers():
    """`routellm.routers.routers` (its `Router`, `ROUTER_CLS`, `NAME_TO_CLS`), imported without a key."""
    with key_for_import():
        from routellm.routers import routers
    return routers


def released_router(kind: str, config: dict[str, Any], embeddings_base_url: str | None = None):
    """One of RouteLLM's own routers (`mf`, `bert`, `causal_llm`, `sw_ranking`, `random`) built by its
    own class from `config` (RouteLLM's per-router YAML entry: hub ids or local directories).
    `embeddings_base_url`: an OpenAI-compatible server for the prompt embeddings MF and SW ranking ask for."""
    rr = routellm_routers()
    if kind not in rr.ROUTER_CLS:
        raise ValueError(f"routellm router {kind!r}: RouteLLM has {sorted(rr.ROUTER_CLS)}")
    if embeddings_base_url is not None:  # the one client RouteLLM's modules share, made at import
        rr.OPENAI_CLIENT.base_url = embeddings_base_url
    return rr.ROUTER_CLS[kind](**config)


def released_router_scores(kind: str, config: dict[str, Any], prompts: Sequence[str], embeddings_base_url: str | None = None) -> np.ndarray:
    """`calculate_strong_win_rate` of a released router on every prompt (RouteLLM's evaluation path)."""
    import random

    from tqdm import tqdm

    router = released_router(kind, config, embeddings_base_url)
    random.seed(0)  # RouteLLM's random router draws from Python's generator: the same file every run
    return np.array([float(router.calculate_strong_win_rate(p)) for p in tqdm(prompts, desc=f"routellm {kind}", mininterval=10)], dtype=np.float64)


__all__ = ["PLACEHOLDER_KEY", "key_for_import", "released_router", "released_router_scores", "routellm_routers"]
