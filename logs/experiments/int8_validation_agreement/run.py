"""Does int8 (ONNX Runtime dynamic quantisation) agree with float32 on each checkpoint's validation rows?

Usage: python logs/experiments/int8_validation_agreement/run.py RUN_CHECKOUT
For every fine-tuned classifier checkpoint of seed 0 (BERT router, the five RAGRouter variants): its
validation rows scored through onnx_int8 against the float32 scores its training wrote, Spearman and the
mean per-source ROC-AUC difference, and int8's speed on them (1 thread). Reads no benchmark prompt.
"""

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from scipy.stats import spearmanr

from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import FeatureTable
from ragrouter.routers.registry import load_checkpoint

run = Path(sys.argv[1])
torch.set_num_threads(1)
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet").filter(pl.col("split") == "validation")
routers = ["bert"] + [f"ragrouter_aug-{a}_sample-{s}_feat-{f}_rag-{r}" for a, s, f, r in
                      [("on", "on", "on", "on"), ("off", "on", "on", "on"), ("on", "off", "on", "on"), ("on", "on", "off", "on"), ("on", "on", "on", "off")]]
for name in routers:
    reference = pl.read_parquet(run / f"results/validation/{name}/seed-0.parquet")
    rows = corpus.join(reference.select("id", "score"), on="id", how="inner")
    assert rows.height == reference.height, name
    router = load_checkpoint(run / f"resources/routers/{name}/seed-0")
    if name.startswith("ragrouter"):
        feat = name.split("_feat-")[1].split("_")[0]
        router.features = FeatureTable([run / f"resources/ragrouter/features/feat-{feat}/augmented.parquet"])
    results = {}
    for backend in ("onnx", "onnx_int8"):
        router.use_backend(backend, 1)
        start = time.perf_counter()
        scores = router.strong_win_rates(rows["prompt"].to_list())
        results[backend] = (scores, time.perf_counter() - start)
    val = ValidationSet.of(rows)
    ref = rows["score"].to_numpy()
    for backend, (scores, seconds) in results.items():
        rho = spearmanr(scores, ref).statistic
        d = val.auc(scores, "per_source") - val.auc(ref, "per_source")
        print(f"{name:45s} {backend:10s} spearman {rho:.5f} max|diff| {np.abs(scores - ref).max():.2e} "
              f"d per-source AUC {d:+.4f} {rows.height / seconds:.1f} prompts/s", flush=True)
