"""Build the unified training corpus and battle table, decontaminated and split."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging, write_csv, write_parquet
from ragrouter.data.corpus import label_summary, prepare_corpus

setup_logging(snakemake.log[0])  # noqa: F821
judge = None
if snakemake.params.judge is not None:  # noqa: F821  (Arena-55k's label alignment)
    from ragrouter.method.augment.judge import JudgeClient

    judge = JudgeClient(snakemake.params.judge)  # noqa: F821
evaluation_prompts = pl.read_parquet(snakemake.input.evaluation)["prompt"].to_list()  # noqa: F821
data_root = Path(snakemake.input.datasets[0]).parent  # noqa: F821
corpus, battles = prepare_corpus(data_root, snakemake.params.corpus, evaluation_prompts, judge)  # noqa: F821
summary = label_summary(corpus)
for row in summary.iter_rows(named=True):
    logger.info(f"corpus source {row['source']}: {row['rows']} rows, strong share {row['strong_share']:.3f}, mean weak score {row['mean_weak_score']:.2f}")
for row in corpus.group_by("split").agg(pl.len(), pl.col("label").mean()).sort("split").iter_rows():
    logger.info(f"split {row[0]}: {row[1]} rows, strong share {row[2]:.3f}")
write_parquet(corpus, snakemake.output.corpus)  # noqa: F821
write_parquet(battles, snakemake.output.battles)  # noqa: F821
write_csv(summary, snakemake.output.summary)  # noqa: F821
