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
from collections.abc import Callable, Sequence
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


def autocast(dtype: torch.dtype, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """Autocast to bfloat16 on `device` (fp32 master weights); a no-op for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def default_device() -> torch.device:
    """Where a loaded router scores: the first GPU when CUDA is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


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


def is_better(auc: float, loss: float, best: dict[str, Any]) -> bool:
    """Epoch selection: higher validation ROC-AUC wins, ties go to the lower validation loss and
    then to the later epoch; without validation (NaN) the latest epoch wins."""
    if math.isnan(auc):
        return True
    if auc != best["auc"]:
        return auc > best["auc"]
    return math.isnan(loss) or not loss > best["loss"]


def trainable_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the trainable parameters (to restore the best epoch): frozen layers and
    a LoRA run's base weights are not copied."""
    return {k: v.detach().clone() for k, v in module.named_parameters() if v.requires_grad}


def accelerator(train_dtype: torch.dtype, gradient_accumulation_steps: int):
    """The `accelerate.Accelerator` of one fine-tuning run: device placement (CUDA when present),
    bf16 autocast, gradient accumulation, and DDP when started by `accelerate launch` with
    several processes. Its precision is process-wide state; a process that trains classifiers in
    different precisions one after another (the tests) resets that part, never the process group."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    mixed_precision = "bf16" if train_dtype == torch.bfloat16 else "no"
    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != mixed_precision:
        AcceleratorState._reset_state()
    return Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=int(gradient_accumulation_steps))


def process_share(idx: np.ndarray, rank: int, world: int) -> tuple[np.ndarray, float]:
    """This process' part of a global batch and the weight of its mean loss, so that DDP's average
    of the processes' gradients equals the gradient of the global batch's mean loss (one process:
    the whole batch, weight 1). A process left without rows takes one row at weight 0."""
    part = np.array_split(idx, world)[rank]
    if len(part) == 0:
        return idx[:1], 0.0
    return part, len(part) * world / len(idx)


HeadName = Callable[[torch.nn.Module], str | None]
LORA_DEFAULTS: dict[str, Any] = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear", "bits": None}


def lora_settings(lora: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """`params.lora` with its defaults, or None (no LoRA). `bits: 4` is QLoRA: the frozen backbone
    is loaded as 4-bit NF4 weights (bitsandbytes) and only the adapters and the head train."""
    if not lora:
        return None
    unknown = set(lora) - set(LORA_DEFAULTS)
    if unknown:
        raise ValueError(f"{where}: unknown lora keys {sorted(unknown)}; known: {sorted(LORA_DEFAULTS)}")
    settings = {**LORA_DEFAULTS, **lora}
    if settings["bits"] not in (None, 4):
        raise ValueError(f"{where}: lora.bits must be 4 (QLoRA) or null, got {settings['bits']!r}")
    return settings


def trainable_backbone(load: Callable[..., torch.nn.Module], lora: dict[str, Any] | None, head_of: HeadName) -> tuple[torch.nn.Module, Any]:
    """The model to fine-tune from `load(**from_pretrained_kwargs)`, and its LoRA tuner (None
    without LoRA); `head_of(model)` names the task head that trains in full. QLoRA (`lora.bits: 4`)
    loads the backbone as NF4 with double quantisation and bf16 compute on this process' device
    (QLoRA's recipe), prepared by peft for k-bit training."""
    if not lora or lora["bits"] is None:
        model = load()
        return model, apply_lora(model, lora, head_of(model))
    try:
        import bitsandbytes
    except ImportError as error:
        raise ImportError("lora.bits: 4 (QLoRA) needs bitsandbytes: use envs/train-cuda.yaml or `pip install bitsandbytes`") from error
    from accelerate import PartialState
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
    model = load(quantization_config=quantization, device_map={"": PartialState().device})
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    for module in model.modules():  # on CPU, bitsandbytes 0.50 repacks 4-bit weights for inference at the
        if isinstance(module, bitsandbytes.nn.Linear4bit):  # first evaluation, after which they no longer train
            module.support_avx512bf16_for_cpu = False
    return model, apply_lora(model, lora, head_of(model))


def apply_lora(model: torch.nn.Module, lora: dict[str, Any] | None, head: str | None) -> Any:
    """LoRA adapters (`peft`) injected in place into `model`'s linear layers; only the adapters and
    the named task head (trained in full) stay trainable. Returns the tuner; None without LoRA."""
    if not lora:
        return None
    from peft import LoraConfig, LoraModel

    config = LoraConfig(
        r=int(lora["r"]),
        lora_alpha=int(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=lora["target_modules"],
        exclude_modules=[head] if head else None,
    )
    tuner = LoraModel(model, config, "default")
    if head:
        model.get_submodule(head).requires_grad_(True)
    return tuner


def merged_model(tuner: Any, lora: dict[str, Any], head_of: HeadName, load: Callable[..., torch.nn.Module]) -> torch.nn.Module:
    """Fold the trained adapters back so a checkpoint is a plain model. QLoRA's adapters (trained
    against the 4-bit weights) and head are folded into the full-precision backbone from `load()`,
    as QLoRA's adapters are deployed, so the checkpoint loads and scores without bitsandbytes."""
    if lora["bits"] is None:
        return tuner.merge_and_unload()
    head = head_of(tuner.model)
    trained = {k: v for k, v in tuner.model.state_dict().items() if "lora_" in k or (head and k.startswith(f"{head}."))}
    fresh = apply_lora(load(), lora, head)
    result = fresh.model.load_state_dict(trained, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"QLoRA merge: adapter weights without a place in the full-precision backbone: {result.unexpected_keys[:5]}")
    return fresh.merge_and_unload().to(device_of(tuner.model))


def fine_tune(
    name: str,
    forward: torch.nn.Module,
    targets: torch.Tensor,
    lengths: Sequence[int],
    evaluate,
    p: dict[str, Any],
    seed: int,
    train_dtype: torch.dtype,
    groups: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The one training loop of the fine-tuned classifiers, on `accelerate`: AdamW with
    `linear_schedule`, length-bucketed batches from a seeded generator, cross-entropy of
    `forward(batch_rows)`'s logits against `targets`, gradient clipping and accumulation, one
    `evaluate(epoch) -> (validation ROC-AUC, validation loss)` per epoch; the best epoch's weights
    (`is_better`) are restored into `forward`'s modules. `groups`: AdamW parameter groups (default:
    every trainable parameter of `forward`).

    Under `accelerate launch` with N processes every process walks the same batch order and takes
    its share of each batch (`process_share`), so N processes take the same optimizer steps as one.
    """
    acc = accelerator(train_dtype, p.get("gradient_accumulation_steps", 1))
    groups = groups or [{"params": [t for t in forward.parameters() if t.requires_grad]}]
    parameters = [t for g in groups for t in g["params"]]
    steps_per_epoch = math.ceil(len(lengths) / p["batch_size"])
    optimizer = torch.optim.AdamW(groups, lr=p["learning_rate"], weight_decay=p["weight_decay"])
    wrapped, optimizer = acc.prepare(forward, optimizer)
    scheduler = linear_schedule(optimizer, math.ceil(steps_per_epoch / acc.gradient_accumulation_steps) * p["epochs"], p["warmup_ratio"])
    targets = targets.to(acc.device)
    rng = np.random.default_rng(seed)
    clock = Stopwatch()
    log_every = max(1, steps_per_epoch // 10)
    if acc.num_processes > 1:
        logger.info(f"{name}: process {acc.process_index} of {acc.num_processes} ({acc.distributed_type}), each with its share of every batch")
    best = {"auc": -math.inf, "loss": math.inf, "epoch": 0, "state": None}
    for epoch in range(1, p["epochs"] + 1):
        wrapped.train()
        losses = []
        for step, idx in enumerate(bucketed_batches(lengths, p["batch_size"], rng), start=1):
            part, weight = process_share(idx, acc.process_index, acc.num_processes)
            with acc.accumulate(wrapped):
                logits = wrapped(part)
                loss = torch.nn.functional.cross_entropy(logits.float(), targets[torch.as_tensor(part, device=acc.device)])
                acc.backward(loss * weight)  # x * 1.0 is exact: one process trains bitwise as before
                if acc.sync_gradients:
                    acc.clip_grad_norm_(parameters, p["max_grad_norm"])
                optimizer.step()
                if acc.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if step % log_every == 0 and steps_per_epoch >= 20:
                logger.info(f"{name}: epoch {epoch} step {step}/{steps_per_epoch}: mean loss of last {log_every} steps {np.mean(losses[-log_every:]):.4f}, elapsed {clock():.0f} s")
        logger.info(f"{name}: epoch {epoch}/{p['epochs']}: train loss {np.mean(losses):.4f} ({len(losses)} steps), elapsed {clock():.0f} s")
        forward.eval()
        val_auc, val_loss = evaluate(epoch)
        if is_better(val_auc, val_loss, best):
            best = {"auc": val_auc, "loss": val_loss, "epoch": epoch, "state": None}
            if epoch != p["epochs"]:
                best["state"] = trainable_state(forward)
    if best["state"] is not None:
        forward.load_state_dict(best["state"], strict=False)
    logger.info(f"{name}: kept epoch {best['epoch']} (validation ROC-AUC {best['auc']:.4f}); training took {clock():.0f} s")
    acc.free_memory()
    return {k: v for k, v in best.items() if k != "state"}


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
