# RAGRouter: train LLM routers and evaluate them with RouteLLM's metrics.
# `snakemake --cores 2` builds every table from raw data; see README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/features.smk"
include: "rules/routers.smk"
include: "rules/ragrouter.smk"
include: "rules/evaluate.smk"
include: "rules/serving.smk"


rule all:
    input:
        expand("results/{table}.csv", table=config["tables"]),
        expand("results/metrics/{benchmark}.json", benchmark=config["benchmarks"]),
        expand("results/plots/{benchmark}.png", benchmark=config["benchmarks"]),
        "results/data/train_prompt_sha1.txt.gz",
        "results/REPORT.md",
    default_target: True
