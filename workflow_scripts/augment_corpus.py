"""Augment the corpus' train rows (syntactic rewrites + WordNet expansion), then decontaminate again."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl

from ragrouter.common.io import setup_logging, write_csv, write_parquet
from ragrouter.data.decontaminate import EvalIndex, decontaminate
from ragrouter.method.augment.corpus import augment_corpus, augmentation_summary, load_nlp
from ragrouter.method.augment.semantic import load_wordnet

setup_logging(snakemake.log[0])  # noqa: F821
corpus = pl.read_parquet(snakemake.input.corpus)  # noqa: F821
augmented = augment_corpus(corpus, load_nlp(), load_wordnet(), snakemake.params.augment, snakemake.params.seed)  # noqa: F821
eval_prompts = pl.read_parquet(snakemake.input.evaluation)["prompt"].to_list()  # noqa: F821
augmented = decontaminate(augmented, EvalIndex(eval_prompts, n=snakemake.params.ngram), "augmented corpus")  # noqa: F821
write_parquet(augmented, snakemake.output.corpus)  # noqa: F821
write_csv(augmentation_summary(augmented), snakemake.output.summary)  # noqa: F821
