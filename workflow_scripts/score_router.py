"""Score every benchmark with one trained router checkpoint (loaded once)."""

import sys
import time

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.common.onnx_inference import configured_backend
from ragrouter.method.classifier import FeatureTable
from ragrouter.routers.base import write_scores
from ragrouter.routers.registry import attach_embeddings, check_checkpoint_settings, load_checkpoint

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs = snakemake.input  # noqa: F821
check_checkpoint_settings(inputs.checkpoint, snakemake.params.kind, snakemake.params.params)  # noqa: F821
router = load_checkpoint(inputs.checkpoint)
if hasattr(router, "use_backend"):  # the fine-tuned sequence classifiers: torch, or an ONNX Runtime path
    router.use_backend(configured_backend(snakemake.params.inference_backend, inputs.get("validation")), snakemake.threads)  # noqa: F821
if "lower_states" in inputs.keys():  # a causal LLM with frozen lower layers: their states, computed once for all seeds
    router.attach_lower_states(inputs.lower_states)
if "embeddings" in inputs.keys():
    attach_embeddings(router, inputs.embeddings)
if "features" in inputs.keys():  # RAGRouter: the benchmarks' query vectors for retrieval
    router.features = FeatureTable(inputs.features)
for path, output in zip(inputs.benchmarks, snakemake.output, strict=True):  # noqa: F821
    benchmark = pl.read_parquet(path)
    start = time.perf_counter()
    scores = router.strong_win_rates(benchmark["prompt"].to_list())
    elapsed = time.perf_counter() - start
    logger.info(f"{path}: scored {benchmark.height} prompts in {elapsed:.1f} s ({benchmark.height / max(elapsed, 1e-9):.1f} prompts/s)")
    write_scores(benchmark, scores, output)
