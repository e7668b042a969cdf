"""Does the query's perplexity (issue 12 item 5) add a within-task difficulty signal to RAGRouter's
structure prior?  Validation rows only; no benchmark prompt is read.

On a trained RAGRouter checkpoint (seed 0 of a variant), rebuilds the validation rows exactly as
`classifier.train` scores them (`validation_retrieval`, each row with and without its own task in
retrieval), recomputes the blended score at the checkpoint's K and w, and replays `choose_prior` with
candidate statistic sets that add log PPL (the causal LM's perplexity at the settings the dynamic
sampling uses: `prompt_perplexity`'s file for the training rows, the same function for the
validation rows). Also reports each choice under the pair-weighted per-task ROC-AUC
(`validation.pair_weighted_auc`) next to the mean of per-task ROC-AUCs the workflow uses, and the
bootstrap standard errors of the choices' gaps.

Usage (repository root of a run whose rules train_ragrouter and prompt_perplexity have run):
    python logs/experiments/perplexity_prior/run.py <run dir> [variant] [seed]
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from loguru import logger
from sklearn.linear_model import LogisticRegression

from ragrouter.common.io import resolve_params
from ragrouter.evaluation.validation import MIN_PER_CLASS, ValidationSet, pair_weighted_auc
from ragrouter.method import classifier as C
from ragrouter.method.fusion import STRUCTURE_STATISTICS
from ragrouter.method.knowledge_base import KnowledgeBase
from ragrouter.method.perplexity import perplexities

run = Path(sys.argv[1])
variant = sys.argv[2] if len(sys.argv) > 2 else "aug-on_sample-on_feat-on"
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
logger.remove()
logger.add(sys.stdout, format="{message}", level="INFO")

aug, sample = variant.split("_")[0].split("-")[1], variant.split("_")[1].split("-")[1]
# the variant's training corpus, as rule train_ragrouter reads it (`ragrouter_corpus` in rules/common.smk)
corpus = pl.read_parquet(run / (f"resources/ragrouter/aug-{aug}_sample-on.parquet" if sample == "on" else "resources/ragrouter/augmented.parquet" if aug == "on" else "resources/corpus/corpus.parquet"))
family_rows = corpus.filter(pl.col("split") == "train")
validation = corpus.filter(pl.col("split") == "validation")
rows = pl.read_parquet(run / f"resources/ragrouter/{variant}/queries.parquet")
router = C.load(run / f"resources/routers/ragrouter_{variant}_rag-on/seed-{seed}")
kb = KnowledgeBase.load(run / f"resources/ragrouter/{variant}/kb")
features = C.FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"])
p = router.params
settings = resolve_params({"max_length": 128, "batch_size": 16}, yaml.safe_load((run / "config.yaml").read_text())["ragrouter"]["perplexity"], "perplexity")

val_rows, exclude = C.validation_rows(validation, kb, family_rows, p["validation_retrieval"])
val = ValidationSet.of(val_rows)
inputs = C.query_inputs(kb, val_rows["prompt"].to_list(), features, p, exclude, router.classifier.tokenizer, router.classifier.max_length)
probs = router.classifier.logits(inputs.texts, C.joined_features(inputs.vectors, inputs.numbers, p["numeric_scaling"])).softmax(-1).numpy()
clf = probs[:, :3].sum(1)  # P(weak score <= 3), the router's strong win rate
expected_score = probs @ np.arange(1, 6)  # the same distribution read as an ordinal score
score = C.blend_vote(clf, inputs.vote, p["vote_weight"])
train_stats = features.vectors_and_statistics(rows["prompt"].to_list())[1]
train_tasks = C.tasks_of([C.family(i) for i in rows["id"]], rows["source"])
labels = rows["label"].to_numpy()

ppl_train = dict(pl.read_parquet(run / "resources/ragrouter/perplexity.parquet").iter_rows())
missing = [q for q in rows["prompt"] if q not in ppl_train]
logger.info(f"{rows.height} training rows ({len(missing)} without a PPL, given the median); {val_rows.height} validation rows (with and without own task), K = {p['neighbours']}, w = {p['vote_weight']}")
val_prompts = validation["prompt"].to_list()
ppl_val = dict(zip(val_prompts, perplexities(val_prompts, run / "resources/models/causal_lm", settings["max_length"], settings["batch_size"], progress=False), strict=True))
median = float(np.nanmedian(list(ppl_train.values())))
log_ppl_train = np.log([ppl_train.get(q, median) for q in rows["prompt"]])
log_ppl_val = np.log([ppl_val[q] for q in val_rows["prompt"]])

names = [*STRUCTURE_STATISTICS, "log_ppl"]
x_train = np.column_stack([train_stats, log_ppl_train])
x_val = np.column_stack([inputs.statistics, log_ppl_val])


def report(label: str, s: np.ndarray) -> tuple[float, float]:
    a, b = val.auc(s, "per_task"), pair_weighted_auc(val.labels, s, val.tasks)
    logger.info(f"{label:58s} per-task mean {a:.4f}   pair-weighted {b:.4f}")
    return a, b


report("classifier alone", clf)
report("classifier read as -E[weak score]", -expected_score)
report("K-neighbour vote alone", inputs.vote)
report(f"(1 - w) classifier + w vote, w = {p['vote_weight']}", score)
for j, n in enumerate(names):
    report(f"statistic alone: {n}", x_val[:, j])

candidates = [["log_words"], ["log_ppl"], ["log_words", "log_ppl"], list(STRUCTURE_STATISTICS), names]
best = {}
for cand in candidates:
    cols = [names.index(n) for n in cand]
    xt, xv = x_train[:, cols], x_val[:, cols]
    mean, std = xt.mean(0), np.where(xt.std(0) > 1e-8, xt.std(0), 1.0)
    model = LogisticRegression(max_iter=1000).fit((xt - mean) / std, labels, sample_weight=C.task_balanced_weights(labels, train_tasks))
    prior = ((xv - mean) / std) @ model.coef_[0]
    q = {"score": C.reference_quantiles(score), "prior": C.reference_quantiles(prior)}
    logger.info(f"prior on {cand}: coefficients {np.round(model.coef_[0], 3).tolist()}")
    for a in (0.0, 0.25, 0.5, 0.75, 1.0):
        s = C.blend_prior(score, prior, a, q) if a < 1 else prior
        best[(tuple(cand), a)] = report(f"   a = {a}", s)
grid = [k for k in best if k[1] < 1]  # the workflow's prior_weight grid stops at 0.75
for i, metric in enumerate(("per-task mean", "pair-weighted")):
    for pool in (candidates[:1] + candidates[3:4], candidates):
        keys = [k for k in grid if list(k[0]) in pool]
        k = max(keys, key=lambda k: (round(best[k][i], 4), -k[1]))
        logger.info(f"choice by the {metric} among {[c for c in pool]}: {list(k[0])}, a = {k[1]} ({metric} {best[k][i]:.4f}; the other metric {best[k][1 - i]:.4f})")

# where the signal sits: each task's ROC-AUC (tasks with MIN_PER_CLASS rows of each label)
tasks, y = np.asarray(val.tasks), val.labels
columns = {"words": x_val[:, 0], "log_ppl": x_val[:, -1], "vote": inputs.vote, "classifier": clf, "score": score}
logger.info(f"{'task':48s} {'pos':>4s} {'neg':>4s} " + " ".join(f"{c:>10s}" for c in columns))
for t in sorted(set(tasks.tolist())):
    m = tasks == t
    if min(int((y[m] == 1).sum()), int((y[m] == 0).sum())) >= MIN_PER_CLASS:
        aucs = [ValidationSet([], y[m], ["x"] * int(m.sum())).auc(v[m]) for v in columns.values()]
        logger.info(f"{t:48s} {int((y[m] == 1).sum()):4d} {int((y[m] == 0).sum()):4d} " + " ".join(f"{a:10.3f}" for a in aucs))

# how much of this is noise: bootstrap the validation rows (resampled within each task and label, 200
# times, seed 0) and read the standard error of the per-task mean and of the gaps the grids choose by
rng = np.random.default_rng(0)
strata = [np.flatnonzero((tasks == t) & (y == c)) for t in sorted(set(tasks.tolist())) for c in (0, 1)]
words_prior = C.blend_prior(score, x_val[:, 0], 0.5, {"score": C.reference_quantiles(score), "prior": C.reference_quantiles(x_val[:, 0])})
compared = {"classifier": clf, "vote": inputs.vote, "w = 0.5 blend": score, "a = 0.5 words prior": words_prior}
draws = {k: [] for k in compared}
for _ in range(200):
    idx = np.concatenate([rng.choice(s, len(s)) for s in strata])
    sub = ValidationSet([], y[idx], [""] * len(idx), tasks[idx].tolist())
    for k, v in compared.items():
        draws[k].append(sub.auc(v[idx], "per_task"))
draws = {k: np.asarray(v) for k, v in draws.items()}
for k, v in draws.items():
    logger.info(f"bootstrap per-task mean of {k:22s} {v.mean():.4f} ± {v.std():.4f} (SE)")
for a, b in (("w = 0.5 blend", "classifier"), ("a = 0.5 words prior", "w = 0.5 blend"), ("vote", "classifier")):
    d = draws[a] - draws[b]
    logger.info(f"gap {a} - {b}: {d.mean():+.4f} ± {d.std():.4f} (SE), 95% [{np.quantile(d, 0.025):+.4f}, {np.quantile(d, 0.975):+.4f}]")
