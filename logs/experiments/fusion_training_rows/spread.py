"""How much does the fusion encoder's own training randomness move the neighbours' vote? The same
measurement as run.py (validation rows, both retrieval copies, K = 2-4, per-task mean), for fusions
trained with other seeds: seed s draws the 1,000 rows (`sample(seed=s)`, as rule train_fusion) or
shuffles all rows, and seeds the fusion's initialisation and batches.

Usage: python logs/experiments/fusion_training_rows/spread.py <run dir> <seed> [<seed> ...]
"""

import sys
from pathlib import Path

import polars as pl
import torch
import yaml

from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method import classifier as C
from ragrouter.method.fusion import train_fusion
from ragrouter.method.knowledge_base import KnowledgeBase, split_kb

torch.set_num_threads(2)
run, seeds = Path(sys.argv[1]), [int(s) for s in sys.argv[2:]]
config = yaml.safe_load(Path("config.yaml").read_text())["ragrouter"]
kb_split, _ = split_kb(pl.read_parquet(run / "resources/corpus/corpus.parquet"), config["kb_fraction"], 0)
sampled = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
family_rows, validation = sampled.filter(pl.col("split") == "train"), sampled.filter(pl.col("split") == "validation")
kb_rows = family_rows.unique(subset=["prompt"], keep="first", maintain_order=True)
prompts = pl.concat([family_rows["prompt"], validation["prompt"]]).unique(maintain_order=True).to_list()
position = {p: i for i, p in enumerate(prompts)}
for seed in seeds:
    for arm, n in (("1,000 rows", config["fusion"]["train_examples"]), ("all rows", kb_split.height)):
        rows = kb_split.sample(n, seed=seed, shuffle=True)
        model = train_fusion(rows["prompt"].to_list(), rows["weak_score"].to_list(), run / "resources/models/encoder", params=config["fusion"].get("params", {}), seed=seed)
        vectors = model.encode_all(prompts, progress=False)[0]
        kb = KnowledgeBase.build(vectors[[position[p] for p in kb_rows["prompt"]]], kb_rows["prompt"].to_list(), kb_rows["label"].to_list(), kb_rows["weak_score"].to_list(), config.get("index", {}))
        choice, exclude = C.validation_rows(validation, kb, family_rows, "with_and_without_own_task")
        ids, _ = kb.search(vectors[[position[p] for p in choice["prompt"]]], 4, exclude)
        val = ValidationSet.of(choice)
        print(f"seed {seed}, {arm:10s}: vote per-task " + ", ".join(f"K = {k} {val.auc(C.neighbour_vote(kb, ids[:, :k]), 'per_task'):.4f}" for k in (2, 3, 4)), flush=True)
