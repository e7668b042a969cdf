"""RouteLLM's matrix factorization (MF) router, retrained offline on the battle table.

Stage: baseline routers (rules `train_router`, `score_router`). Reads battles, corpus and embeddings.

Model (RouteLLM `MFModel` / `MFModel_Train`): every model m has a learned embedding `P_m` (dim),
the prompt embedding x (the frozen sentence encoder's, 384-d MiniLM here instead of OpenAI's
1536-d) is projected by a bias-free linear layer `W` to dim, and the score of model m on the
prompt is a bias-free linear scorer of the element-wise product:

    s_m(x) = c . (normalize(P_m) * (W x)),    P(a beats b | x) = sigmoid(s_a(x) - s_b(x)).

Training minimises the pairwise logistic loss (binary cross-entropy of "the winner beats the
loser") over the training battles. Ties are dropped, as RouteLLM's trainer keeps only battles whose
winner is model_a or model_b (`tie_mode: half` counts a tie as half a win instead). Model ids are
built from the battle table (sorted model names), not RouteLLM's fixed 64-model table. The strong
win rate is `sigmoid(s_strong(x) - s_weak(x))`, RouteLLM's `pred_win_rate`.

Training differences from RouteLLM's script, for speed on 2 CPU cores: battles are aggregated per
(prompt, model pair) and a minibatch is `batch_prompts` prompts with all their battles (the loss is
still the mean BCE per battle); the Gaussian noise `alpha` on the prompt embedding is drawn per
prompt and step instead of per battle; the epoch is chosen on the validation split (RouteLLM
trains a fixed 100 epochs and only reports a held-out accuracy).

Params (config `routers.matrix_factorization`, all optional; the keys marked * may be lists, then
every combination is trained and the best on validation (by `select`) is kept):

| key            | default | meaning                                                                  |
|----------------|---------|--------------------------------------------------------------------------|
| dim *          | 128     | model-embedding / projection size (RouteLLM: 128)                         |
| alpha *        | 0.1     | std of the Gaussian noise on prompt embeddings in training (RouteLLM: 0.1) |
| lr *           | 3e-4    | Adam learning rate (RouteLLM: 3e-4)                                       |
| weight_decay * | 1e-5    | Adam weight decay (RouteLLM: 1e-5)                                        |
| batch_prompts *| 8       | prompts per minibatch (about 350 battles: all pairs of each prompt)       |
| epochs         | 100     | maximum epochs (RouteLLM: 100)                                            |
| patience       | 10      | stop after this many epochs without a better validation metric            |
| select         | loss    | what picks the epoch/candidate: "loss" (BT NLL of the validation battles, the training objective on held-out prompts, as RouteLLM's held-out test loss) or "auc" (ROC-AUC of the routed pair on the labelled validation prompts); falls back to the other when unavailable |
| tie_mode       | drop    | "drop" (RouteLLM) or "half" (a tie is half a win for each side)           |
| label_battles  | none    | "added": every training row of the corpus is also a routed-pair battle won as its label says (the labels every other router trains on); "only": those alone (`battle_training.with_label_battles`) |
| strong_model, weak_model | gpt-4-1106-preview, mistralai/Mixtral-8x7B-Instruct-v0.1 | routed pair |

Defaults are RouteLLM's. `select` is "loss" because with ties dropped the routed-pair ROC-AUC on this
corpus's validation split falls as the pairwise objective improves (decisive battles between the
routed pair are won by the strong model more often on RouterBench-style prompts, where the weak
model is usually good enough, than on AlpacaEval-style prompts): selecting on it would keep a
barely trained model. `tie_mode: half` gives a much higher validation ROC-AUC (about 0.63-0.69 against 0.34 when trained
on a 3,500-prompt subsample of the corpus) but is not RouteLLM's tie handling.
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
    "dim": 128,
    "alpha": 0.1,
    "lr": 3e-4,
    "weight_decay": 1e-5,
    "epochs": 100,
    "batch_prompts": 8,
    "patience": 10,
    "select": "loss",
    "validation_metric": "per_source",  # choices by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
    "tie_mode": "drop",
    "label_battles": "none",
    "strong_model": STRONG_MODEL,
    "weak_model": WEAK_MODEL,
}
# params that may be given as a list: every combination is trained, the best on validation is kept
GRID_KEYS = ("dim", "alpha", "lr", "weight_decay", "batch_prompts")


class MatrixFactorizationRouter(EmbeddingRouter):
    """Stores the trained MF weights as numpy arrays (no torch module is pickled)."""

    def __init__(
        self,
        encoder,
        models: Sequence[str],
        model_embeddings: np.ndarray,
        projection: np.ndarray,
        classifier: np.ndarray,
        strong_model: str = STRONG_MODEL,
        weak_model: str = WEAK_MODEL,
    ) -> None:
        self.encoder = encoder
        self.models = list(models)
        self.model_embeddings = np.asarray(model_embeddings, dtype=np.float64)  # (M, dim), raw P
        self.projection = np.asarray(projection, dtype=np.float64)  # (dim, d): text_proj.weight
        self.classifier = np.asarray(classifier, dtype=np.float64)  # (dim,)
        self.strong_model, self.weak_model = strong_model, weak_model
        self.strong_id, self.weak_id = self.models.index(strong_model), self.models.index(weak_model)
        self.params: dict = {}  # the tuned hyperparameters it was trained with

    def model_scores_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores s_m(x) of every model (n, M)."""
        p = self.model_embeddings / np.maximum(np.linalg.norm(self.model_embeddings, axis=1, keepdims=True), 1e-12)
        proj = np.atleast_2d(np.asarray(embeddings, dtype=np.float64)) @ self.projection.T
        return (proj * self.classifier) @ p.T

    def strong_win_rates_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        p = self.model_embeddings[[self.strong_id, self.weak_id]]
        p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
        direction = self.projection.T @ (self.classifier * (p[0] - p[1]))  # s_strong - s_weak is linear in x
        return sigmoid(np.atleast_2d(np.asarray(embeddings, dtype=np.float64)) @ direction)



def _make_net(n_models: int, text_dim: int, dim: int):
    import torch

    class MF(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.P = torch.nn.Embedding(n_models, dim)
            self.text_proj = torch.nn.Linear(text_dim, dim, bias=False)
            self.classifier = torch.nn.Linear(dim, 1, bias=False)

        def forward(self, x):  # (B, d) -> (B, M)
            p = torch.nn.functional.normalize(self.P.weight, p=2, dim=1)
            return (self.text_proj(x) * self.classifier.weight[0]) @ p.T

    return MF()


def _to_router(net, encoder, models: list[str], strong: str, weak: str) -> MatrixFactorizationRouter:
    return MatrixFactorizationRouter(
        encoder,
        models,
        net.P.weight.detach().double().numpy().copy(),
        net.text_proj.weight.detach().double().numpy().copy(),
        net.classifier.weight.detach().double().numpy()[0].copy(),
        strong_model=strong,
        weak_model=weak,
    )


def train(corpus: pl.DataFrame, battles: pl.DataFrame, encoder, params: dict | None, seed: int) -> MatrixFactorizationRouter:
    """Train the MF model on the training battles; pick the candidate and epoch on the validation split."""
    params = {**DEFAULTS, **(params or {})}
    return fit_battle_head(
        "matrix_factorization",
        corpus,
        battles,
        encoder,
        params,
        seed,
        GRID_KEYS,
        make_net=lambda config, n_models, dim: _make_net(n_models, dim, int(config["dim"])),
        make_router=lambda net, models, strong, weak: _to_router(net, encoder, models, strong, weak),
        noise_key="alpha",
    )
