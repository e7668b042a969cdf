"""Compare a rerun's RAGRouter score files with the committed ones (issue 16: same inputs, same
scores on another CPU). Usage: python logs/experiments/cross_isa_rerun.py <rerun checkout> <log>"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

rerun, log = Path(sys.argv[1]), Path(sys.argv[2])
variant = "ragrouter_aug-on_sample-on_feat-on_rag-on"
lines = []
for benchmark in ["mmlu", "gsm8k"]:
    rel = f"results/scores/{benchmark}/{variant}/seed-0.parquet"
    committed, again = pl.read_parquet(rel), pl.read_parquet(rerun / rel)
    assert committed["prompt_sha1"].to_list() == again["prompt_sha1"].to_list(), rel
    diff = np.abs(committed["score"].to_numpy() - again["score"].to_numpy())
    rho = spearmanr(committed["score"], again["score"]).statistic
    lines.append(f"{rel}: {committed.height} prompts, max |diff| {diff.max():.3g}, mean |diff| {diff.mean():.3g}, Spearman {rho:.9f}")
for name in [rerun / "logs/sample_corpus/aug-on.log"]:  # the sample this variant trains on
    draws = [ln.split("| ", 2)[-1] for ln in name.read_text().splitlines() if "weighted draw" in ln]
    committed_draws = [ln.split("| ", 2)[-1] for ln in Path("logs/sample_corpus", name.name).read_text().splitlines() if "weighted draw" in ln]
    lines.append(f"logs/sample_corpus/{name.name}: rerun {draws} committed {committed_draws}")
log.write_text("\n".join(lines) + "\n")
print("\n".join(lines))
