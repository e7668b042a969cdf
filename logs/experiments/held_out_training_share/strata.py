"""Where the change acts: a full-variant checkpoint's classifier alone, the K-neighbour vote and the
served score on the validation rows retrieving with their own task (as served) and with it held out
(as for a task the knowledge base lacks), per-task mean ROC-AUC of each copy. Diagnostic only.

Usage: python logs/experiments/held_out_training_share/strata.py <run dir> <checkpoint> [<checkpoint> ...]
"""

import sys
from pathlib import Path

import polars as pl
import torch

from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method import classifier as C

torch.set_num_threads(2)
run = Path(sys.argv[1])
sampled = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
family_rows, validation = sampled.filter(pl.col("split") == "train"), sampled.filter(pl.col("split") == "validation")
features = C.FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"])
for checkpoint in sys.argv[2:]:
    router = C.load(checkpoint)
    p = router.params
    rows, exclude = C.validation_rows(validation, router.kb, family_rows, "with_and_without_own_task")
    inputs = C.query_inputs(router.kb, rows["prompt"].to_list(), features, p, exclude, router.classifier.tokenizer, router.classifier.max_length)
    alone = router.classifier.strong_win_rates(inputs.texts, C.joined_features(inputs.vectors, inputs.numbers, p["numeric_scaling"]))
    served = C.blend_vote(alone, inputs.vote, p["vote_weight"])
    if p.get("prior"):
        served = C.blend_prior(served, C.structure_prior(p["prior"], inputs.statistics), p["prior_weight"], p["prior"]["quantiles"])
    n = validation.height
    parts = {"own task in KB": slice(0, n), "own task held out": slice(n, 2 * n)}
    print(f"{checkpoint} (share {p.get('held_out_training_share', 0.0)}, w {p['vote_weight']}, a {p['prior_weight']}):")
    for name, part in parts.items():
        val = ValidationSet.of(rows[part])
        print(f"  {name:18s} classifier alone {val.auc(alone[part], 'per_task'):.4f}, vote {val.auc(inputs.vote[part], 'per_task'):.4f}, score {val.auc(served[part], 'per_task'):.4f}", flush=True)
