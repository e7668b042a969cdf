"""Exploratory (issue 12, item 5): does RAGRouter rank difficulty better within sources when the
parse's structure statistics and the K neighbours' labels join its query vector as numbers, and
does the zero-initialised feature head need its own learning rate to use them?
The full variant (aug, sample, feat, rag on), seed 0, config.yaml's classifier and RAG params, the
reference run's inputs in resources/ (corpus, sampled corpus, knowledge base, features). Scored on
the corpus' validation rows (routed-pair labels): mean per-source ROC-AUC, as every choice is made."""
import sys
import time

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.common.seeding import seed_everything
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method import classifier
from ragrouter.method.knowledge_base import KnowledgeBase
from ragrouter.routers.prompt_length import PromptLengthRouter

setup_logging(sys.argv[1])
torch.set_num_threads(2)
variant = "resources/ragrouter/aug-on_sample-on_feat-on"
kb = KnowledgeBase.load(f"{variant}/kb")
corpus = pl.read_parquet("resources/ragrouter/aug-on_sample-on.parquet")
rows = pl.read_parquet(f"{variant}/queries.parquet")
validation = corpus.filter(pl.col("split") == "validation")
features = classifier.FeatureTable(["resources/ragrouter/features/feat-on/augmented.parquet"])
val = ValidationSet.of(validation)
logger.info(f"prompt_length control: {val.summary(PromptLengthRouter().strong_win_rates(val.prompts))}")
rag = {"neighbours": [2, 3, 4], "query_chars": 240, "neighbour_chars": 80}
base = {"max_length": 128, "epochs": 1, "train_dtype": "float32", "inference_dtype": "float32"}
results = []
for name, numeric, extra in [
    ("query vector only (before)", [], {}),
    ("+ numbers", ["structure", "neighbours"], {}),
    ("+ numbers, feature head lr 1e-2", ["structure", "neighbours"], {"feature_learning_rate": 1e-2}),
]:
    seed_everything(0)
    start = time.time()
    router = classifier.train(rows, validation, kb, features, corpus.filter(pl.col("split") == "train"), {**rag, "numeric_features": numeric}, {**base, **extra}, 0, "resources/models/encoder")
    router.features = features
    scores = router.strong_win_rates(val.prompts)
    results.append({"run": name, "pooled": round(val.auc(scores), 4), "per_source": round(val.auc(scores, "per_source"), 4), "seconds": round(time.time() - start)})
    logger.info(f"=== {name}: {time.time() - start:.0f} s; validation {val.summary(scores)}")
    print(pl.DataFrame(results), flush=True)
