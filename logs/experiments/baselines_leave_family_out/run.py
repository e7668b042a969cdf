"""RULE.md's leave-family-out scores of one baseline: per family F, the router trained as rule
train_router trains it (config.yaml's params, seed 0) on the run's corpus and battles without F (both
splits), then F's validation rows scored. Writes ROUTER.parquet beside this script. With `within_task`
(RULE.md's addendum), the corpus' training rows are first balanced within tasks: ROUTER_within_task.parquet.
    python logs/experiments/baselines_leave_family_out/run.py RUN_CHECKOUT ROUTER [within_task]
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
from ragrouter.data.corpus import balance_within
from ragrouter.method.classifier import domain_of_task, family_tasks
from ragrouter.routers.kinds import uses_embeddings
from ragrouter.routers.registry import make_encoder, train_router

run, router_id = Path(sys.argv[1]), sys.argv[2]
within_task = sys.argv[3:] == ["within_task"]
name = f"{router_id}_within_task" if within_task else router_id
here = Path(__file__).resolve().parent
setup_logging(here / f"{name}.log")
torch.set_num_threads(2)
config = yaml.safe_load(open(here.parents[2] / "config.yaml"))
settings = config["routers"][router_id]
kind = settings.get("kind", router_id)
domain_of = domain_of_task(config["ragrouter"]["rag"]["held_out_domains"])
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
if within_task:
    corpus = balance_within(corpus, 0, "task")
corpus = corpus.with_columns(pl.Series("family", [domain_of.get(t, t) for t in family_tasks(corpus)]))
battles = pl.read_parquet(run / "resources/corpus/battles.parquet")
# a battle's family: its prompt's in the corpus; else its source's one family; else unknown (None)
family_of_prompt = dict(zip(corpus["prompt"], corpus["family"], strict=True))
families_of_source = corpus.group_by("source").agg(pl.col("family").unique())
single = {s: f[0] for s, f in families_of_source.iter_rows() if len(f) == 1}
battle_family = [family_of_prompt.get(p, single.get(s)) for p, s in battles.select("prompt", "source").iter_rows()]
battles = battles.with_columns(pl.Series("family", battle_family, dtype=pl.String))
sources_of = {f: set(corpus.filter(pl.col("family") == f)["source"]) for f in corpus["family"].unique()}
model_dir = str(run / "resources/models" / settings.get("backbone", "encoder"))
encoder = None
if uses_embeddings(kind):
    settings_embedding = {**config["embedding"], "fusion": config["ragrouter"].get("fusion", {}).get("params", {})}
    encoder = make_encoder(model_dir, [run / "resources/ragrouter/features/feat-off/augmented.parquet"], settings_embedding)

parts = []
for family in sorted(corpus["family"].unique()):
    start = time.perf_counter()
    kept = corpus.filter(pl.col("family") != family).drop("family")
    # unknown-family battles of a source that has rows in F may be F's: dropped with it
    kept_battles = battles.filter((pl.col("family") != family) | (pl.col("family").is_null() & ~pl.col("source").is_in(sorted(sources_of[family]))))
    router = train_router(kind, kept, kept_battles.drop("family"), settings.get("params", {}), 0, model_dir, encoder)
    rows = corpus.filter((pl.col("family") == family) & (pl.col("split") == "validation"))
    scores = np.asarray(router.strong_win_rates(rows["prompt"].to_list()), dtype=np.float64)
    parts.append(rows.select("id", "source", "family", "label", task=pl.Series(family_tasks(rows)), score=pl.Series(scores)))
    logger.info(f"{router_id} without {family}: {kept.height} corpus rows, {kept_battles.height} of {battles.height} battles; {rows.height} rows scored in {time.perf_counter() - start:.0f} s")
pl.concat(parts).write_parquet(here / f"{name}.parquet")
