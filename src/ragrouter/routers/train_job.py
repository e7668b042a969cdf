"""Train one router, or one RAGRouter variant's classifier, and save its checkpoint and validation
scores: the bodies of rules `train_router` and `train_ragrouter`, also runnable on their own so that
`accelerate launch` can start them in several processes (DDP, one per GPU; CPU processes with
ACCELERATE_USE_CPU=true):

    accelerate launch --multi_gpu --num_processes 4 -m ragrouter.routers.train_job job.json
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 -m ragrouter.routers.train_job job.json  # CPU, gloo

`job.json` holds `{"job": "TrainJob" | "RAGRouterJob", ...its fields}`. The fine-tuned classifiers
(`bert`, `causal_llm`, RAGRouter's) split every batch over the processes (`finetuning.fine_tune`);
only the main process writes. Config `processes: N` (default: `gpus`) makes the rules launch them
this way.
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
    """One router of `routers:` (any kind), trained on the corpus."""

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
    int8_check: bool = False  # also score the validation rows through onnx_int8 (inference_backend onnx_int8_checked)

    def run(self) -> None:
        """Train; the main process saves the checkpoint and the validation scores."""
        from ragrouter.routers.registry import make_encoder, train_router

        encoder = make_encoder(self.model_dir, [self.embeddings], self.embedding) if self.embeddings else None
        corpus = pl.read_parquet(self.corpus)
        router = train_router(self.kind, corpus, pl.read_parquet(self.battles), self.params, self.seed, self.model_dir, encoder)
        _save(router, corpus, self.checkpoint, self.validation, self.int8_check)


@dataclasses.dataclass
class RAGRouterJob:
    """One RAGRouter variant's classifier: RAG prompts from the KB's neighbours (`kb`), or bare
    queries (rag=off: `kb` None, every training row)."""

    corpus: str
    queries: str | None  # the query split (rag=on)
    kb: str | None
    features: str
    rag: dict[str, Any]
    classifier: dict[str, Any]
    fusion: dict[str, Any]
    fused: bool  # feat=on: the cross-modal fusion's vectors
    seed: int
    model_dir: str
    checkpoint: str
    validation: str
    int8_check: bool = False  # as TrainJob's

    def run(self) -> None:
        from ragrouter.common.seeding import seed_everything
        from ragrouter.method import classifier
        from ragrouter.method.fusion import feature_settings
        from ragrouter.method.knowledge_base import KnowledgeBase

        seed_everything(self.seed)
        corpus = pl.read_parquet(self.corpus)
        family_rows = corpus.filter(pl.col("split") == "train")
        kb = KnowledgeBase.load(self.kb) if self.kb else None
        rows = pl.read_parquet(self.queries) if self.kb else family_rows
        validation = corpus.filter(pl.col("split") == "validation")
        features = classifier.FeatureTable([self.features])
        router = classifier.train(rows, validation, kb, features, family_rows, self.rag, self.classifier, self.seed, self.model_dir)
        router.feature_settings = feature_settings(self.fusion, fused=self.fused)
        _save(router, validation, self.checkpoint, self.validation, self.int8_check)


def _save(router, corpus: pl.DataFrame, checkpoint: str, validation: str, int8_check: bool) -> None:
    from accelerate import PartialState

    from ragrouter.common.io import write_parquet
    from ragrouter.common.onnx_inference import INT8_COLUMN, int8_agreement
    from ragrouter.evaluation.validation import validation_rows, validation_scores
    from ragrouter.routers.registry import save_checkpoint

    if PartialState().is_main_process:
        save_checkpoint(router, checkpoint)
        frame = validation_scores(router, corpus, router.validation_scores)
        if int8_check and hasattr(router, "use_backend") and frame.height:
            import torch

            router.use_backend("onnx_int8", torch.get_num_threads())
            frame = frame.with_columns(pl.Series(INT8_COLUMN, router.strong_win_rates(validation_rows(corpus)["prompt"].to_list())))
            logger.info(f"int8 on the validation rows: {int8_agreement(frame)}")
        write_parquet(frame, validation)


JOBS = {cls.__name__: cls for cls in (TrainJob, RAGRouterJob)}


def train(job: TrainJob | RAGRouterJob, processes: int) -> None:
    """Run `job` in this process, or under `accelerate launch` with `processes` processes."""
    if processes > 1:
        launch(job, processes)
    else:
        job.run()


def launch(job: TrainJob | RAGRouterJob, processes: int) -> None:
    """Run `job` under `accelerate launch` with `processes` processes (GPUs when CUDA is present)
    and wait; their output goes to this process' stderr (the rule's log)."""
    import torch

    # torchrun-style processes; without CUDA accelerate needs ACCELERATE_USE_CPU for gloo DDP
    # (`accelerate launch --cpu --num_processes N` starts a single process unless MPI is configured)
    env = {**os.environ, **({} if torch.cuda.is_available() else {"ACCELERATE_USE_CPU": "true"})}
    with tempfile.TemporaryDirectory() as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps({"job": type(job).__name__, **dataclasses.asdict(job)}, indent=2))
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes), "-m", __name__, str(job_file)]
        logger.info(f"launching {' '.join(command)}")
        done = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{type(job).__name__}: `accelerate launch` with {processes} processes failed (exit {done.returncode}); its output is above")


def main(argv: list[str]) -> None:
    from ragrouter.common.io import setup_logging

    if len(argv) != 1:
        raise SystemExit("usage: python -m ragrouter.routers.train_job JOB.json")
    setup_logging(None)
    fields = json.loads(Path(argv[0]).read_text())
    JOBS[fields.pop("job")](**fields).run()


if __name__ == "__main__":
    main(sys.argv[1:])
