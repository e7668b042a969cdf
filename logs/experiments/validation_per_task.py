"""Issue 12: does the per-source validation metric still reward recognising the *task*?

RouterBench and RouterDC mix tasks whose strong-needed shares differ (RouterDC: ARC-Easy 6 %, GSM8K
train 49 %); MMLU and GSM8K are one task each. For the committed run's seed-0 validation files and
the full RAGRouter's parts (the classifier, the K-neighbour vote, their blend), the mean of
per-source ROC-AUCs against the mean of per-task ROC-AUCs (task: the corpus id's file part, as in
`validation_vs_benchmarks`), and the ROC-AUC of strong needed on all MMLU and GSM8K prompts. It
describes the metric; it chooses nothing. Needs the run's `resources/` (a checkout that ran it):
    python logs/experiments/validation_per_task.py RUN_CHECKOUT > logs/experiments/validation_per_task.out
"""

import sys

import numpy as np
import polars as pl

from ragrouter.evaluation.validation import MIN_PER_CLASS, roc_auc, stratified_auc
from ragrouter.method.classifier import FeatureTable, load, query_inputs

run = sys.argv[1]
FULL = "ragrouter_aug-on_sample-on_feat-on_rag-on"
corpus = pl.read_parquet(f"{run}/resources/corpus/corpus.parquet")
val = corpus.filter(pl.col("split") == "validation")
file_part = val["id"].str.split(":").list.get(1).str.replace(r"\.(test|dev|val|train)\.\d+$", "").str.replace(r"[-_ ]?\d+$", "").str.replace(r"_(train|test)$", "")
tasks = [f"{s}/{t}" if s in ("routerbench-zs", "routerdc-7models") else s for s, t in zip(val["source"], file_part, strict=True)]
pl.Config.set_tbl_rows(40)
pl.Config.set_fmt_str_lengths(60)
print(pl.DataFrame({"task": tasks, "label": val["label"]}).group_by("task").agg(pl.len().alias("rows"), pl.col("label").mean().round(2).alias("strong-needed share")).sort("task"))
labels, sources = val["label"].to_numpy(), val["source"].to_list()
print(f"strata with >= {MIN_PER_CLASS} rows of each label count; rows: {val.height}\n")

router = load(f"{run}/resources/routers/{FULL}/seed-0")
w = router.params["vote_weight"]


def parts(prompts: list[str], feature_file: str) -> dict[str, np.ndarray]:
    """The full RAGRouter's score and its two parts for these prompts."""
    router.features = FeatureTable([feature_file])
    inputs = query_inputs(router.kb, prompts, router.features, router.params, tokenizer=router.classifier.tokenizer, max_tokens=router.classifier.max_length)
    blend = router.strong_win_rates(prompts)
    return {"RAGRouter: classifier": (blend - w * inputs.vote) / (1 - w), "RAGRouter: neighbours' vote": inputs.vote, f"RAGRouter (w = {w})": blend}


benchmarks = {}
for name in ("mmlu", "gsm8k"):
    b = pl.read_parquet(f"{run}/resources/benchmarks/{name}.parquet")
    needed = ((b["strong"] > b["weak"])).to_numpy().astype(int)
    words = np.array([len(p.split()) for p in b["prompt"]], dtype=float)
    scores = {r: pl.read_parquet(f"{run}/results/scores/{name}/{r}/seed-0.parquet")["score"].to_numpy() for r in ("bert", "knn", "sw_ranking", "causal_llm", f"{FULL[:-6]}rag-off")}
    benchmarks[name] = (needed, {**scores, **parts(b["prompt"].to_list(), f"{run}/resources/ragrouter/features/feat-on/{name}.parquet"), "prompt_length": words})

validation = {r: pl.read_parquet(f"{run}/results/validation/{r}/seed-0.parquet")["score"].to_numpy() for r in ("bert", "knn", "sw_ranking", "causal_llm", f"{FULL[:-6]}rag-off")}
validation |= parts(val["prompt"].to_list(), f"{run}/resources/ragrouter/features/feat-on/augmented.parquet")
validation["prompt_length"] = np.array([len(p.split()) for p in val["prompt"]], dtype=float)
print("| score | validation mean per-source | validation mean per-task | MMLU ROC-AUC | GSM8K ROC-AUC |")
print("|---|---|---|---|---|")
for name, x in validation.items():
    print(f"| {name} | {stratified_auc(labels, x, sources):.3f} | {stratified_auc(labels, x, tasks):.3f} | "
          f"{roc_auc(benchmarks['mmlu'][0], benchmarks['mmlu'][1][name]):.3f} | {roc_auc(benchmarks['gsm8k'][0], benchmarks['gsm8k'][1][name]):.3f} |")
