"""Fine-tuning helpers shared by the classifiers that train a torch backbone (the BERT and causal-LLM
routers, RAGRouter's classifier): precision, threads, corpus split, padding, length-bucketed batches,
the learning-rate schedule, epoch selection and the router.json checkpoint metadata.

Everything here is deterministic given a seed: batch orders come from a numpy Generator
(`ragrouter.common.seeding` fixes the global generators).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.data.validate import CORPUS, check_table

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def set_threads(threads: int | None) -> None:
    """`torch.set_num_threads(threads)` when given; None leaves torch's setting as it is."""
    if threads is not None:
        torch.set_num_threads(int(threads))


def fast_bfloat16() -> bool:
    """bfloat16 pays off on a GPU or an AVX-512 CPU; on an AVX2-only CPU it is emulated and a
    matmul measured ~140x slower than float32 (AMD EPYC, torch 2.13)."""
    return torch.cuda.is_available() or torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def concrete_dtype(name: str) -> str:
    """"auto" -> "bfloat16" where it is fast (see `fast_bfloat16`), else "float32"."""
    if name == "auto":
        return "bfloat16" if fast_bfloat16() else "float32"
    return name


def dtype_of(name: str, where: str) -> torch.dtype:
    name = concrete_dtype(name)
    if name not in DTYPES:
        raise ValueError(f"{where}: dtype must be one of {sorted(DTYPES)} or auto, got {name!r}")
    return DTYPES[name]


def cast_parameters(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast the parameters only; buffers keep their dtype. `module.to(bfloat16)` would also round
    buffers such as the rotary `inv_freq` to bfloat16, which garbles positions; loading with
    `from_pretrained(dtype=...)` keeps them in float32, and so does this."""
    for param in module.parameters():
        if param.dtype != dtype and param.is_floating_point():
            param.data = param.data.to(dtype)
    if hasattr(module, "config"):
        module.config.dtype = dtype
    return module


def autocast(dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """CPU autocast to bfloat16 (fp32 master weights); a no-op for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=dtype)


def split_corpus(corpus: pl.DataFrame, where: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The corpus' train and validation rows (see `ragrouter.data.corpus` for the schema)."""
    corpus = check_table(corpus, CORPUS, where)
    train = corpus.filter(pl.col("split") == "train")
    validation = corpus.filter(pl.col("split") == "validation")
    if train.height == 0:
        raise ValueError(f"{where}: the corpus has no split == 'train' rows")
    return train, validation


def subsample(frame: pl.DataFrame, n: int | None, seed: int) -> pl.DataFrame:
    """A seeded random subset of `n` rows (all rows when n is None or not smaller)."""
    if n is None or n >= frame.height:
        return frame
    idx = np.sort(np.random.default_rng(seed).permutation(frame.height)[: int(n)])
    return frame[idx.tolist()]


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad token lists: (input_ids, attention_mask, index of each row's last real token)."""
    width = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    last = torch.as_tensor([len(s) - 1 for s in seqs], dtype=torch.long)
    return ids, mask, last


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Inference batches of similar length (longest first), so little compute goes to padding."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator, pool: int = 50) -> list[np.ndarray]:
    """Training batches: shuffle, sort within pools of `pool` batches by length, cut into batches
    and shuffle the batches - random order with little padding."""
    lengths = np.asarray(lengths)
    perm = rng.permutation(len(lengths))
    batches = []
    chunk = batch_size * pool
    for start in range(0, len(perm), chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `warmup_ratio` of the steps, then linear decay to zero."""
    warmup = max(1, int(round(warmup_ratio * total_steps))) if warmup_ratio > 0 else 0
    total = max(total_steps, warmup + 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def adamw_with_schedule(parameters: list, p: dict[str, Any], steps_per_epoch: int) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over `parameters` (tensors, or param groups with their own `lr`) with `linear_schedule`
    over every step of `p["epochs"]` epochs."""
    optimizer = torch.optim.AdamW(parameters, lr=p["learning_rate"], weight_decay=p["weight_decay"])
    return optimizer, linear_schedule(optimizer, steps_per_epoch * p["epochs"], p["warmup_ratio"])


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler, parameters: list[torch.nn.Parameter], max_grad_norm: float) -> float:
    """Backpropagate `loss`, clip the gradient norm, step optimizer and schedule; the loss as a float."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()
    scheduler.step()
    return float(loss.item())


def is_better(auc: float, loss: float, best: dict[str, Any]) -> bool:
    """Epoch selection: higher validation ROC-AUC wins, ties go to the lower validation loss and
    then to the later epoch; without validation (NaN) the latest epoch wins."""
    if math.isnan(auc):
        return True
    if auc != best["auc"]:
        return auc > best["auc"]
    return math.isnan(loss) or not loss > best["loss"]


def clone_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the module's trainable state (to restore the best epoch)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / "router.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_meta(folder: str | Path, kind: str, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    folder = Path(folder)
    meta_path = folder / "router.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: not a saved router (no router.json)")
    meta = json.loads(meta_path.read_text())
    if meta.get("kind") != kind and meta.get("kind") not in aliases:
        raise ValueError(f"{meta_path}: saved router kind is {meta.get('kind')!r}, expected {kind!r}")
    return meta


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def log_sizes(name: str, train: pl.DataFrame, validation: pl.DataFrame) -> None:
    logger.info(
        f"{name}: {train.height} train rows (strong-needed share {train['label'].mean():.3f}), "
        f"{validation.height} validation rows"
    )
