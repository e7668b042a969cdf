"""Leave-family-out scores of RAGRouter's full variant (RULE.md): for one task family F, the knowledge
base rebuilt without F's entries, the classifier trained as rule train_ragrouter trains it on the
training queries outside F (K = 2, config.yaml's settings, 1 thread), and F's validation rows scored by
it; with their K = 2..4 votes from the same F-less knowledge base and the structure priors fitted on
the training queries outside F. Writes FAMILY_seed-S.parquet beside this script. With `rag-off`, the
w/o-RAG variant's classifier instead (every training row outside F, bare; no knowledge base), written
to rag-off/FAMILY_seed-S.parquet.
    python logs/experiments/leave_family_out/run.py RUN_CHECKOUT FAMILY SEED [rag-off]
"""

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
import yaml
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.common.seeding import seed_everything
from ragrouter.method import classifier
from ragrouter.method.fusion import STRUCTURE_STATISTICS
from ragrouter.method.knowledge_base import KnowledgeBase

FAMILIES = {
    "science_multiple_choice": ["routerbench-zs/arc-challenge", "routerdc-7models/arc_challenge", "routerdc-7models/arc_easy"],
    "commonsense": ["routerbench-zs/winogrande"],
    "math": ["routerdc-7models/MATH_prealgebra", "routerdc-7models/gsm8k-train"],
    "code": ["routerbench-zs/mbpp", "routerdc-7models/mbpp", "routerdc-7models/humaneval"],
    "open_instructions": ["alpaca-eval", "arena-bench-v1", "gpt4_dataset"],
}
PRIORS = {"words": ["log_words"], "all": list(STRUCTURE_STATISTICS)}

run, family_name, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rag_off = sys.argv[4:] == ["rag-off"]
here = Path(__file__).resolve().parent
out = here / ("rag-off" if rag_off else "") / f"{family_name}_seed-{seed}"
out.parent.mkdir(exist_ok=True)
setup_logging(f"{out}.log")
torch.set_num_threads(1)
config = yaml.safe_load(open(here.parents[2] / "config.yaml"))["ragrouter"]
tasks = set(FAMILIES[family_name])
resources = run / "resources/ragrouter"
corpus = pl.read_parquet(resources / "aug-on_sample-on.parquet")
family_rows = corpus.filter(pl.col("split") == "train")
queries = pl.read_parquet(resources / "aug-on_sample-on_feat-on/queries.parquet")
validation = corpus.filter(pl.col("split") == "validation")
in_family = lambda rows: pl.Series([t in tasks for t in classifier.family_tasks(rows)])  # noqa: E731
rows, validation = (family_rows if rag_off else queries), validation.filter(in_family(validation))
rows = rows.filter(~in_family(rows))
features = classifier.FeatureTable([resources / "features/feat-on/augmented.parquet"])

full_kb = KnowledgeBase.load(resources / "aug-on_sample-on_feat-on/kb")
ids_of_task = classifier.kb_ids_by_group(full_kb, family_rows["prompt"].to_list(), classifier.family_tasks(family_rows))
dropped = set().union(*(ids_of_task.get(t, []) for t in tasks))
keep = [i for i in range(len(full_kb)) if i not in dropped]
texts = [full_kb.texts[i] for i in keep]
kb = None if rag_off else KnowledgeBase.build(features(texts), texts, full_kb.labels[keep], full_kb.weak_scores[keep], config.get("index", {}))
logger.info(f"{family_name}: KB {len(full_kb)} -> {len(kb) if kb else 0} entries; {rows.height} of {queries.height} training queries; {validation.height} validation rows")

rag = {**config["rag"], "neighbours": 2, "vote_weight": 0.0, "prior_weight": 0.0, "prior_statistics": ["log_words"], "validation_retrieval": "with_own_task", "choice_rows": "validation",
       "held_out_domains": {}}  # the held-out training queries hold out their task alone, as the workflow did when this ran
start = time.perf_counter()
seed_everything(seed)
router = classifier.train(rows, validation, kb, features, family_rows, rag, config["classifier"]["params"], seed, str(run / "resources/models/encoder"))
logger.info(f"{family_name}: classifier trained and scored in {time.perf_counter() - start:.0f} s")

votes = {}
if kb is not None:
    ids, _ = kb.search(features(validation["prompt"].to_list()), 4, classifier.family_exclusions(kb, validation, family_rows))
    votes = {f"vote_{k}": classifier.neighbour_vote(kb, ids[:, :k]) for k in (2, 3, 4)}
_, val_statistics = features.vectors_and_statistics(validation["prompt"].to_list())
_, train_statistics = features.vectors_and_statistics(rows["prompt"].to_list())
priors = {name: classifier.structure_prior(classifier.fit_structure_prior(train_statistics, rows["label"].to_numpy(), classifier.family_tasks(rows), names), val_statistics) for name, names in PRIORS.items()}
pl.DataFrame({
    "id": validation["id"], "source": validation["source"], "task": classifier.family_tasks(validation), "family": [family_name] * validation.height,
    "label": validation["label"], "classifier": router.validation_scores,
    **votes,
    **{f"prior_{name}": values for name, values in priors.items()},
}).write_parquet(f"{out}.parquet")
logger.info(f"{family_name}: wrote {out}.parquet")
