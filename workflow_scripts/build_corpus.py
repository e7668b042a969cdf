"""Build the unified training corpus and battle table, decontaminated and split."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging, write_csv, write_parquet
from ragrouter.data.corpus import (
    GRADED_SOURCES,
    assign_split,
    balance_within,
    build_corpus,
    cap_train_rows,
    grade_train_rows,
    label_summary,
    validation_prompts,
)
from ragrouter.data.decontaminate import EvalIndex, decontaminate

setup_logging(snakemake.log[0])  # noqa: F821
cfg = snakemake.params.corpus  # noqa: F821
data_root = Path(snakemake.input.datasets[0]).parent  # noqa: F821
judge = None
if snakemake.params.judge is not None:  # noqa: F821  (Arena-55k's label alignment)
    from ragrouter.method.augment.judge import JudgeClient

    judge = JudgeClient(snakemake.params.judge)  # noqa: F821
corpus, battles = build_corpus(data_root, cfg["sources"], judge=judge)
if judge is not None:
    logger.info(f"judge: {judge.stats}")
logger.info(f"raw corpus: {corpus.height} rows; battles: {battles.height}")

eval_prompts = pl.read_parquet(snakemake.input.evaluation)["prompt"].to_list()  # noqa: F821
index = EvalIndex(eval_prompts, n=cfg["ngram"])
corpus = decontaminate(corpus, index, "corpus")
battles = decontaminate(battles, index, "battles")

validation = validation_prompts(corpus, cfg["validation_fraction"], cfg["split_seed"])
corpus, battles = assign_split(corpus, validation), assign_split(battles, validation)
if cfg.get("labels", "pair") == "graded":
    corpus = grade_train_rows(corpus, build_corpus(data_root, [s for s in cfg["sources"] if isinstance(s, str) and s in GRADED_SOURCES], "graded")[0])
corpus, battles = cap_train_rows(corpus, battles, cfg.get("max_train_rows_per_source"), cfg["split_seed"])
if cfg.get("balance", "none") != "none":
    corpus = balance_within(corpus, cfg["split_seed"], cfg["balance"].removeprefix("within_"))
summary = label_summary(corpus)
for row in summary.iter_rows(named=True):
    logger.info(f"corpus source {row['source']}: {row['rows']} rows, strong share {row['strong_share']:.3f}, mean weak score {row['mean_weak_score']:.2f}")
for row in corpus.group_by("split").agg(pl.len(), pl.col("label").mean()).sort("split").iter_rows():
    logger.info(f"split {row[0]}: {row[1]} rows, strong share {row[2]:.3f}")
write_parquet(corpus, snakemake.output.corpus)  # noqa: F821
write_parquet(battles, snakemake.output.battles)  # noqa: F821
write_csv(summary, snakemake.output.summary)  # noqa: F821
