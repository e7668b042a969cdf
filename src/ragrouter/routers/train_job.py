"""Train one router and save its checkpoint and validation scores: the body of rule `train_router`,
also runnable on its own so that `accelerate launch` can start it in several processes (DDP, one per
GPU; CPU processes with ACCELERATE_USE_CPU=true):

    accelerate launch --multi_gpu --num_processes 4 -m ragrouter.routers.train_job job.json
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 -m ragrouter.routers.train_job job.json  # CPU, gloo

`job.json` holds the `TrainJob` fields. The fine-tuned classifiers (`bert`, `causal_llm`) split
every batch over the processes (`finetuning.fine_tune`); only the main process writes. Config
`routers.<id>.processes: N` makes the rule launch it this way.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from loguru import logger


@dataclasses.dataclass
class TrainJob:
    kind: str
    corpus: str
    battles: str
    params: dict[str, Any]
    seed: int
    model_dir: str
    checkpoint: str
    validation: str
    embeddings: str | None = None  # cached sentence embeddings (kinds that read them)
    embedding: dict[str, Any] = dataclasses.field(default_factory=dict)  # their encoder settings


def run(job: TrainJob) -> None:
    """Train; the main process saves the checkpoint and the validation scores."""
    from accelerate import PartialState

    from ragrouter.common.io import write_parquet
    from ragrouter.evaluation.validation import validation_scores
    from ragrouter.routers.registry import make_encoder, save_checkpoint, train_router

    encoder = make_encoder(job.model_dir, [job.embeddings], job.embedding) if job.embeddings else None
    corpus = pl.read_parquet(job.corpus)
    router = train_router(job.kind, corpus, pl.read_parquet(job.battles), job.params, job.seed, job.model_dir, encoder)
    if PartialState().is_main_process:
        save_checkpoint(router, job.checkpoint)
        write_parquet(validation_scores(router, corpus), job.validation)


def launch(job: TrainJob, processes: int) -> None:
    """Run `job` under `accelerate launch` with `processes` processes (GPUs when CUDA is present)
    and wait; their output goes to this process' stderr (the rule's log)."""
    import torch

    # torchrun-style processes; without CUDA accelerate needs ACCELERATE_USE_CPU for gloo DDP
    # (`accelerate launch --cpu --num_processes N` starts a single process unless MPI is configured)
    env = {**os.environ, **({} if torch.cuda.is_available() else {"ACCELERATE_USE_CPU": "true"})}
    with tempfile.TemporaryDirectory() as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(dataclasses.asdict(job), indent=2))
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes), "-m", __name__, str(job_file)]
        logger.info(f"launching {' '.join(command)}")
        done = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{job.kind}: `accelerate launch` with {processes} processes failed (exit {done.returncode}); its output is above")


def main(argv: list[str]) -> None:
    from ragrouter.common.io import setup_logging

    if len(argv) != 1:
        raise SystemExit("usage: python -m ragrouter.routers.train_job JOB.json")
    setup_logging(None)
    run(TrainJob(**json.loads(Path(argv[0]).read_text())))


if __name__ == "__main__":
    main(sys.argv[1:])
