"""Bradley-Terry maths shared by the battle-trained routers (SW ranking, matrix factorization, P2L):
battle checks, per-pair counts, the batched BT fit and RouteLLM's rating tiers (training loops that
use them: `ragrouter.routers.battle_training`).

Conventions used throughout:

* A battle is `model_a, model_b, winner` with winner in {"model_a", "model_b", "tie"}.
* Ratings `theta` are in natural-log units: P(i beats j) = sigmoid(theta_i - theta_j).
  RouteLLM's Elo scale is `elo = 400 / ln(10) * theta + 1000` (its logistic regression uses
  features of +-ln(10) and reports `400 * coef + 1000`), so win rates computed from either agree.
* Ties follow RouteLLM's `compute_elo_mle_with_tie`: every battle is counted twice; a win gives the
  winner both copies and a tie gives each side one. Up to a constant factor (which does not move
  the maximum-likelihood estimate) this is "a tie is half a win for each side".

The fitting routine `fit_bt` is a batched, damped Newton method on the pair-level sufficient
statistics (weighted wins and totals per pair), so many weighted fits over a small number of
items (RouteLLM's tiers) run as a handful of batched `T x T` solves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

WINNERS = ("model_a", "model_b", "tie")


def model_vocabulary(battles: pl.DataFrame) -> list[str]:
    """Every model that appears in the battle table, sorted (the model-id table of MF and P2L)."""
    return sorted(set(battles["model_a"].to_list()) | set(battles["model_b"].to_list()))


def check_battles(battles: pl.DataFrame, where: str = "battles") -> pl.DataFrame:
    """Validate the battle columns the routers use and drop self-battles."""
    for field in ["prompt", "model_a", "model_b", "winner"]:
        if field not in battles.columns:
            raise ValueError(f"{where}: missing column {field!r}")
    bad = battles.filter(~pl.col("winner").is_in(list(WINNERS)))
    if bad.height:
        raise ValueError(f"{where}: field 'winner' has unknown value {bad['winner'][0]!r} (expected one of {WINNERS})")
    return battles.filter(pl.col("model_a") != pl.col("model_b"))


@dataclass
class PairCounts:
    """Battles aggregated per (group, ordered pair i < j): `wins` = wins of i with ties as halves, `total` = battles.

    `group` is whatever the battles were grouped by (a prompt index, or 0 for one global table).
    """

    group: np.ndarray  # (K,) int
    i: np.ndarray  # (K,) int, i < j
    j: np.ndarray  # (K,) int
    wins: np.ndarray  # (K,) float: wins of i + 0.5 * ties
    total: np.ndarray  # (K,) float


def aggregate_pairs(group: np.ndarray, a: np.ndarray, b: np.ndarray, winner: Sequence[str] | np.ndarray, tie_mode: str = "half") -> PairCounts:
    """Aggregate battles into per-(group, pair) counts; `tie_mode` is "half" (a tie is half a win
    for each side, RouteLLM's SW ranking) or "drop" (ties are removed, RouteLLM's matrix factorization)."""
    if tie_mode not in ("half", "drop"):
        raise ValueError(f"tie_mode must be 'half' or 'drop', got {tie_mode!r}")
    group = np.asarray(group, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    winner = np.asarray(winner)
    a_wins = (winner == "model_a").astype(np.float64)
    tie = (winner == "tie").astype(np.float64)
    keep = a != b
    if tie_mode == "drop":
        keep &= tie == 0
    group, a, b, a_wins, tie = group[keep], a[keep], b[keep], a_wins[keep], tie[keep]
    swap = a > b
    i = np.where(swap, b, a)
    j = np.where(swap, a, b)
    score_a = a_wins + 0.5 * tie  # a's share of the battle
    wins_i = np.where(swap, 1.0 - score_a, score_a)
    frame = (
        pl.DataFrame({"group": group, "i": i, "j": j, "w": wins_i})
        .group_by(["group", "i", "j"])
        .agg(pl.col("w").sum().alias("wins"), pl.len().cast(pl.Float64).alias("total"))
        .sort(["group", "i", "j"])
    )
    return PairCounts(
        group=frame["group"].to_numpy(),
        i=frame["i"].to_numpy(),
        j=frame["j"].to_numpy(),
        wins=frame["wins"].to_numpy().astype(np.float64),
        total=frame["total"].to_numpy().astype(np.float64),
    )


def fit_bt(
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    wins: np.ndarray,
    total: np.ndarray,
    n_items: int,
    init: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    max_step: float = 2.0,
    ridge: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Maximum-likelihood Bradley-Terry ratings for a batch of weighted problems sharing one pair list.

    `wins`, `total` are (Q, K) (or (K,)): weighted wins of `pair_i[k]` over `pair_j[k]` (ties as
    halves) and weighted battle counts. Returns (ratings (Q, n_items) centred to mean 0, iterations).
    Only rating differences are identified; the centring fixes the free shift. `ridge` adds
    `ridge/2 * |theta|^2` (0: the plain MLE, as RouteLLM's unpenalised logistic regression).
    Newton steps are clipped to `max_step` in the max-norm, which keeps the (convex) iteration
    stable far from the optimum; near it the steps are full Newton steps (quadratic convergence).
    """
    single = np.ndim(wins) == 1
    wins = np.atleast_2d(np.asarray(wins, dtype=np.float64))
    total = np.atleast_2d(np.asarray(total, dtype=np.float64))
    q, _ = wins.shape
    pair_i = np.asarray(pair_i, dtype=np.int64)
    pair_j = np.asarray(pair_j, dtype=np.int64)
    theta = np.zeros((q, n_items)) if init is None else np.array(np.broadcast_to(init, (q, n_items)), dtype=np.float64)
    # incidence matrix: d = theta @ inc.T gives theta_i - theta_j per pair
    inc = np.zeros((len(pair_i), n_items))
    inc[np.arange(len(pair_i)), pair_i] += 1.0
    inc[np.arange(len(pair_i)), pair_j] -= 1.0
    scale = max(float(total.max(initial=0.0)), 1.0)
    jitter = 1e-12 * scale * np.eye(n_items)  # the Hessian is singular along the shift direction
    it = 0
    for it in range(1, max_iter + 1):
        d = theta @ inc.T
        p = 1.0 / (1.0 + np.exp(-d))
        grad = (wins - total * p) @ inc - ridge * theta  # gradient of the log-likelihood
        curv = total * p * (1.0 - p)  # (Q, K)
        hess = np.einsum("qk,ka,kb->qab", curv, inc, inc) + (ridge * np.eye(n_items) + jitter)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        step -= step.mean(axis=1, keepdims=True)
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(biggest, 1e-300))
        theta += step
        if float(biggest.max(initial=0.0)) < tol:
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return (theta[0] if single else theta), it


def fit_bt_battles(battles: pl.DataFrame, models: Sequence[str] | None = None, max_iter: int = 200) -> dict[str, float]:
    """Unweighted BT ratings (natural-log units, mean 0) of every model in a battle table, ties as halves."""
    models = list(models) if models is not None else model_vocabulary(battles)
    index = {m: k for k, m in enumerate(models)}
    a = np.array([index[m] for m in battles["model_a"].to_list()], dtype=np.int64)
    b = np.array([index[m] for m in battles["model_b"].to_list()], dtype=np.int64)
    counts = aggregate_pairs(np.zeros(len(a), dtype=np.int64), a, b, battles["winner"].to_numpy())
    theta, _ = fit_bt(counts.i, counts.j, counts.wins, counts.total, len(models), max_iter=max_iter)
    return dict(zip(models, theta.tolist(), strict=True))


def compute_tiers(ratings: dict[str, float], num_tiers: int) -> dict[str, int]:
    """Group models into `num_tiers` contiguous tiers of the rating order, as RouteLLM's `compute_tiers`.

    Models are sorted by rating (highest first; tier 0 is the best) and split into contiguous groups
    minimising the sum of within-group variances of the ratings (exact dynamic programme; ties in the
    optimum go to the earliest split, as RouteLLM's strict `>` comparison does). With fewer models
    than tiers every model gets its own tier.
    """
    names = sorted(ratings, key=lambda m: (-ratings[m], m))
    values = np.array([ratings[m] for m in names], dtype=np.float64)
    n = len(values)
    m = max(1, min(int(num_tiers), n))
    # var[l, j] = population variance of values[l..j] (inclusive), via prefix sums
    s1 = np.concatenate([[0.0], np.cumsum(values)])
    s2 = np.concatenate([[0.0], np.cumsum(values**2)])
    lo = np.arange(n)[:, None]
    hi = np.arange(n)[None, :]
    cnt = np.maximum(hi - lo + 1, 1)
    mean = (s1[hi + 1] - s1[lo]) / cnt
    var = np.maximum((s2[hi + 1] - s2[lo]) / cnt - mean**2, 0.0)
    var = np.where(hi >= lo, var, np.inf)
    # cost[t, j]: best cost of splitting values[0..j] into t+1 tiers
    cost = np.full((m, n), np.inf)
    cost[0] = var[0]
    split = np.zeros((m, n), dtype=np.int64)
    for t in range(1, m):
        for j in range(t, n):
            # last tier is values[l+1..j] for l in [t-1, j-1]
            ls = np.arange(t - 1, j)
            total = cost[t - 1, ls] + var[ls + 1, j]
            best = int(np.argmin(total))
            cost[t, j] = total[best]
            split[t, j] = ls[best]
    bounds = []
    end = n - 1
    for t in range(m - 1, 0, -1):
        last = int(split[t, end])
        bounds.append(last)
        end = last
    bounds = bounds[::-1] + [n - 1]
    tiers, start = {}, 0
    for tier, stop in enumerate(bounds):
        for k in range(start, stop + 1):
            tiers[names[k]] = tier
        start = stop + 1
    return tiers


def bt_log_loss(theta_i: np.ndarray, theta_j: np.ndarray, wins: np.ndarray, total: np.ndarray) -> float:
    """Mean BT negative log-likelihood per battle (ties as halves) for given rating differences."""
    d = np.asarray(theta_i) - np.asarray(theta_j)
    nll = wins * np.logaddexp(0.0, -d) + (total - wins) * np.logaddexp(0.0, d)
    return float(nll.sum() / max(total.sum(), 1e-12))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))
