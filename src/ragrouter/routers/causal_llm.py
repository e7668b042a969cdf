"""RouteLLM's causal-LLM classifier router, retrained offline on SmolLM2-135M-Instruct.

Stage: baseline routers (rules `train_router`, `score_router`). Reads the corpus and a causal-LM
folder; writes a Hugging Face checkpoint folder.

Recipe (RouteLLM `CausalLLMRouter` / the Anyscale llm-router template), scaled to a CPU:

- the model reads a chat prompt: a system message asking it to predict, on a 1-5 scale, how well
  an AI assistant (the weak model) will answer, and the user turn "[Question]\\n{query}\\n\\n
  Prediction:\\n"; the assistant turn is the rating as one of five tokens `[[1]]`...`[[5]]`, added
  to the tokenizer (embeddings resized);
- training is next-token prediction of that label token only: the cross-entropy over the whole
  vocabulary at the position that predicts the assistant's first token, with target `[[weak_score]]`;
- scoring restricts the softmax to the five label tokens:
  strong win rate = 1 - P([[4]]) - P([[5]]) = P(weak score <= 3) (RouteLLM's score_threshold 4,
  matching the corpus label: 1 = strong model needed when weak_score <= 3).

CPU adaptations (documented in `DEFAULTS` and logged by `train`):

- the system message and the chat header are the same for every prompt: their key/value cache is
  computed once (per training step, with gradients; once per scoring call at inference) and shared
  by the batch, so each prompt costs only its own tokens;
- the query is cut to `max_query_tokens` tokens; batches are length-sorted and right-padded after
  the shared prefix, and the label distribution is read at each row's last real token (the causal
  mask keeps the trailing pads invisible, so this equals left padding without position shifts);
- bfloat16 autocast for training (fp32 master weights) and bfloat16 weights for scoring;
- optionally only the top `train_layers` decoder layers (plus the final norm and the tied
  embedding / output matrix) are trained; the lower layers are frozen; with
  `freeze_input_embeddings` the output matrix trains as an untied copy and the input embeddings
  stay frozen, so the lower layers' token states are the backbone's for every seed: computed once
  per prompt set (`write_lower_states`, rule causal_lower_states) and continued from by each
  checkpoint (`attach_lower_states`);
- the new label rows start as copies of the digit tokens "1".."5" (see `add_label_tokens`).

Reference run (defaults, seed 0, 2 threads): 8,000 train examples, one epoch, training 785 s,
validation ROC-AUC 0.749 (1,033 rows); scoring the 15,416 evaluation prompts took 566 s
(27 prompts/s).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from loguru import logger
from tqdm import tqdm

from ragrouter.common import finetuning as tu
from ragrouter.common.io import atomic_dir, resolve_params, sha1_text
from ragrouter.common.seeding import seed_everything
from ragrouter.common.truncation import check_truncation, truncate_ids
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.base import Router

KIND = "causal_llm"
LABEL_TOKENS = [f"[[{i}]]" for i in range(1, 6)]
# Scores >= this count as "the weak model is good enough" (RouteLLM's score_threshold).
SCORE_THRESHOLD = 4

SYSTEM_MESSAGE = """[Instruction]
Read the user question below and predict the rating an expert judge would give to an AI assistant's answer to it, judging helpfulness, relevance, factual accuracy, depth, creativity and level of detail. Base the prediction on how much skill the question demands. Rate on a scale from 1 to 5, where a higher rating means a better expected answer. Reply only with the rating, written as "[[rating]]".

Rating guide:
- 4-5: the assistant can give an excellent answer: accurate, insightful, detailed and on point.
- 3: the assistant can give an acceptable answer with moderate detail and accuracy.
- 1-2: the assistant will likely give a weak answer, because the question is hard or ambiguous, or beyond its abilities."""
QUESTION_HEAD = "[Question]\n"
QUESTION_TAIL = "\n\nPrediction:\n"
_SLOT = "\x00QUERY\x00"

DEFAULTS: dict[str, Any] = {
    # Budget on 2 cores: training <= ~15 min, scoring 15.4k evaluation prompts <= ~12 min.
    # Query tokens kept per prompt (the shared ~180-token prefix is not counted; the suffix adds
    # 12). Measured scoring speed, bfloat16, 2 threads, MMLU prompts: 48 -> ~29 prompts/s,
    # 64 -> ~21 prompts/s (too close to the 21.4 prompts/s the budget needs).
    "max_query_tokens": 48,
    # "right" keeps the head of a long query, "left" the tail, "middle" both halves.
    "truncation": "middle",
    # Validation ROC-AUC after 1,000 examples (1 epoch; differences below ~0.02 are noise):
    # top 8 layers lr 1e-4 0.710, lr 2e-4 0.710, top 16 layers lr 1e-4 0.722 at 1.4x the step
    # time. With top-8 training a step of 16 takes ~1.6 s, so ~8,000 examples fit the budget
    # (more data beat more layers for the BERT router: 3,000 -> 9,300 examples +0.03).
    "max_train_examples": 8000,  # seeded random subset of the train split (None: all)
    "epochs": 1,  # the best epoch on validation ROC-AUC is kept
    "learning_rate": 1e-4,
    "batch_size": 16,
    "weight_decay": 0.0,
    "warmup_ratio": 0.05,
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,  # optimizer steps every k batches (accelerate)
    "gradient_checkpointing": False,  # recompute activations in backward: less memory, ~30% slower
    "lora": None,  # LoRA adapters through peft (see bert_classifier.DEFAULTS), merged into the checkpoint
    "train_layers": 8,  # top k of the 30 decoder layers are trained (None: all; ~4x slower steps)
    # With train_layers: also freeze the input embeddings (the output matrix becomes an untied
    # trainable copy), so the frozen lower layers' token states depend on the backbone alone and are
    # computed once per prompt set for every seed (`LowerStates`, rule causal_lower_states)
    "freeze_input_embeddings": False,
    "train_dtype": "auto",  # autocast dtype for training (fp32 master weights); auto: tu.concrete_dtype
    "inference_dtype": "auto",  # dtype of the returned router's weights
    "eval_batch_size": 16,  # 16 scored faster than 32 on 2 cores
    "max_validation_examples": None,  # seeded subset of the validation split scored per epoch
    "validation_metric": "per_source",  # epoch choice by the mean of per-source ROC-AUCs ("pooled" also rewards recognising the source)
    "system_message": None,  # None: SYSTEM_MESSAGE
    "threads": None,  # torch.set_num_threads when set; None leaves the process setting alone
}


def label_token(weak_score: int) -> str:
    """The assistant's target token for a 1-5 weak-model score."""
    weak_score = int(weak_score)
    if not 1 <= weak_score <= 5:
        raise ValueError(f"weak_score must lie in 1..5, got {weak_score}")
    return LABEL_TOKENS[weak_score - 1]


def strong_win_rate_from_label_logits(logits: torch.Tensor) -> np.ndarray:
    """1 - P(score >= 4) from (n, 5) logits of [[1]]..[[5]] (softmax over those five only)."""
    probs = torch.softmax(logits.float(), dim=-1)
    return (1.0 - probs[:, SCORE_THRESHOLD - 1 :].sum(dim=-1)).clamp(0.0, 1.0).double().numpy()


def add_label_tokens(tokenizer, model=None) -> list[int]:
    """Add [[1]]..[[5]] as special tokens (idempotent) and return their ids. When `model` is given
    and its vocabulary is smaller, its embeddings are resized and each new row [[k]] starts as a
    copy of the digit token "k" (input and output side), so the untrained restricted softmax is the
    backbone's own 1-5 rating prior rather than noise."""
    missing = [t for t in LABEL_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    ids = tokenizer.convert_tokens_to_ids(LABEL_TOKENS)
    if model is not None and model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        old_rows = model.get_input_embeddings().weight.shape[0]
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            for k, new_id in enumerate(ids, start=1):
                digit = tokenizer(str(k), add_special_tokens=False)["input_ids"]
                if new_id < old_rows or len(digit) != 1:
                    continue
                for emb in {id(e): e for e in [model.get_input_embeddings(), model.get_output_embeddings()] if e is not None}.values():
                    emb.weight[new_id] = emb.weight[digit[0]]
    return ids


def prompt_parts(tokenizer, system_message: str) -> tuple[list[int], list[int]]:
    """Token ids before and after the query in the classifier chat prompt (ending where the
    assistant's rating starts): the backbone's chat template when it has one, plain text otherwise."""
    messages = [{"role": "system", "content": system_message}, {"role": "user", "content": QUESTION_HEAD + _SLOT + QUESTION_TAIL}]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{system_message}\n\n{QUESTION_HEAD}{_SLOT}{QUESTION_TAIL}"
    before, _, after = text.partition(_SLOT)
    encode = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    return encode(before), encode(after)


def encode_queries(tokenizer, prompts: Sequence[str], budget: int, truncation: str, suffix: list[int]) -> list[list[int]]:
    """Query tokens cut to `budget` + the prompt suffix. Text that looks like a special token
    (`<|im_end|>`, `[[5]]`) is tokenized as plain text."""
    if not prompts:
        return []
    ids = tokenizer(list(prompts), add_special_tokens=False, split_special_tokens=True, verbose=False)["input_ids"]
    return [truncate_ids(x, budget, truncation) + suffix for x in ids]


def _base(model):
    return getattr(model, model.base_model_prefix)


def _prefix_kv(model, prefix: list[int], detach_inputs: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    ids = torch.as_tensor(prefix, dtype=torch.long, device=tu.device_of(model))[None]
    embeds = model.get_input_embeddings()(ids)
    out = _base(model)(inputs_embeds=embeds.detach() if detach_inputs else embeds, use_cache=True)
    return [(layer.keys, layer.values) for layer in out.past_key_values.layers]


def _behind_prefix(mask: torch.Tensor, kv) -> torch.Tensor:
    """The attention mask of a batch with the cached prefix's positions in front."""
    return torch.cat([torch.ones((mask.shape[0], kv[0][0].shape[-2]), dtype=mask.dtype, device=mask.device), mask], dim=1)


def _last_hidden(model, kv, seqs: list[list[int]], pad_id: int, detach_inputs: bool = False) -> torch.Tensor:
    """Final hidden state at each sequence's last token, the shared prefix cache `kv` in front."""
    dev = tu.device_of(model)
    ids, mask, last = (t.to(dev) for t in tu.pad_batch(seqs, pad_id))
    n = ids.shape[0]
    embeds = model.get_input_embeddings()(ids)
    out = _base(model)(
        inputs_embeds=embeds.detach() if detach_inputs else embeds, attention_mask=_behind_prefix(mask, kv), past_key_values=_prefix_cache(kv, n), use_cache=True
    )
    return out.last_hidden_state[torch.arange(n, device=dev), last]


@contextmanager
def _only_layers(model, start: int, stop: int | None, final_norm: bool):
    """Let the base model's own forward run decoder layers [start:stop] only (their cache slots keep
    their layer index), with or without its final norm: how a forward is split at the frozen layers."""
    base = _base(model)
    layers, norm = base.layers, base.norm
    base.layers = torch.nn.ModuleList(list(layers)[start:stop])
    if not final_norm:
        base.norm = torch.nn.Identity()
    try:
        yield
    finally:
        base.layers, base.norm = layers, norm


@torch.inference_mode()
def _lower_states(model, kv, seqs: list[list[int]], pad_id: int, split: int, batch_size: int) -> list[torch.Tensor]:
    """Each sequence's token states after decoder layer `split` (no final norm), the prefix cache in front."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
    dev = tu.device_of(model)
    for idx in tu.sorted_batches([len(s) for s in seqs], batch_size):
        ids, mask, _ = (t.to(dev) for t in tu.pad_batch([seqs[i] for i in idx], pad_id))
        cache = _prefix_cache(kv[:split], ids.shape[0])
        with _only_layers(model, 0, split, final_norm=False):
            hidden = _base(model)(inputs_embeds=model.get_input_embeddings()(ids), attention_mask=_behind_prefix(mask, kv), past_key_values=cache, use_cache=True).last_hidden_state
        for row, i in enumerate(idx):
            out[i] = hidden[row, : len(seqs[i])].float().cpu()
    return out


def _last_hidden_from_states(model, kv, states: list[torch.Tensor], split: int) -> torch.Tensor:
    """`_last_hidden` continued from `_lower_states`: only the decoder layers above `split` run."""
    dev = tu.device_of(model)
    n, width = len(states), max(len(x) for x in states)
    dtype = next(model.parameters()).dtype
    embeds = torch.zeros((n, width, states[0].shape[-1]), dtype=dtype, device=dev)
    mask = torch.zeros((n, width), dtype=torch.long, device=dev)
    for i, x in enumerate(states):
        embeds[i, : len(x)] = x.to(device=dev, dtype=dtype)
        mask[i, : len(x)] = 1
    with _only_layers(model, split, None, final_norm=True):
        out = _base(model)(inputs_embeds=embeds, attention_mask=_behind_prefix(mask, kv), past_key_values=_prefix_cache(kv, n), use_cache=True)
    last = torch.as_tensor([len(x) - 1 for x in states], device=dev)
    return out.last_hidden_state[torch.arange(n, device=dev), last]


def _prefix_cache(kv, n: int):
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in kv])


def _label_logits(model, hidden: torch.Tensor, label_ids: list[int]) -> torch.Tensor:
    """fp32 logits of the label tokens only (the restricted softmax needs nothing else)."""
    head = model.get_output_embeddings()
    with torch.autocast(hidden.device.type, enabled=False):
        logits = hidden.float() @ head.weight[label_ids].float().T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[label_ids].float()
    return logits


@torch.inference_mode()
def _score_seqs(model, kv, seqs, pad_id, label_ids, batch_size, dtype, states: list[torch.Tensor] | None = None, split: int = 0) -> torch.Tensor:
    """Label logits of token sequences, or of their `_lower_states` (`states`, cut at `split`)."""
    out = torch.empty((len(seqs), len(label_ids)), dtype=torch.float32)
    with tu.autocast(dtype, tu.device_of(model)):
        for idx in tu.sorted_batches([len(s) for s in seqs], batch_size):
            if states is None:
                hidden = _last_hidden(model, kv, [seqs[i] for i in idx], pad_id)
            else:
                hidden = _last_hidden_from_states(model, kv, [states[i] for i in idx], split)
            out[torch.as_tensor(idx)] = _label_logits(model, hidden, label_ids).cpu()
    return out


def frozen_fingerprint(model, prefix: list[int], suffix: list[int], split: int, max_query_tokens: int, truncation: str) -> str:
    """sha1 of everything the states below layer `split` depend on: input embeddings, the lower
    layers' weights, the prompt's fixed parts and the query budget."""
    digest = hashlib.sha1(json.dumps([prefix, suffix, split, max_query_tokens, truncation]).encode())
    for tensor in [model.get_input_embeddings().weight, *(t for layer in _base(model).layers[:split] for t in layer.state_dict().values())]:
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class LowerStates:
    """Token states below the trained layers of a `freeze_input_embeddings` causal router, one
    folder per prompt set (states.npy, index.parquet: prompt_sha1, start, length; meta.json with the
    `frozen_fingerprint`), looked up by prompt sha1; written by `write_lower_states`."""

    def __init__(self, folders: Sequence[str | Path]) -> None:
        self.rows: dict[str, tuple[np.ndarray, int, int]] = {}
        self.fingerprints = set()
        for folder in map(Path, folders):
            meta = json.loads((folder / "meta.json").read_text())
            self.fingerprints.add(meta["fingerprint"])
            states = np.load(folder / "states.npy", mmap_mode="r")
            index = pl.read_parquet(folder / "index.parquet")
            for key, start, length in index.iter_rows():
                self.rows[key] = (states, start, length)
        self.folders = [str(f) for f in folders]

    def get(self, prompt: str) -> torch.Tensor | None:
        hit = self.rows.get(sha1_text(prompt))
        return None if hit is None else torch.from_numpy(np.array(hit[0][hit[1] : hit[1] + hit[2]]))


def write_lower_states(model_dir: str | Path, prompts: Sequence[str], params: dict, out_dir: str | Path, threads: int | None = None) -> None:
    """The frozen lower layers' token states of `prompts` under `params` (a causal_llm router's
    config params), for every seed's router to continue from (`LowerStates`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = resolve_params(DEFAULTS, params, KIND)
    if not p["freeze_input_embeddings"] or p["train_layers"] is None:
        raise ValueError(f"{KIND}: lower states need freeze_input_embeddings and train_layers in the router's params")
    tu.set_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    add_label_tokens(tokenizer, model)
    system_message = p["system_message"] if p["system_message"] is not None else SYSTEM_MESSAGE
    prefix, suffix = prompt_parts(tokenizer, system_message)
    split = len(_base(model).layers) - p["train_layers"]
    unique = list(dict.fromkeys(prompts))
    seqs = encode_queries(tokenizer, unique, p["max_query_tokens"], p["truncation"], suffix)
    with torch.inference_mode():
        kv = _prefix_kv(model, prefix, detach_inputs=False)
    clock = tu.Stopwatch()
    states = []
    for start in tqdm(range(0, len(seqs), 512), desc="lower states", unit="chunk"):
        states += _lower_states(model, kv, seqs[start : start + 512], tokenizer.pad_token_id, split, p["eval_batch_size"])
    lengths = np.asarray([len(x) for x in states], dtype=np.int64)
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "states.npy", torch.cat(states).numpy() if states else np.zeros((0, model.config.hidden_size), dtype=np.float32))
        pl.DataFrame({"prompt_sha1": [sha1_text(x) for x in unique], "start": np.cumsum(lengths) - lengths, "length": lengths}).write_parquet(tmp / "index.parquet")
        meta = {"fingerprint": frozen_fingerprint(model, prefix, suffix, split, p["max_query_tokens"], p["truncation"]), "split": split, "prompts": len(unique)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info(f"{KIND}: token states below layer {split} of {len(unique)} prompts ({int(lengths.sum())} tokens) in {clock():.1f} s -> {out_dir}")


class CausalLLMRouter(Router):
    """A causal LM fine-tuned to emit the weak model's rating token; score = P(rating <= 3)."""

    def __init__(
        self, model, tokenizer, system_message: str, max_query_tokens: int, truncation: str, batch_size: int = 32, dtype: str = "bfloat16", frozen_layers: int = 0
    ):
        self.tokenizer = tokenizer
        self.label_ids = add_label_tokens(tokenizer, model)
        self.model = tu.cast_parameters(model.eval(), tu.dtype_of(dtype, KIND))
        self.system_message = system_message
        self.max_query_tokens = int(max_query_tokens)
        self.truncation = truncation
        self.batch_size = int(batch_size)
        self.dtype = dtype
        self.prefix, self.suffix = prompt_parts(tokenizer, system_message)
        self.frozen_layers = int(frozen_layers)  # decoder layers (and input embeddings) left as the backbone's
        self.lower_states: LowerStates | None = None
        self._kv = None

    def attach_lower_states(self, folders: Sequence[str | Path]) -> None:
        """Continue from precomputed `LowerStates` (rule causal_lower_states) where a prompt has them."""
        states = LowerStates(folders)
        own = frozen_fingerprint(self.model, self.prefix, self.suffix, self.frozen_layers, self.max_query_tokens, self.truncation) if self.frozen_layers else None
        if states.fingerprints - {own}:
            raise ValueError(f"{KIND}: lower states {states.folders} were computed from another backbone or prompt settings than this router's frozen layers; rerun rule causal_lower_states")
        self.lower_states = states
        logger.info(f"{KIND}: layers 1-{self.frozen_layers} read from the lower states of {len(states.rows)} prompts ({', '.join(states.folders)})")

    def __getstate__(self):  # the prefix cache is rebuilt on demand
        return {**self.__dict__, "_kv": None}

    def label_logits(self, prompts: Sequence[str]) -> torch.Tensor:
        """(n, 5) logits of [[1]]..[[5]] for the prompts, in order."""
        if self._kv is None:
            with torch.inference_mode():
                self._kv = _prefix_kv(self.model, self.prefix, detach_inputs=False)
        seqs = encode_queries(self.tokenizer, prompts, self.max_query_tokens, self.truncation, self.suffix)
        if not self.frozen_layers:
            return _score_seqs(self.model, self._kv, seqs, self.tokenizer.pad_token_id, self.label_ids, self.batch_size, torch.float32)
        states = [None if self.lower_states is None else self.lower_states.get(p) for p in prompts]
        missing = [i for i, x in enumerate(states) if x is None]
        for i, x in zip(missing, _lower_states(self.model, self._kv, [seqs[i] for i in missing], self.tokenizer.pad_token_id, self.frozen_layers, self.batch_size), strict=True):
            states[i] = x
        return _score_seqs(self.model, self._kv, seqs, self.tokenizer.pad_token_id, self.label_ids, self.batch_size, torch.float32, states, self.frozen_layers)

    def strong_win_rates(self, prompts: Sequence[str]) -> np.ndarray:
        prompts = list(prompts)
        if not prompts:
            return np.empty(0, dtype=np.float64)
        return strong_win_rate_from_label_logits(self.label_logits(prompts))

    def save(self, path: str | Path) -> None:
        """Model and tokenizer (`save_pretrained`, label tokens included) plus router.json, atomically."""
        with atomic_dir(path) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            tu.write_meta(
                tmp,
                {
                    "kind": KIND,
                    "system_message": self.system_message,
                    "max_query_tokens": self.max_query_tokens,
                    "truncation": self.truncation,
                    "batch_size": self.batch_size,
                    "dtype": self.dtype,
                    "frozen_layers": self.frozen_layers,
                    "label_tokens": LABEL_TOKENS,
                },
            )

    @staticmethod
    def load(path: str | Path) -> CausalLLMRouter:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        meta = tu.read_meta(path, KIND)
        if meta["label_tokens"] != LABEL_TOKENS:
            raise ValueError(f"{path}/router.json: checkpoint label tokens {meta['label_tokens']} differ from this code's {LABEL_TOKENS}")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=tu.dtype_of(meta["dtype"], KIND)).to(tu.default_device())
        tokenizer = AutoTokenizer.from_pretrained(path)
        return CausalLLMRouter(
            model, tokenizer, meta["system_message"], meta["max_query_tokens"], meta["truncation"], meta["batch_size"], meta["dtype"], meta.get("frozen_layers", 0)
        )


def load(path: str | Path) -> CausalLLMRouter:
    return CausalLLMRouter.load(path)


def expected_settings(params: dict) -> dict:
    """What a checkpoint trained with these (configured) params records in its router.json."""
    p = resolve_params(DEFAULTS, params, KIND)
    return {"max_query_tokens": p["max_query_tokens"], "truncation": p["truncation"], "system_message": p["system_message"] if p["system_message"] is not None else SYSTEM_MESSAGE}


def _freeze_lower_layers(model, train_layers: int | None) -> bool:
    """Freeze all but the top `train_layers` decoder layers; True when some layers are frozen."""
    layers = _base(model).layers
    if train_layers is None or train_layers >= len(layers):
        return False
    if train_layers < 1:
        raise ValueError(f"{KIND}: train_layers must be >= 1 or None, got {train_layers}")
    for layer in layers[: len(layers) - train_layers]:
        layer.requires_grad_(False)
    return True


def _untie_output_embeddings(model) -> None:
    """Give the output matrix its own trainable copy, so the input embeddings can stay frozen."""
    head = model.get_output_embeddings()
    head.weight = torch.nn.Parameter(head.weight.detach().clone())
    model.config.tie_word_embeddings = False


class _RatingLogits(torch.nn.Module):
    """What `finetuning.fine_tune` steps: training-row indices -> next-token logits where the
    rating token goes, the shared prompt prefix recomputed each step (its weights are trained)."""

    def __init__(self, model, prefix: list[int], seqs: list[list[int]], pad_id: int, detach_inputs: bool, states: list[torch.Tensor] | None, split: int) -> None:
        super().__init__()
        self.model, self.prefix, self.seqs, self.pad_id, self.detach_inputs = model, prefix, seqs, pad_id, detach_inputs
        self.states, self.split = states, split

    def forward(self, rows: np.ndarray) -> torch.Tensor:
        kv = _prefix_kv(self.model, self.prefix, detach_inputs=self.detach_inputs)
        if self.states is not None:
            hidden = _last_hidden_from_states(self.model, kv, [self.states[i] for i in rows], self.split)
        else:
            hidden = _last_hidden(self.model, kv, [self.seqs[i] for i in rows], self.pad_id, detach_inputs=self.detach_inputs)
        return self.model.get_output_embeddings()(hidden)


def train(corpus: pl.DataFrame, params: dict, seed: int, model_dir: str) -> CausalLLMRouter:
    """Fine-tune the causal LM in `model_dir` on the corpus' train split (see the module docstring)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = resolve_params(DEFAULTS, params, KIND)
    p["train_dtype"], p["inference_dtype"] = tu.concrete_dtype(p["train_dtype"]), tu.concrete_dtype(p["inference_dtype"])
    check_truncation(p["truncation"], KIND)
    train_dtype = tu.dtype_of(p["train_dtype"], KIND)
    tu.dtype_of(p["inference_dtype"], KIND)
    system_message = p["system_message"] if p["system_message"] is not None else SYSTEM_MESSAGE
    tu.set_threads(p["threads"])
    seed_everything(seed)

    train_rows, val_rows = tu.split_corpus(corpus, KIND)
    train_rows = tu.subsample(train_rows, p["max_train_examples"], seed)
    val_rows = tu.subsample(val_rows, p["max_validation_examples"], seed)
    tu.log_sizes(KIND, train_rows, val_rows)
    logger.info(f"{KIND}: params { {k: v for k, v in p.items() if k != 'system_message'} }, seed {seed}, backbone {model_dir}, torch threads {torch.get_num_threads()}")

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = True
    label_ids = add_label_tokens(tokenizer, model)
    prefix, suffix = prompt_parts(tokenizer, system_message)
    pad_id = tokenizer.pad_token_id
    lora_settings = tu.lora_settings(p["lora"], KIND)
    if lora_settings and lora_settings["bits"] is not None:
        raise ValueError(f"{KIND}: lora.bits (QLoRA) is supported by the sequence-classification routers (bert, RAGRouter's classifier), not here")
    lora = tu.apply_lora(model, lora_settings, None)  # the label tokens' rows start as the digits' and stay frozen
    frozen = _freeze_lower_layers(model, p["train_layers"])
    split = 0
    if p["freeze_input_embeddings"]:
        if not frozen or lora is not None or p["inference_dtype"] != "float32":
            raise ValueError(f"{KIND}: freeze_input_embeddings needs train_layers below the model's depth, no lora and inference_dtype float32 (the lower states' dtype)")
        split = len(_base(model).layers) - p["train_layers"]
        _untie_output_embeddings(model)
        model.get_input_embeddings().requires_grad_(False)
    if p["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_train = sum(x.numel() for x in model.parameters() if x.requires_grad)
    logger.info(
        f"{KIND}: label tokens {dict(zip(LABEL_TOKENS, label_ids))}; shared prefix {len(prefix)} tokens, suffix {len(suffix)} tokens; "
        f"{n_train / 1e6:.1f}M trainable parameters ({'top ' + str(p['train_layers']) + ' layers' if frozen else 'all layers'}"
        + (f", LoRA {p['lora']}" if lora is not None else "") + ")"
    )

    train_seqs = encode_queries(tokenizer, train_rows["prompt"].to_list(), p["max_query_tokens"], p["truncation"], suffix)
    train_targets = torch.as_tensor([tokenizer.convert_tokens_to_ids(label_token(s)) for s in train_rows["weak_score"]])
    val_seqs = encode_queries(tokenizer, val_rows["prompt"].to_list(), p["max_query_tokens"], p["truncation"], suffix)
    val = ValidationSet.of(val_rows)
    val_scores = val_rows["weak_score"].to_numpy()
    train_states = val_states = None
    if split:  # the frozen part runs once, not once per step and epoch
        with torch.inference_mode():
            kv = _prefix_kv(model, prefix, detach_inputs=False)
        train_states, val_states = (_lower_states(model, kv, seqs, pad_id, split, p["eval_batch_size"]) for seqs in (train_seqs, val_seqs))
        del kv
    logger.info(
        f"{KIND}: weak_score counts 1..5 train {np.bincount(train_rows['weak_score'].to_numpy(), minlength=6)[1:].tolist()}; "
        f"mean tokens per prompt after the prefix {np.mean([len(s) for s in train_seqs]):.1f} "
        f"(query budget {p['max_query_tokens']}, truncation {p['truncation']})"
    )

    scores_of_epoch: dict[int, np.ndarray] = {}

    def evaluate(epoch: int) -> tuple[float, float]:
        if not val_seqs:
            return float("nan"), float("nan")
        # Score with a copy in the inference dtype: autocast would re-cast every weight per batch.
        scorer = tu.cast_parameters(copy.deepcopy(model).eval(), tu.dtype_of(p["inference_dtype"], KIND))
        scoring = tu.Stopwatch()
        with torch.inference_mode():
            kv = _prefix_kv(scorer, prefix, detach_inputs=False)
        logits5 = _score_seqs(scorer, kv, val_seqs, pad_id, label_ids, p["eval_batch_size"], torch.float32, val_states, split)
        del scorer, kv
        val_loss = float(torch.nn.functional.cross_entropy(logits5, torch.as_tensor(val_scores - 1)).item())
        scores_of_epoch[epoch] = strong_win_rate_from_label_logits(logits5)
        val_auc = val.auc(scores_of_epoch[epoch], p["validation_metric"])
        logger.info(
            f"{KIND}: epoch {epoch}: validation loss over the 5 label tokens {val_loss:.4f}, validation {val.summary(strong_win_rate_from_label_logits(logits5))} "
            f"(scored as the router scores, {p['inference_dtype']}: {len(val_seqs) / scoring():.1f} prompts/s)"
        )
        return val_auc, val_loss

    forward = _RatingLogits(model, prefix, train_seqs, pad_id, frozen or lora is not None, train_states, split)
    kept = tu.fine_tune(KIND, forward, train_targets, [len(s) for s in train_seqs], evaluate, p, seed, train_dtype)
    if p["gradient_checkpointing"]:
        model.gradient_checkpointing_disable()
    if lora is not None:
        model = lora.merge_and_unload()
    model.requires_grad_(False)
    router = CausalLLMRouter(model, tokenizer, system_message, p["max_query_tokens"], p["truncation"], p["eval_batch_size"], p["inference_dtype"], split)
    # the kept epoch's scores of every validation row came from these weights in this dtype (merged LoRA weights differ)
    if lora is None and val_rows.height == corpus.filter(pl.col("split") == "validation").height:
        router.validation_scores = scores_of_epoch.get(kept["epoch"])
    return router


__all__ = [
    "DEFAULTS",
    "LABEL_TOKENS",
    "SYSTEM_MESSAGE",
    "CausalLLMRouter",
    "LowerStates",
    "label_token",
    "load",
    "strong_win_rate_from_label_logits",
    "train",
    "write_lower_states",
]
