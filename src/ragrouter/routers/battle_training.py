"""Training on battles, shared by matrix factorization and P2L (and SW ranking's validation): the
battle table aggregated per prompt and model pair, a prompt-conditioned Bradley-Terry head trained
by minibatch, validation metrics, and the grid search over candidates with epoch selection.

Stage: baseline routers (rule `train_router`). Reads the battle table and the corpus' validation
split; the maths (pair counts, BT fits) lives in `ragrouter.routers.bradley_terry`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.seeding import seed_everything
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.bradley_terry import (
    PairCounts,
    aggregate_pairs,
    bt_log_loss,
    check_battles,
    model_vocabulary,
)


def train_split(table: pl.DataFrame, split: str = "train") -> pl.DataFrame:
    """Rows of one split; a table without a `split` column counts as all-train."""
    if "split" not in table.columns:
        return table if split == "train" else table.head(0)
    return table.filter(pl.col("split") == split)


LABEL_BATTLES = ("none", "added", "only")


def with_label_battles(battles: pl.DataFrame, corpus: pl.DataFrame, strong_model: str, weak_model: str, mode: str) -> pl.DataFrame:
    """The battles a battle-trained router learns from. "none": the table as it is (every pair of
    every source's models, RouteLLM's recipe); "added": every training row of the corpus also enters
    as one battle of the routed pair, won by the strong model where its label says the strong model is
    needed and by the weak one where not: the labels (graded, balanced within source) every other
    router trains on, as RouteLLM added its routed pair's judge-labelled battles; "only": those alone
    (the table's validation battles kept)."""
    if mode not in LABEL_BATTLES:
        raise ValueError(f"label_battles must be one of {list(LABEL_BATTLES)}, got {mode!r}")
    if mode == "none":
        return battles
    labelled = train_split(corpus).select(
        "prompt",
        pl.lit(strong_model).alias("model_a"),
        pl.lit(weak_model).alias("model_b"),
        pl.when(pl.col("label") == 1).then(pl.lit("model_a")).otherwise(pl.lit("model_b")).alias("winner"),
        pl.lit("corpus labels").alias("source"),
        pl.lit("train").alias("split"),
    )
    kept = battles if mode == "added" else train_split(battles, "validation")
    logger.info(f"label_battles {mode}: {labelled.height} routed-pair battles from the corpus labels (strong won {labelled['winner'].eq('model_a').mean():.3f}) beside {kept.height} of the table's")
    return pl.concat([kept, labelled.select(battles.columns)], how="vertical_relaxed")


def routed_validation(corpus: pl.DataFrame, strong_model: str, weak_model: str) -> ValidationSet:
    """Validation prompts labelled for the routed pair, with their labels (1 = strong needed) and sources."""
    rows = train_split(corpus, "validation")
    if {"strong_model", "weak_model"} <= set(rows.columns):
        rows = rows.filter((pl.col("strong_model") == strong_model) & (pl.col("weak_model") == weak_model))
    return ValidationSet.of(rows)


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
        value = selection_key(metrics, select)
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


def selection_key(metrics: dict, select: str) -> tuple | None:
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


def head_metrics(score_fn, val_battles: PromptBattles | None, auc_emb: np.ndarray | None, val: ValidationSet, strong: int, weak: int, metric: str = "pooled") -> dict:
    """Validation metrics of a scoring function (embeddings -> per-model scores, numpy):
    `loss` = BT NLL per validation battle, `auc` = ROC-AUC of sigmoid(s_strong - s_weak) on the routed-pair labels."""
    out = {}
    if val_battles is not None and len(val_battles.embeddings) and val_battles.n_battles > 0:
        s = score_fn(val_battles.embeddings)
        c = val_battles.counts
        out["loss"] = bt_log_loss(s[c.group, c.i], s[c.group, c.j], c.wins, c.total)
    if auc_emb is not None and len(auc_emb):
        s = score_fn(auc_emb)
        out["auc"] = val.auc(s[:, strong] - s[:, weak], metric)
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

    seed_everything(seed)
    started = time.perf_counter()
    strong, weak = params["strong_model"], params["weak_model"]
    battles = with_label_battles(battles, corpus, strong, weak, params["label_battles"])
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
    val = routed_validation(corpus, strong, weak)
    val_emb = encoder.encode(val.prompts) if len(val) else None
    logger.info(f"{name}: validation: {0 if val_data is None else val_data.n_battles:.0f} battles, {len(val)} routed-pair labelled prompts; selection metric ROC-AUC {params['validation_metric']}")
    select = resolve_select(params["select"], val.labels, val_data)
    strong_id, weak_id = models.index(strong), models.index(weak)

    def evaluate(module) -> dict:
        with torch.no_grad():

            def score(x):
                return module(torch.as_tensor(np.asarray(x, dtype=np.float32))).double().numpy()

            return head_metrics(score, val_data, val_emb, val, strong_id, weak_id, params["validation_metric"])

    router, best_key, best_epoch, n_epochs = None, None, 0, 0
    for config in expand_grid(params, grid_keys):
        seed_everything(seed)
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
        logger.info(f"{name}: chose {router.params}, epoch {best_epoch}; validation {val.summary(router.strong_win_rates_from_embeddings(val_emb))}")
    logger.info(f"{name}: trained in {time.perf_counter() - started:.1f}s (the chosen candidate ran {n_epochs} epochs)")
    return router
