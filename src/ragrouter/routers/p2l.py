"""Prompt-to-leaderboard (P2L, Frick et al. 2025) router on a frozen sentence encoder.

Stage: baseline routers (rules `train_router`, `score_router`). Reads battles, corpus and embeddings.

P2L trains a model that maps a prompt to a vector of Bradley-Terry coefficients, one per model,
`theta(x)`, so that P(a beats b | x) = sigmoid(theta_a(x) - theta_b(x)). The paper fine-tunes an
LLM with a linear head; here the encoder is frozen (the MiniLM sentence embedding x) and only the
head is trained: a linear layer (`hidden: 0`, P2L's head) or a one-hidden-layer ReLU MLP.

Loss: P2L's "bt-tie" Bradley-Terry loss, where a tie counts as half a win and half a loss
(`tie_mode: half`); `tie_mode: drop` is P2L's plain "bt" loss on decisive battles only. The loss
is averaged per battle over the multi-model battle table (all models, not only the routed pair).
Model ids are the sorted model names of the training battles. Strong win rate:
`sigmoid(theta_strong(x) - theta_weak(x))`.

Battles are aggregated per (prompt, model pair) and a minibatch is `batch_prompts` prompts with all
their battles, so the head runs once per prompt. The epoch is chosen on the validation split.

Params (config `routers.p2l`, all optional):

| key            | default | meaning                                                                  |
|----------------|---------|--------------------------------------------------------------------------|
| hidden         | 256     | hidden units of the MLP head; 0 = linear head (as P2L)                   |
| dropout        | 0.1     | dropout after the hidden layer                                           |
| lr             | 1e-3    | AdamW learning rate                                                      |
| weight_decay   | 1e-2    | AdamW weight decay                                                       |
| noise          | 0.0     | std of Gaussian noise on the prompt embedding during training            |
| epochs         | 40      | maximum epochs                                                           |
| batch_prompts  | 16      | prompts per minibatch                                                    |
| patience       | 6       | stop after this many epochs without a better validation metric           |
| select         | auc     | "auc" (routed-pair ROC-AUC) or "loss" (validation-battle BT NLL)          |
| tie_mode       | half    | "half" (P2L bt-tie) or "drop" (P2L bt)                                   |
| label_battles  | none    | "added": every training row of the corpus is also a routed-pair battle won as its label says (the labels every other router trains on); "only": those alone (`battle_training.with_label_battles`) |
| strong_model, weak_model | gpt-4-1106-preview, mistralai/Mixtral-8x7B-Instruct-v0.1 | routed pair |
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.routers.base import EmbeddingRouter
from ragrouter.routers.battle_training import fit_battle_head
from ragrouter.routers.bradley_terry import sigmoid

DEFAULTS = {
    "hidden": 256,
    "dropout": 0.1,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "noise": 0.0,
    "epochs": 40,
    "batch_prompts": 16,
    "patience": 6,
    "select": "auc",
    "validation_metric": "per_source",  # choices by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
    "tie_mode": "half",
    "label_battles": "none",
    "strong_model": STRONG_MODEL,
    "weak_model": WEAK_MODEL,
}
# params that may be given as a list: every combination is trained, the best on validation is kept
GRID_KEYS = ("hidden", "dropout", "lr", "weight_decay", "noise", "batch_prompts")


class P2LRouter(EmbeddingRouter):
    """Holds the head's weights as numpy arrays: `layers` = [(W, b), ...] with ReLU between layers."""

    def __init__(self, encoder, models: Sequence[str], layers: list[tuple[np.ndarray, np.ndarray]], strong_model: str = STRONG_MODEL, weak_model: str = WEAK_MODEL) -> None:
        self.encoder = encoder
        self.models = list(models)
        self.layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in layers]
        self.strong_model, self.weak_model = strong_model, weak_model
        self.strong_id, self.weak_id = self.models.index(strong_model), self.models.index(weak_model)
        self.params: dict = {}  # the tuned hyperparameters it was trained with

    def coefficients_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """The prompt's leaderboard: BT coefficients (n, M) in `self.models` order."""
        h = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        for k, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h

    def strong_win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        theta = self.coefficients_from_embeddings(embeddings)
        return sigmoid(theta[:, self.strong_id] - theta[:, self.weak_id])



def _make_head(text_dim: int, n_models: int, hidden: int, dropout: float):
    import torch

    if hidden <= 0:
        return torch.nn.Sequential(torch.nn.Linear(text_dim, n_models))
    return torch.nn.Sequential(
        torch.nn.Linear(text_dim, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, n_models),
    )


def _layers(net) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    return [
        (m.weight.detach().double().numpy().copy(), m.bias.detach().double().numpy().copy())
        for m in net.modules()
        if isinstance(m, torch.nn.Linear)
    ]


def train(corpus: pl.DataFrame, battles: pl.DataFrame, encoder, params: dict | None, seed: int) -> P2LRouter:
    """Train the P2L head on the training battles; pick the candidate and epoch on the validation split."""
    params = {**DEFAULTS, **(params or {})}
    return fit_battle_head(
        "p2l",
        corpus,
        battles,
        encoder,
        params,
        seed,
        GRID_KEYS,
        make_net=lambda config, n_models, dim: _make_head(dim, n_models, int(config["hidden"]), float(config["dropout"])),
        make_router=lambda net, models, strong, weak: P2LRouter(encoder, models, _layers(net), strong_model=strong, weak_model=weak),
        noise_key="noise",
        optimizer="adamw",
    )
