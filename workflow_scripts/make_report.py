"""results/REPORT.md from the tables, score files, data stages, serving check and benchmark: timings of the run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from pathlib import Path

from ragrouter.common.io import setup_logging, write_text
from ragrouter.evaluation.report import (
    agreement_section,
    build_report,
    data_and_models_section,
    serving_section,
    validation_section,
)

setup_logging(snakemake.log[0])  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
table_paths = {t: f"results/{t}.csv" for t in params.tables}
benchmark_paths = {Path(p).stem: p for p in inputs.benchmarks}
stages = {name: inputs[key] for name, key in [("original corpus", "corpus"), ("augmented (aug)", "augmented"), ("PPL-sampled (aug, sample)", "sampled")] if key in inputs.keys()}
context = data_and_models_section(inputs.corpus_summary, stages, dict(params.models), params.subsample, dict(params.labels))
validation = {r: [f for f in inputs.validation if Path(f).parent.name == r] for r in params.names}
context += validation_section({r: files for r, files in validation.items() if files}, dict(params.names))
if "serving" in inputs.keys():
    context += serving_section(inputs.serving) + agreement_section(inputs.agreement, params.inference_backend)
text = build_report(params.tables, table_paths, benchmark_paths, list(inputs.scores), params.benchmark_dir, context=context, job_names=set(params.job_names))
write_text(text, snakemake.output[0])  # noqa: F821
