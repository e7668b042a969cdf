"""Exploratory (issue 13, item 4): what the RAGRouter classifier's input length costs and buys.
The 15 RAGRouter trainings and their scoring are most of a run; the classifier's max_length (the RAG
prompt is budgeted to it in tokens) sets both. The full variant (aug, sample, feat, rag on), config.yaml's
other classifier and RAG params, seeds 0 and 1, the reference run's inputs in resources/.
Per run: training seconds, scoring milliseconds per prompt (the 1,033 validation prompts: retrieval,
RAG prompts and the classifier, float32 torch and float32 ONNX Runtime, 2 threads), and the mean
per-source validation ROC-AUC by which every choice is made. No benchmark prompt is read."""
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

setup_logging(sys.argv[1])
torch.set_num_threads(2)
variant = "resources/ragrouter/aug-on_sample-on_feat-on"
kb = KnowledgeBase.load(f"{variant}/kb")
corpus = pl.read_parquet("resources/ragrouter/aug-on_sample-on.parquet")
rows = pl.read_parquet(f"{variant}/queries.parquet")
validation = corpus.filter(pl.col("split") == "validation")
features = classifier.FeatureTable(["resources/ragrouter/features/feat-on/augmented.parquet"])
val = ValidationSet.of(validation)
rag = {"neighbours": [2, 3, 4], "query_chars": 240, "neighbour_chars": 80}
base = {"epochs": 1, "train_dtype": "float32", "inference_dtype": "float32"}
results = []
for seed in (0, 1):
    for max_length in (128, 96, 64):
        seed_everything(seed)
        start = time.time()
        router = classifier.train(rows, validation, kb, features, corpus.filter(pl.col("split") == "train"), rag, {**base, "max_length": max_length}, seed, "resources/models/encoder")
        trained = time.time() - start
        router.features = features
        router.strong_win_rates(val.prompts[:64])
        start = time.time()
        scores = router.strong_win_rates(val.prompts)
        ms = (time.time() - start) / len(val.prompts) * 1000
        router.use_backend("onnx", 2)
        start = time.time()
        onnx_scores = router.strong_win_rates(val.prompts)
        onnx_ms = (time.time() - start) / len(val.prompts) * 1000
        router.use_backend("torch")
        results.append({"seed": seed, "max_length": max_length, "train_s": round(trained), "score_ms_per_prompt": round(ms, 1),
                        "onnx_ms_per_prompt": round(onnx_ms, 1), "onnx_max_abs_diff": float(abs(onnx_scores - scores).max()),
                        "pooled": round(val.auc(scores), 4), "per_source": round(val.auc(scores, "per_source"), 4)})
        logger.info(f"=== seed {seed} max_length {max_length}: train {trained:.0f} s, {ms:.1f} ms/prompt; validation {val.summary(scores)}")
        print(pl.DataFrame(results), flush=True)
pl.DataFrame(results).write_csv(sys.argv[1].replace(".log", ".csv"))
