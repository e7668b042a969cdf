"""Does blending the K-neighbour label vote into RAGRouter's classifier score help on validation?
score = (1 - w) * classifier strong win rate + w * mean strong label of the K retrieved neighbours;
w is chosen on the validation split by the mean per-source ROC-AUC (issue 12). Benchmarks are
printed for information only (never used to choose). Reads a finished run's resources/ and results/.
Usage: python logs/experiments/ragrouter_vote_blend.py <run checkout> <log>"""

import sys
from pathlib import Path

import numpy as np
import polars as pl

from ragrouter.data.benchmarks import BENCHMARKS
from ragrouter.evaluation.metrics import evaluate_router
from ragrouter.evaluation.validation import ValidationSet, per_source_auc, roc_auc
from ragrouter.method.classifier import FeatureTable
from ragrouter.routers.registry import load_checkpoint

run, log = Path(sys.argv[1]), Path(sys.argv[2])
variant = "ragrouter_aug-on_sample-on_feat-on_rag-on"
router = load_checkpoint(run / f"resources/routers/{variant}/seed-0")
K = router.params["neighbours"]
lines = [f"{variant} seed 0: K = {K}"]


def vote(prompts, feature_file):
    router.features = FeatureTable([feature_file])
    ids, _ = router.kb.search(router.features(prompts), K)
    labels = np.where(ids >= 0, router.kb.labels[np.maximum(ids, 0)], np.nan)
    return np.where(np.isnan(np.nanmean(labels, 1)), 0.5, np.nanmean(labels, 1))


validation = pl.read_parquet(run / f"results/validation/{variant}/seed-0.parquet")
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet").filter(pl.col("split") == "validation")
val_rows = validation.join(corpus.select("id", "prompt"), on="id", how="left", maintain_order="left")
v = vote(val_rows["prompt"].to_list(), run / "resources/ragrouter/features/feat-on/augmented.parquet")
val = ValidationSet(val_rows["prompt"].to_list(), val_rows["label"].to_numpy(), val_rows["source"].to_list())
grid = [0.0, 0.25, 0.5, 0.75, 1.0]
chosen, best = None, -1.0
for w in grid:
    s = (1 - w) * val_rows["score"].to_numpy() + w * v
    auc = val.auc(s, "per_source")
    per = ", ".join(f"{k} {x:.3f}" for k, x in per_source_auc(val.labels, s, val.sources).items())
    lines.append(f"validation w={w:.2f}: mean per-source {auc:.4f}, pooled {roc_auc(val.labels, s):.4f} ({per})")
    if auc > best + 1e-9:
        chosen, best = w, auc
lines.append(f"chosen on validation: w = {chosen}")
for benchmark in ["mmlu", "gsm8k"]:
    bench = pl.read_parquet(run / f"resources/benchmarks/{benchmark}.parquet")
    scored = pl.read_parquet(run / f"results/scores/{benchmark}/{variant}/seed-0.parquet")
    b = scored.select("row", "score").join(bench, on="row", how="left", maintain_order="left")
    bv = vote(b["prompt"].to_list(), run / f"resources/ragrouter/features/feat-on/{benchmark}.parquet")
    strong, weak = b["strong"].to_numpy(), b["weak"].to_numpy()
    needed = (strong > weak).astype(np.int64)
    for w in grid:
        s = (1 - w) * b["score"].to_numpy() + w * bv
        m = evaluate_router(variant, [s], strong, weak, BENCHMARKS[benchmark].scale).metrics
        lines.append(f"{benchmark} ({b.height} prompts, information only) w={w:.2f}: APGR {m['APGR']:.4f}, CPT(50%) {m['CPT(50%)']:.1f}, ROC-AUC of strong-needed {roc_auc(needed, s):.4f}")
log.write_text("\n".join(lines) + "\n")
print("\n".join(lines))
