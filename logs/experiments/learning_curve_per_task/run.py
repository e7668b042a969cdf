"""Issue 12 item 4, redone for every trained router kind on the headline metric: what does a cap on
train rows per source cost each router on validation (mean of per-task ROC-AUCs)?

The corpus as rule build_corpus writes it with config.yaml's `corpus:` but no cap (decontaminated,
10 % validation from every row, graded train labels, balanced within source); each point then keeps a
seeded sample of at most `cap` train rows per source (`cap_train_rows`, seed 0), so every point is
scored on the same 1,033 validation rows (routed-pair labels). Routers take config.yaml's params;
the causal LLM without its `max_train_examples` subset, so the cap alone sets its rows. Seed 0.

Usage: python logs/experiments/learning_curve_per_task/run.py RUN_CHECKOUT OUT_PREFIX CAPS KIND...
  (RUN_CHECKOUT: its resources/ data, models and evaluation prompts; CAPS: comma list, `none` = all)
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import polars as pl
import torch
import yaml
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.common.workflow_config import WorkflowConfig
from ragrouter.data.corpus import cap_train_rows, prepare_corpus
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.registry import make_encoder, train_router

run, out, caps, kinds = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
setup_logging(f"{out}.log")
torch.set_num_threads(1)
config = yaml.safe_load(open(Path(__file__).resolve().parents[3] / "config.yaml"))
cfg = {**config["corpus"], "max_train_rows_per_source": None}
evaluation = pl.read_parquet(run / "resources/benchmarks/evaluation_prompts.parquet")["prompt"].to_list()
corpus, battles = prepare_corpus(run / "resources/data", cfg, evaluation)
val = ValidationSet.of(corpus.filter(pl.col("split") == "validation"))
encoder = make_encoder(run / "resources/models/encoder", [], WorkflowConfig(config).embedding_settings)
rows = []
for cap in [None if c == "none" else int(c) for c in caps.split(",")]:
    frame, frame_battles = cap_train_rows(corpus, battles, cap, 0)
    n_train = frame.filter(pl.col("split") == "train").height
    for kind in kinds:
        settings = config["routers"][kind]
        params = {**settings.get("params", {}), "max_train_examples": None} if kind == "causal_llm" else settings.get("params", {})
        start = time.time()
        router = train_router(kind, frame, frame_battles, params, 0, run / f"resources/models/{settings.get('backbone', 'encoder')}", encoder)
        scores = router.strong_win_rates(val.prompts)
        seconds = round(time.time() - start)
        rows.append({"kind": kind, "cap": str(cap), "train_rows": n_train, "battles": frame_battles.filter(pl.col("split") == "train").height,
                     "per_task": round(val.auc(scores, "per_task"), 4), "per_source": round(val.auc(scores, "per_source"), 4),
                     "pooled": round(val.auc(scores), 4), "seconds": seconds})
        logger.info(f"=== cap {cap}, {kind}: {n_train} train rows, {seconds} s; per-task {rows[-1]['per_task']}; {val.summary(scores)}")
        pl.DataFrame(rows).write_csv(f"{out}.csv")
