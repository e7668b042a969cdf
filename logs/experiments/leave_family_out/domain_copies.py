"""RULE.md's follow-up: the committed seed-0 full-variant checkpoint (run9) scores every validation row
three ways (own family of rows held out, as always; + its own task held out, today's second copy;
+ its whole task family held out), and w, then the prior's statistics and a, are chosen as
`classifier.train` chooses them, on the first copy with either second copy.
    python logs/experiments/leave_family_out/domain_copies.py RUN_CHECKOUT
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method import classifier

FAMILIES = {  # as run.py
    "science_multiple_choice": ["routerbench-zs/arc-challenge", "routerdc-7models/arc_challenge", "routerdc-7models/arc_easy"],
    "commonsense": ["routerbench-zs/winogrande"],
    "math": ["routerdc-7models/MATH_prealgebra", "routerdc-7models/gsm8k-train"],
    "code": ["routerbench-zs/mbpp", "routerdc-7models/mbpp", "routerdc-7models/humaneval"],
    "open_instructions": ["alpaca-eval", "arena-bench-v1", "gpt4_dataset"],
}
family_of_task = {t: f for f, ts in FAMILIES.items() for t in ts}

run = Path(sys.argv[1])
here = Path(__file__).resolve().parent
setup_logging(here / "domain_copies.log")
grids = yaml.safe_load(open(here.parents[2] / "config.yaml"))["ragrouter"]["rag"]
resources = run / "resources/ragrouter"
corpus = pl.read_parquet(resources / "aug-on_sample-on.parquet")
family_rows = corpus.filter(pl.col("split") == "train")
queries = pl.read_parquet(resources / "aug-on_sample-on_feat-on/queries.parquet")
validation = corpus.filter(pl.col("split") == "validation")
validation = validation.with_columns(pl.Series("task", classifier.family_tasks(validation)))
router = classifier.RAGRouter.load(run / "resources/routers/ragrouter_aug-on_sample-on_feat-on_rag-on/seed-0")
features = classifier.FeatureTable([resources / "features/feat-on/augmented.parquet"])
kb, params = router.kb, router.params
logger.info(f"checkpoint: K = {params['neighbours']}, w = {params['vote_weight']}, a = {params['prior_weight']} on {params['prior_statistics']}")

rows_exclusions = classifier.family_exclusions(kb, validation, family_rows)
ids_of_task = classifier.kb_ids_by_group(kb, family_rows["prompt"].to_list(), classifier.family_tasks(family_rows))
ids_of_family = {f: set().union(*(ids_of_task.get(t, []) for t in ts)) for f, ts in FAMILIES.items()}
copies = {
    "rows": rows_exclusions,
    "task": classifier.with_own_task_held_out(kb, validation, family_rows, rows_exclusions),
    "family": [sorted(set(e) | ids_of_family[family_of_task[t]]) for e, t in zip(rows_exclusions, validation["task"], strict=True)],
}
scored = {}
for name, exclude in copies.items():
    inputs = classifier.query_inputs(kb, validation["prompt"].to_list(), features, params, exclude, router.classifier.tokenizer, router.classifier.max_length)
    scores = router.classifier.strong_win_rates(inputs.texts, classifier.joined_features(inputs.vectors, inputs.numbers, params["numeric_scaling"]))
    scored[name] = (scores, inputs.vote, inputs.statistics)
    val = ValidationSet.of(validation)
    logger.info(f"copy {name}: per-task ROC-AUC classifier {val.auc(scores, 'per_task'):.4f}, vote {val.auc(inputs.vote, 'per_task'):.4f}")

_, train_statistics = features.vectors_and_statistics(queries["prompt"].to_list())
for second in ("task", "family"):
    rows = pl.concat([validation, validation.with_columns(pl.col("task") + f" (own {second} held out)")])
    val = ValidationSet.of(rows)
    scores, vote, statistics = (np.concatenate([scored["rows"][i], scored[second][i]]) for i in range(3))
    w = classifier.choose_vote_weight(scores, vote, val, grids["vote_weight"], "per_task")
    a, prior = classifier.choose_prior(
        classifier.blend_vote(scores, vote, w), statistics, train_statistics, queries["label"].to_numpy(), classifier.family_tasks(queries),
        val, grids["prior_statistics"], grids["prior_weight"], "per_task",
    )
    logger.info(f"choice on the rows + own-{second}-held-out copies: w = {w}, a = {a}" + (f" on {prior['statistics']}" if prior else ""))
