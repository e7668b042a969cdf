"""RouteLLM's similarity-weighted (SW) ranking router, retrained offline on the battle table.

Stage: baseline routers (rules `train_router`, `score_router`). Reads battles, corpus and embeddings.

Method (RouteLLM `SWRankingRouter` + `similarity_weighted/utils.py`):

1. Fit Bradley-Terry ratings with ties (ties = half a win for each side, RouteLLM's doubled-row
   logistic regression) to every training battle of every model.
2. Group the models into `num_tiers` tiers: contiguous groups of the rating order that minimise the
   summed within-tier variance (RouteLLM's `compute_tiers` dynamic programme), and relabel every
   battle by the tiers of its two models.
3. For a query prompt, weight each battle by `10 * 10 ** (s * sim / max_sim)`, where `sim` is the cosine
   similarity of the query to the battle's prompt, `max_sim` the largest such similarity and s the
   similarity sharpness (RouteLLM: s = 1), refit
   the tier ratings with these weights, and return the strong tier's BT win probability over the
   weak tier: `sigmoid(theta_strong_tier - theta_weak_tier)` (RouteLLM's
   `1 - 1 / (1 + 10 ** ((elo_gpt4 - elo_mixtral) / 400))`).

Deliberate difference from RouteLLM: battles between two models of the same tier are dropped.
They carry no information about tier differences; RouteLLM keeps them, but its design matrix then
holds only `-ln 10` in that tier's column (the `model_b` assignment overwrites the `model_a` one), so
they pull each tier's rating toward an arbitrary anchor that depends on the A/B order of the battle.

Fast path: battles are aggregated once per unique training prompt into weighted-win and count
columns per tier pair, so one weighted fit is `weights @ counts` followed by a Newton BT fit over
the tiers, batched over many query prompts (`fit_bt`). `reference_strong_win_rates` does the same
computation the straightforward way (per battle, sklearn logistic regression with sample weights,
as RouteLLM) and is used by the tests to check the fast path.

Params (config `routers.sw_ranking`, all optional):

| key          | default | meaning                                                                        |
|--------------|---------|--------------------------------------------------------------------------------|
| num_tiers    | [10, 15, 20] | tiers (RouteLLM: 10); a list is a validation grid: the candidate with the best routed-pair ROC-AUC on the validation prompts is kept |
| similarity_sharpness | 1  | s in the battle weights (RouteLLM: 1; the weight of the nearest battle prompt over an orthogonal one is 10 ** s); a list is a grid searched with `num_tiers` (ties: smaller s, then `num_tiers` as listed) |
| batch_size   | 512     | query prompts per batched fit                                                 |
| max_iter     | 100     | Newton iterations per batched fit (it stops earlier at `tol`)                  |
| tol          | 1e-9    | stop when the largest rating update is below this (natural-log units)          |
| label_battles | none  | "added" / "only": the corpus labels as routed-pair battles beside / instead of the table's (`battle_training.with_label_battles`) |
| strong_model | gpt-4-1106-preview                    | routed strong model                     |
| weak_model   | mistralai/Mixtral-8x7B-Instruct-v0.1  | routed weak model                       |

The grid starts at RouteLLM's 10. Candidates that put the strong and the weak model into one tier
(the score would be a constant 0.5) are skipped: with 128 models of very different battle counts
this happens to 10 tiers on some subsets of the battle table (it did on a 3,500-prompt subsample,
where 15 tiers won), not on the full training split.
"""

from __future__ import annotations

import math
import time

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.seeding import seed_everything
from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.routers.base import EmbeddingRouter
from ragrouter.routers.battle_training import routed_validation, train_split, with_label_battles
from ragrouter.routers.bradley_terry import (
    aggregate_pairs,
    check_battles,
    compute_tiers,
    fit_bt,
    fit_bt_battles,
    sigmoid,
)

DEFAULTS = {
    "num_tiers": [10, 15, 20],
    "similarity_sharpness": 1.0,
    "batch_size": 512,
    "max_iter": 100,
    "tol": 1e-9,
    "label_battles": "none",  # `battle_training.with_label_battles`
    "strong_model": STRONG_MODEL,
    "weak_model": WEAK_MODEL,
    "validation_metric": "per_source",  # choices by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
}


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def similarity_weights(sims: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """RouteLLM's battle weights `10 * 10 ** (sim / max_sim)`, row-wise for (queries, battles)
    similarities, with the exponent times `sharpness` (1: RouteLLM's).

    The exponent is clipped to [-50, 50] so a query with no positive similarity (max_sim <= 0, never
    seen with sentence embeddings) gives finite weights instead of overflowing.
    """
    sims = np.asarray(sims, dtype=np.float64)
    max_sim = sims.max(axis=1, keepdims=True)
    max_sim = np.where(np.abs(max_sim) < 1e-12, 1e-12, max_sim)
    return 10.0 * 10.0 ** np.clip(sharpness * sims / max_sim, -50.0, 50.0)


class SWRankingRouter(EmbeddingRouter):
    """Similarity-weighted BT over model tiers; `strong_win_rates` needs only the encoder and the
    aggregated training battles stored here (no battle table, no torch weights)."""

    similarity_sharpness: float = 1.0  # routers pickled before the parameter existed used RouteLLM's

    def __init__(
        self,
        encoder,
        prompt_embeddings: np.ndarray,
        tiers: dict[str, int],
        num_tiers: int,
        pair_i: np.ndarray,
        pair_j: np.ndarray,
        wins: np.ndarray,
        totals: np.ndarray,
        init: np.ndarray,
        strong_model: str = STRONG_MODEL,
        weak_model: str = WEAK_MODEL,
        batch_size: int = 512,
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        self.encoder = encoder
        self.prompt_embeddings = _normalise(prompt_embeddings)
        self.tiers = dict(tiers)
        self.num_tiers = int(num_tiers)
        self.pair_i, self.pair_j = np.asarray(pair_i), np.asarray(pair_j)
        self.wins, self.totals = np.asarray(wins, dtype=np.float64), np.asarray(totals, dtype=np.float64)
        self.init = np.asarray(init, dtype=np.float64)
        self.strong_model, self.weak_model = strong_model, weak_model
        self.strong_tier, self.weak_tier = self.tiers[strong_model], self.tiers[weak_model]
        self.batch_size, self.max_iter, self.tol = int(batch_size), int(max_iter), float(tol)

    @property
    def _reference_embeddings(self) -> np.ndarray:
        """float64 copy of the battle prompt embeddings (not pickled): float64 similarities make a
        query's score independent of the batch it is scored in."""
        cached = self.__dict__.get("_emb64")
        if cached is None:
            cached = self.__dict__["_emb64"] = self.prompt_embeddings.astype(np.float64)
        return cached

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_emb64"}

    def tier_ratings_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Similarity-weighted BT tier ratings (queries, num_tiers) for query embeddings."""
        embeddings = _normalise(np.atleast_2d(embeddings)).astype(np.float64)
        out = np.zeros((len(embeddings), self.num_tiers))
        for start in range(0, len(embeddings), self.batch_size):
            sims = embeddings[start : start + self.batch_size] @ self._reference_embeddings.T
            weights = similarity_weights(sims, self.similarity_sharpness)
            wins, totals = weights @ self.wins, weights @ self.totals
            theta, _ = fit_bt(self.pair_i, self.pair_j, wins, totals, self.num_tiers, init=self.init, max_iter=self.max_iter, tol=self.tol)
            out[start : start + len(theta)] = theta
        return out

    def strong_win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        theta = self.tier_ratings_from_embeddings(embeddings)
        return sigmoid(theta[:, self.strong_tier] - theta[:, self.weak_tier])



def _as_grid(value) -> list:
    """A param's candidates: a list or tuple as it is, one value as a grid of one."""
    return list(value) if isinstance(value, list | tuple) else [value]


def _build(encoder, prompt_emb: np.ndarray, battles: pl.DataFrame, prompt_index: np.ndarray, tiers: dict[str, int], num_tiers: int, params: dict) -> SWRankingRouter:
    a = np.array([tiers[m] for m in battles["model_a"].to_list()], dtype=np.int64)
    b = np.array([tiers[m] for m in battles["model_b"].to_list()], dtype=np.int64)
    counts = aggregate_pairs(prompt_index, a, b, battles["winner"].to_numpy(), tie_mode="half")
    pairs = sorted(set(zip(counts.i.tolist(), counts.j.tolist(), strict=True)))
    column = {p: k for k, p in enumerate(pairs)}
    cols = np.array([column[p] for p in zip(counts.i.tolist(), counts.j.tolist(), strict=True)], dtype=np.int64)
    wins = np.zeros((len(prompt_emb), len(pairs)))
    totals = np.zeros((len(prompt_emb), len(pairs)))
    np.add.at(wins, (counts.group, cols), counts.wins)
    np.add.at(totals, (counts.group, cols), counts.total)
    pair_i = np.array([p[0] for p in pairs], dtype=np.int64)
    pair_j = np.array([p[1] for p in pairs], dtype=np.int64)
    init, iters = fit_bt(pair_i, pair_j, wins.sum(0), totals.sum(0), num_tiers, max_iter=200)
    logger.info(
        f"sw_ranking: {num_tiers} tiers, {len(pairs)} tier pairs with battles, "
        f"{int(totals.sum())} cross-tier battles ({battles.height - int(totals.sum())} same-tier dropped); "
        f"unweighted tier fit converged in {iters} Newton steps"
    )
    return SWRankingRouter(
        encoder,
        prompt_emb,
        tiers,
        num_tiers,
        pair_i,
        pair_j,
        wins,
        totals,
        init,
        strong_model=params["strong_model"],
        weak_model=params["weak_model"],
        batch_size=params["batch_size"],
        max_iter=params["max_iter"],
        tol=params["tol"],
    )


def train(corpus: pl.DataFrame, battles: pl.DataFrame, encoder, params: dict | None, seed: int) -> SWRankingRouter:
    """Fit model ratings and tiers on the training battles and keep the aggregated battles.

    `corpus` supplies the validation labels used to pick `num_tiers` when it is a list.
    """
    params = {**DEFAULTS, **(params or {})}
    seed_everything(seed)  # the fit is deterministic; seeded for uniformity
    started = time.perf_counter()
    strong, weak = params["strong_model"], params["weak_model"]
    battles = check_battles(train_split(with_label_battles(battles, corpus, strong, weak, params["label_battles"])))
    if battles.height == 0:
        raise ValueError("sw_ranking: no training battles")
    ratings = fit_bt_battles(battles)
    for model in (strong, weak):
        if model not in ratings:
            raise ValueError(f"sw_ranking: routed model {model!r} has no training battles")
    order = sorted(ratings, key=lambda m: -ratings[m])
    logger.info(
        f"sw_ranking: {battles.height} training battles, {len(ratings)} models, "
        f"{battles['prompt'].n_unique()} unique prompts; BT rank of {strong}: {order.index(strong) + 1}, "
        f"of {weak}: {order.index(weak) + 1}; Elo gap {400 / math.log(10) * (ratings[strong] - ratings[weak]):.1f}"
    )
    prompts = battles["prompt"].unique(maintain_order=True)
    prompt_pos = {p: k for k, p in enumerate(prompts.to_list())}
    prompt_index = np.array([prompt_pos[p] for p in battles["prompt"].to_list()], dtype=np.int64)
    t0 = time.perf_counter()
    prompt_emb = encoder.encode(prompts.to_list())
    logger.info(f"sw_ranking: embedded {len(prompts)} battle prompts in {time.perf_counter() - t0:.1f}s")

    grid, sharpness_grid = _as_grid(params["num_tiers"]), [float(s) for s in _as_grid(params["similarity_sharpness"])]
    val = routed_validation(corpus, strong, weak)
    choosing = len(val) > 0 and len(grid) * len(sharpness_grid) > 1
    val_emb = encoder.encode(val.prompts) if choosing else None
    routers, seen = [], set()
    for num_tiers in grid:
        tiers = compute_tiers(ratings, int(num_tiers))
        num_tiers = max(tiers.values()) + 1  # fewer models than tiers: one model per tier
        if tiers[strong] == tiers[weak]:
            logger.info(f"sw_ranking: num_tiers={num_tiers} puts {strong} and {weak} in one tier; skipped")
            continue
        if num_tiers in seen:
            continue
        seen.add(num_tiers)
        routers.append(_build(encoder, prompt_emb, battles, prompt_index, tiers, num_tiers, params))
        if not choosing:
            break
    if not routers:
        raise ValueError(f"sw_ranking: every num_tiers in {grid} puts {strong} and {weak} in one tier")
    candidates = [(sharpness, router) for sharpness in sharpness_grid for router in routers]  # ties: smaller s, then num_tiers as listed
    chosen = 0
    if choosing:
        aucs = []
        for sharpness, router in candidates:
            router.similarity_sharpness = sharpness
            aucs.append(val.auc(router.strong_win_rates_from_embeddings(val_emb), params["validation_metric"]))
            logger.info(f"sw_ranking: num_tiers={router.num_tiers}, similarity_sharpness={sharpness:g}: validation ROC-AUC ({params['validation_metric']}) {aucs[-1]:.4f} on {len(val)} routed-pair prompts")
        chosen = int(np.argmax(aucs))
    sharpness, best = candidates[chosen]
    best.similarity_sharpness = sharpness
    if len(val):
        if val_emb is None:
            val_emb = encoder.encode(val.prompts)
        logger.info(f"sw_ranking: chose num_tiers={best.num_tiers}, similarity_sharpness={best.similarity_sharpness:g}; validation ({len(val)} prompts) {val.summary(best.strong_win_rates_from_embeddings(val_emb))}")
    logger.info(f"sw_ranking: trained in {time.perf_counter() - started:.1f}s")
    return best


def reference_strong_win_rates(router: SWRankingRouter, battles: pl.DataFrame, query_embeddings: np.ndarray) -> np.ndarray:
    """The straightforward computation, one query at a time, exactly as RouteLLM does it: one row per
    battle (doubled: a win is two wins, a tie one win each), features +-ln(10) on the tiers, sklearn
    `LogisticRegression(fit_intercept=False, penalty=None)` with per-battle similarity weights.

    `battles` must be the training battles `router` was trained on (same-tier battles are dropped, as
    in the fast path). Slow: for tests and spot checks only.
    """
    from sklearn.linear_model import LogisticRegression

    battles = check_battles(train_split(battles))
    ta = np.array([router.tiers[m] for m in battles["model_a"].to_list()])
    tb = np.array([router.tiers[m] for m in battles["model_b"].to_list()])
    cross = ta != tb
    battles, ta, tb = battles.filter(pl.Series(cross)), ta[cross], tb[cross]
    emb = _normalise(router.encoder.encode(battles["prompt"].to_list()))
    n, t = battles.height, router.num_tiers
    x = np.zeros((2 * n, t))
    rows = np.arange(2 * n)
    x[rows, np.concatenate([ta, ta])] = math.log(10.0)
    x[rows, np.concatenate([tb, tb])] = -math.log(10.0)
    winner = battles["winner"].to_numpy()
    y = np.concatenate([(winner == "model_a") | (winner == "tie"), winner == "model_a"]).astype(np.float64)
    out = []
    for q in _normalise(np.atleast_2d(query_embeddings)):
        weights = similarity_weights((emb @ q)[None, :], router.similarity_sharpness)[0]
        lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100_000)  # C=inf: unpenalised
        lr.fit(x, y, sample_weight=np.concatenate([weights, weights]))
        elo = 400.0 * lr.coef_[0] + 1000.0
        weak_rate = 1.0 / (1.0 + 10.0 ** ((elo[router.strong_tier] - elo[router.weak_tier]) / 400.0))
        out.append(1.0 - weak_rate)
    return np.array(out)
