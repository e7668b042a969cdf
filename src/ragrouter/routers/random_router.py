"""RouteLLM's random router: a uniform score per prompt, averaged over 10 iterations.

Stage: scoring (rule `score_random`). Reads the benchmark; writes its 10 iteration score files.
"""

from __future__ import annotations

import random

import numpy as np


def random_iterations(n_prompts: int, iterations: int = 10, seed: int = 0) -> list[np.ndarray]:
    """As RouteLLM's evaluate.py: `random.seed(0)` once, then per iteration one
    `random.uniform(0, 1)` per prompt in benchmark order."""
    random.seed(seed)
    return [np.array([random.uniform(0, 1) for _ in range(n_prompts)]) for _ in range(iterations)]
