"""Should the battle-trained baselines (SW ranking, matrix factorization, P2L) also learn from the
corpus labels every other router trains on? (`label_battles`, issue 12: fair baselines)

Each trains with config.yaml's params and `label_battles` none (RouteLLM's all-pairs battle table, as
now) / added (every training row also a routed-pair battle won as its graded, within-source-balanced
label says) / only (those battles alone), seeds 0-2, on a run's corpus, battles and cached embeddings;
scored on the validation rows only: per-task mean ROC-AUC (the config's selection metric) ± bootstrap
SE and pair-weighted. No benchmark prompt is read.

Usage: python logs/experiments/label_battles/run.py <run dir>
"""

import sys
from pathlib import Path

import polars as pl
import yaml
from loguru import logger

from ragrouter.common.workflow_config import WorkflowConfig
from ragrouter.evaluation.validation import ValidationSet, pair_weighted_auc, stratified_auc_se
from ragrouter.routers.registry import make_encoder, train_router

logger.remove()
logger.add(sys.stderr, level="WARNING")
run = Path(sys.argv[1])
config = yaml.safe_load(Path("config.yaml").read_text())
workflow = WorkflowConfig(config)
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
battles = pl.read_parquet(run / "resources/corpus/battles.parquet")
encoder = make_encoder(run / "resources/models/encoder", [run / workflow.embedding_file("corpus")], workflow.embedding_settings)
validation = corpus.filter(pl.col("split") == "validation")
val = ValidationSet.of(validation)
print(f"{validation.height} validation rows, {len(set(val.tasks))} tasks")
for kind in ("sw_ranking", "matrix_factorization", "p2l"):
    for mode in ("none", "added", "only"):
        cells = []
        for seed in (0, 1, 2):
            params = {**config["routers"][kind].get("params", {}), "label_battles": mode}
            router = train_router(kind, corpus, battles, params, seed, run / "resources/models/encoder", encoder)
            scores = router.strong_win_rates(validation["prompt"].to_list())
            cells.append((val.auc(scores, "per_task"), stratified_auc_se(val.labels, scores, val.tasks), pair_weighted_auc(val.labels, scores, val.tasks)))
            if kind == "sw_ranking":
                break  # deterministic: every seed is the same fit
        mean = [sum(c[i] for c in cells) / len(cells) for i in range(3)]
        print(f"{kind:22s} label_battles {mode:5s}: per-task {mean[0]:.4f} ± {mean[1]:.4f}, pair-weighted {mean[2]:.4f} "
              f"(seeds: {', '.join(f'{c[0]:.4f}' for c in cells)})", flush=True)
