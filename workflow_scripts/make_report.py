"""results/REPORT.md from the tables, score files, data stages, serving check and benchmark: timings of the run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from pathlib import Path

from ragrouter.common.io import setup_logging, write_text
from ragrouter.evaluation.report import report_from_files

setup_logging(snakemake.log[0])  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
text = report_from_files(
    params.tables,
    {t: f"results/{t}.csv" for t in params.tables},
    {Path(p).stem: p for p in inputs.benchmarks},
    inputs.scores,
    inputs.validation,
    dict(params.names),
    inputs.corpus_summary,
    inputs.stage_summary,
    dict(params.models),
    params.subsample,
    dict(params.labels),
    set(params.job_names),
    serving=inputs.get("serving"),
    agreement=inputs.get("agreement"),
    inference_backend=params.inference_backend,
    benchmark_dir=params.benchmark_dir,
)
write_text(text, snakemake.output[0])  # noqa: F821
