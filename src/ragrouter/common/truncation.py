"""Token truncation, one rule for every model input (fusion features, perplexity, classifiers).

"right" keeps the head, "left" keeps the tail, "middle" keeps the first and last halves: few-shot
prompts put the instruction first and the real question last, so both survive.
"""

from __future__ import annotations

from collections.abc import Sequence

TRUNCATION_MODES = ("right", "left", "middle")


def check_truncation(mode: str, where: str = "truncation") -> None:
    if mode not in TRUNCATION_MODES:
        raise ValueError(f"{where}: truncation must be one of {TRUNCATION_MODES}, got {mode!r}")


def kept_positions(n: int, budget: int, mode: str) -> list[int]:
    """Positions kept when `n` tokens must fit `budget` tokens under `mode`."""
    check_truncation(mode)
    budget = max(budget, 0)
    if n <= budget:
        return list(range(n))
    if mode == "right":
        return list(range(budget))
    if mode == "left":
        return list(range(n - budget, n))
    head = (budget + 1) // 2
    return list(range(head)) + list(range(n - (budget - head), n))


def truncate_ids(ids: Sequence[int], budget: int, mode: str) -> list[int]:
    """`ids` cut to `budget` tokens under `mode`."""
    ids = list(ids)
    return [ids[k] for k in kept_positions(len(ids), budget, mode)]
