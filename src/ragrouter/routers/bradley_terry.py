"""Bradley-Terry tools shared by the battle-trained routers (SW ranking, matrix factorization, P2L).

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

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from loguru import logger

WINNERS = ("model_a", "model_b", "tie")


def set_seeds(seed: int) -> None:
    """Seed python, numpy and (if loaded) torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


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


def train_split(table: pl.DataFrame, split: str = "train") -> pl.DataFrame:
    """Rows of one split; a table without a `split` column counts as all-train."""
    if "split" not in table.columns:
        return table if split == "train" else table.head(0)
    return table.filter(pl.col("split") == split)


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


def routed_validation(corpus: pl.DataFrame, strong_model: str, weak_model: str) -> tuple[list[str], np.ndarray]:
    """Validation prompts labelled for the routed pair and their labels (1 = strong needed)."""
    rows = train_split(corpus, "validation")
    if {"strong_model", "weak_model"} <= set(rows.columns):
        rows = rows.filter((pl.col("strong_model") == strong_model) & (pl.col("weak_model") == weak_model))
    return rows["prompt"].to_list(), rows["label"].to_numpy().astype(np.int64)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC (ties in the score count half); NaN when only one class is present."""
    labels = np.asarray(labels)
    if len(labels) == 0 or labels.min() == labels.max():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def bt_log_loss(theta_i: np.ndarray, theta_j: np.ndarray, wins: np.ndarray, total: np.ndarray) -> float:
    """Mean BT negative log-likelihood per battle (ties as halves) for given rating differences."""
    d = np.asarray(theta_i) - np.asarray(theta_j)
    nll = wins * np.logaddexp(0.0, -d) + (total - wins) * np.logaddexp(0.0, d)
    return float(nll.sum() / max(total.sum(), 1e-12))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


# --------------------------------------------------------------------------------------------
# Prompt-conditioned BT heads (matrix factorization, P2L): a torch module maps a batch of prompt
# embeddings (B, d) to one score per model (B, M); P(i beats j | prompt) = sigmoid(s_i - s_j).
# --------------------------------------------------------------------------------------------


@dataclass
class PromptBattles:
    """Battles aggregated per (prompt, pair) against a prompt embedding matrix, with row ranges per prompt."""

    embeddings: np.ndarray  # (P, d) float32
    counts: PairCounts  # group = prompt row in `embeddings`
    starts: np.ndarray  # (P + 1,) rows of prompt p are counts[starts[p]:starts[p + 1]]

    @property
    def n_battles(self) -> float:
        return float(self.counts.total.sum())


def prompt_battles(battles: pl.DataFrame, models: Sequence[str], encoder, tie_mode: str) -> PromptBattles:
    """Encode the unique prompts of `battles` once and aggregate its battles per (prompt, pair).

    Battles naming a model outside `models` are dropped (validation battles of unseen models).
    """
    index = {m: k for k, m in enumerate(models)}
    battles = battles.filter(pl.col("model_a").is_in(list(models)) & pl.col("model_b").is_in(list(models)))
    prompts = battles["prompt"].unique(maintain_order=True).to_list()
    pos = {p: k for k, p in enumerate(prompts)}
    group = np.array([pos[p] for p in battles["prompt"].to_list()], dtype=np.int64)
    a = np.array([index[m] for m in battles["model_a"].to_list()], dtype=np.int64)
    b = np.array([index[m] for m in battles["model_b"].to_list()], dtype=np.int64)
    counts = aggregate_pairs(group, a, b, battles["winner"].to_numpy(), tie_mode=tie_mode)
    emb = encoder.encode(prompts) if prompts else np.zeros((0, 1), dtype=np.float32)
    starts = np.searchsorted(counts.group, np.arange(len(prompts) + 1))
    return PromptBattles(np.asarray(emb, dtype=np.float32), counts, starts)


def train_score_head(
    net,
    train: PromptBattles,
    *,
    epochs: int,
    batch_prompts: int,
    lr: float,
    weight_decay: float,
    noise: float,
    seed: int,
    evaluate,
    select: str,
    patience: int,
    name: str,
    optimizer: str = "adam",
):
    """Minibatch training of `net` (embeddings -> per-model scores) with the BT loss on aggregated battles.

    Each step takes `batch_prompts` prompts and all their battles; the loss is the mean negative
    log-likelihood per battle. `noise` adds N(0, noise^2) to the prompt embeddings during training
    (RouteLLM's MF `alpha`). After each epoch `evaluate(net)` returns validation metrics; the state
    with the best `select` metric ("auc": highest, "loss": lowest) is restored, and training stops
    after `patience` epochs without improvement. Returns the per-epoch history.
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    c = train.counts
    pair_i, pair_j = torch.from_numpy(np.array(c.i, dtype=np.int64)), torch.from_numpy(np.array(c.j, dtype=np.int64))
    wins_all = torch.tensor(c.wins, dtype=torch.float32)
    total_all = torch.tensor(c.total, dtype=torch.float32)
    emb = torch.from_numpy(np.array(train.embeddings, dtype=np.float32))
    n_prompts = len(train.embeddings)
    local = np.zeros(n_prompts, dtype=np.int64)  # prompt -> row in the current batch
    opt_cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
    opt = opt_cls(net.parameters(), lr=lr, weight_decay=weight_decay)
    softplus = torch.nn.functional.softplus
    history, best_state, best_value, best_epoch = [], None, None, -1
    for epoch in range(1, epochs + 1):
        net.train()
        order = rng.permutation(n_prompts)
        loss_sum, battles_seen = 0.0, 0.0
        for start in range(0, n_prompts, batch_prompts):
            batch = order[start : start + batch_prompts]
            rows = np.concatenate([np.arange(train.starts[p], train.starts[p + 1]) for p in batch])
            if len(rows) == 0:
                continue
            local[batch] = np.arange(len(batch))
            rows_t = torch.as_tensor(rows)
            x = emb[torch.as_tensor(batch)]
            if noise > 0:
                x = x + noise * torch.randn_like(x)
            scores = net(x)
            at = torch.as_tensor(local[c.group[rows]])
            d = scores[at, pair_i[rows_t]] - scores[at, pair_j[rows_t]]
            wins, total = wins_all[rows_t], total_all[rows_t]
            nll = (wins * softplus(-d) + (total - wins) * softplus(d)).sum()
            n = float(total.sum())
            opt.zero_grad()
            (nll / n).backward()
            opt.step()
            loss_sum += float(nll.detach())
            battles_seen += n
        net.eval()
        metrics = evaluate(net)
        record = {"epoch": epoch, "train_loss": loss_sum / max(battles_seen, 1.0), **metrics}
        history.append(record)
        logger_info(name, record)
        value = _selection_key(metrics, select)
        if value is None:
            best_state, best_epoch = {k: v.detach().clone() for k, v in net.state_dict().items()}, epoch
            continue
        if best_value is None or value > best_value:
            best_value, best_epoch = value, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    chosen = history[best_epoch - 1] if best_epoch >= 1 else {}
    logger.info(f"{name}: kept epoch {best_epoch} of {len(history)} (selected on validation {select}; metrics there: " + ", ".join(f"{k} {v:.4f}" for k, v in chosen.items() if k not in ("epoch",)) + ")")
    return history, best_epoch


def _selection_key(metrics: dict, select: str) -> tuple | None:
    """Larger is better. "auc": highest AUC, ties broken by lower validation loss; "loss": lowest loss."""
    auc, loss = metrics.get("auc"), metrics.get("loss")
    loss_key = -loss if loss is not None and np.isfinite(loss) else 0.0
    if select == "auc" and auc is not None and np.isfinite(auc):
        return (auc, loss_key)
    if select == "loss" and loss is not None and np.isfinite(loss):
        return (loss_key,)
    return None


def logger_info(name: str, record: dict) -> None:
    text = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items())
    logger.info(f"{name}: {text}")


def head_metrics(score_fn, val_battles: PromptBattles | None, auc_emb: np.ndarray | None, auc_labels: np.ndarray, strong: int, weak: int) -> dict:
    """Validation metrics of a scoring function (embeddings -> per-model scores, numpy):
    `loss` = BT NLL per validation battle, `auc` = ROC-AUC of sigmoid(s_strong - s_weak) on the routed-pair labels."""
    out = {}
    if val_battles is not None and len(val_battles.embeddings) and val_battles.n_battles > 0:
        s = score_fn(val_battles.embeddings)
        c = val_battles.counts
        out["loss"] = bt_log_loss(s[c.group, c.i], s[c.group, c.j], c.wins, c.total)
    if auc_emb is not None and len(auc_emb):
        s = score_fn(auc_emb)
        out["auc"] = roc_auc(auc_labels, s[:, strong] - s[:, weak])
    return out


def resolve_select(select: str, auc_labels: np.ndarray, val_battles: PromptBattles | None) -> str:
    """The validation metric that can actually be computed: "auc" needs both label classes,
    "loss" needs validation battles; falls back to the other, else "none" (keep the last epoch)."""
    if select not in ("auc", "loss"):
        raise ValueError(f"select must be 'auc' or 'loss', got {select!r}")
    has_auc = len(auc_labels) > 0 and len(set(np.asarray(auc_labels).tolist())) == 2
    has_loss = val_battles is not None and val_battles.n_battles > 0
    available = [m for m, ok in (("auc", has_auc), ("loss", has_loss)) if ok]
    if select in available:
        return select
    if available:
        logger.info(f"validation metric {select!r} unavailable; selecting on {available[0]!r}")
        return available[0]
    logger.info("no validation data: keeping the last epoch")
    return "none"


def expand_grid(params: dict, keys: Sequence[str]) -> list[dict]:
    """One params dict per combination of the `keys` whose value is a list (a validation grid)."""
    grid = {k: list(params[k]) for k in keys if isinstance(params.get(k), list | tuple)}
    if not grid:
        return [params]
    return [{**params, **dict(zip(grid, combo, strict=True))} for combo in itertools.product(*grid.values())]


def selection_key(record: dict, select: str) -> tuple | None:
    """Public form of the epoch-selection key (larger is better) for comparing grid candidates."""
    return _selection_key(record, select)


def fit_battle_head(
    name: str,
    corpus,
    battles,
    encoder,
    params: dict,
    seed: int,
    grid_keys: Sequence[str],
    make_net,
    make_router,
    noise_key: str,
    optimizer: str = "adam",
):
    """The training loop MF and P2L share: battles -> per-prompt BT data, a grid of candidates each
    trained with `train_score_head` and selected on validation, the best kept.

    `make_net(config, n_models, dim)` builds a candidate's module; `make_router(net, models, strong,
    weak)` freezes it into a router (whose `params` get the tuned values)."""
    import time

    import torch

    set_seeds(seed)
    started = time.perf_counter()
    strong, weak = params["strong_model"], params["weak_model"]
    train_b = check_battles(train_split(battles))
    models = model_vocabulary(train_b)
    for model in (strong, weak):
        if model not in models:
            raise ValueError(f"{name}: routed model {model!r} has no training battles")
    t0 = time.perf_counter()
    data = prompt_battles(train_b, models, encoder, params["tie_mode"])
    logger.info(
        f"{name}: {train_b.height} training battles, {len(models)} models, {len(data.embeddings)} prompts embedded in "
        f"{time.perf_counter() - t0:.1f}s; {data.n_battles:.0f} battles used (tie_mode={params['tie_mode']})"
    )
    if data.n_battles == 0:
        raise ValueError(f"{name}: no training battles left")
    val_b = check_battles(train_split(battles, "validation"))
    val_data = prompt_battles(val_b, models, encoder, params["tie_mode"]) if val_b.height else None
    val_prompts, val_labels = routed_validation(corpus, strong, weak)
    val_emb = encoder.encode(val_prompts) if val_prompts else None
    logger.info(f"{name}: validation: {0 if val_data is None else val_data.n_battles:.0f} battles, {len(val_prompts)} routed-pair labelled prompts")
    select = resolve_select(params["select"], val_labels, val_data)
    strong_id, weak_id = models.index(strong), models.index(weak)

    def evaluate(module) -> dict:
        with torch.no_grad():

            def score(x):
                return module(torch.as_tensor(np.asarray(x, dtype=np.float32))).double().numpy()

            return head_metrics(score, val_data, val_emb, val_labels, strong_id, weak_id)

    router, best_key, best_epoch, n_epochs = None, None, 0, 0
    for config in expand_grid(params, grid_keys):
        set_seeds(seed)
        net = make_net(config, len(models), data.embeddings.shape[1])
        history, epoch = train_score_head(
            net,
            data,
            epochs=int(config["epochs"]),
            batch_prompts=int(config["batch_prompts"]),
            lr=float(config["lr"]),
            weight_decay=float(config["weight_decay"]),
            noise=float(config[noise_key]),
            seed=seed,
            evaluate=evaluate,
            select=select,
            patience=int(config["patience"]),
            name=name,
            optimizer=optimizer,
        )
        key = selection_key(history[epoch - 1], select) if epoch >= 1 else None
        tuned = {k: config[k] for k in grid_keys}
        logger.info(f"{name}: candidate {tuned}: best epoch {epoch}, validation {history[epoch - 1] if epoch >= 1 else {}}")
        if router is None or (key is not None and (best_key is None or key > best_key)):
            router = make_router(net, models, strong, weak)
            router.params, best_key, best_epoch, n_epochs = tuned, key, epoch, len(history)
    if val_emb is not None:
        auc = roc_auc(val_labels, router.strong_win_rates_from_embeddings(val_emb))
        logger.info(f"{name}: chose {router.params}, epoch {best_epoch}; validation ROC-AUC {auc:.4f}")
    logger.info(f"{name}: trained in {time.perf_counter() - started:.1f}s (the chosen candidate ran {n_epochs} epochs)")
    return router
