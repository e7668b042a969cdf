"""A fast CPU path for the fine-tuned sequence classifiers (the BERT router, RAGRouter's classifier):
the model, with its feature head, exported to ONNX and run by ONNX Runtime, optionally with its
weights quantised to int8 (dynamic, per-channel scales). The torch float32 path stays the reference;
`evaluation.metrics.agreement` says how far a fast path's scores are from it, and a workflow uses
a fast path only where its config names it (`inference_backend`). `onnx_int8_checked` decides per
checkpoint: int8 where it agrees with float32 on the checkpoint's validation rows (`int8_agreement`,
recorded in its validation file by the training job), the float32 ONNX path elsewhere.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.evaluation.metrics import FAST_PATH_BAR, INT8_COLUMN, int8_agreement

BACKENDS = ("torch", "onnx", "onnx_int8")
CHECKED_INT8 = "onnx_int8_checked"  # `inference_backend` value: onnx_int8 where `int8_agreement` passes, else onnx


class _Logits(torch.nn.Module):
    """What is exported: the classifier's logits, plus the feature head's share when it has one."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module | None) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits if self.head is None else logits + self.head(features)


class OnnxClassifier:
    """`model` (+ `head`) as an ONNX Runtime session on `threads` threads; called with numpy batches,
    it returns float32 logits. Exported (and quantised) once, in a private temporary folder."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module | None, backend: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        if backend not in BACKENDS[1:]:
            raise ValueError(f"inference_backend must be one of {list(BACKENDS)}, got {backend!r}")
        self.backend, self.with_features = backend, head is not None
        # Dynamic quantisation scales each call's activations by that call's range (padding included),
        # so int8 scores a batch of prompts one at a time: a prompt's score then never depends on the
        # prompts batched with it (the workflow's score file and a served prompt agree exactly); on one
        # thread this is also faster than padded batches (10.3 vs 11.6 ms per RAG prompt, 96 tokens).
        self.per_prompt = backend == "onnx_int8"
        self._folder = tempfile.TemporaryDirectory(prefix="ragrouter-onnx-")
        path = Path(self._folder.name) / "model.onnx"
        # a copy: tracing leaves the traced model's masking changed (its torch scores moved by up to 0.085)
        module = copy.deepcopy(_Logits(model, head)).eval()
        # a padded example: traced on a full mask, transformers' masking would be exported as "no mask"
        example = (torch.ones((2, 8), dtype=torch.long), torch.tensor([[1] * 8, [1] * 5 + [0] * 3]))
        axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
        if head is not None:
            example += (torch.zeros((2, head.in_features), dtype=torch.float32),)
            axes["features"] = {0: "batch"}
        with torch.inference_mode():
            torch.onnx.export(module, example, path, input_names=list(axes), output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
        if backend == "onnx_int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = path.with_name("model.int8.onnx")
            # per-channel scales: Spearman with float32 0.997 / 0.992 (MMLU / GSM8K), per-tensor 0.987 / 0.955
            quantize_dynamic(path, quantized, weight_type=QuantType.QInt8, per_channel=True)
            path = quantized
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep, leaving the cores to torch and spaCy between calls
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        logger.info(f"ONNX Runtime {ort.__version__}: {backend} classifier on {options.intra_op_num_threads} threads ({path.stat().st_size / 1e6:.1f} MB)")

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        if self.with_features:
            feed["features"] = features.astype(np.float32)
        return self.session.run(["logits"], feed)[0]


def checked_backend(validation_file: str | Path) -> str:
    """The backend `onnx_int8_checked` scores a checkpoint with, from its validation file."""
    validation = pl.read_parquet(validation_file)
    if INT8_COLUMN not in validation.columns:
        raise ValueError(f"{validation_file}: no {INT8_COLUMN} column; retrain with inference_backend {CHECKED_INT8} to check int8 on validation")
    result = int8_agreement(validation)
    backend = "onnx_int8" if result["passes"] else "onnx"
    logger.info(
        f"{validation_file}: int8 vs float32 on {validation.height} validation rows: Spearman {result['spearman']:.5f}, "
        f"mean per-source ROC-AUC {result['auc_diff']:+.4f} (bar {FAST_PATH_BAR['spearman']}, {FAST_PATH_BAR['apgr_diff']}): scoring with {backend}"
    )
    return backend


def configured_backend(configured: str, validation_file: str | Path | None) -> str:
    """The backend a checkpoint scores with under `inference_backend: configured`."""
    return checked_backend(validation_file) if configured == CHECKED_INT8 else configured
