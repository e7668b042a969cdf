"""RAGRouter stage 2a: the perplexity (PPL) of every prompt under a causal LM, which the dynamic
sampling of stage 2b (`ragrouter.method.sampling`) turns into difficulty levels and weights.

Stage: rule `prompt_perplexity`. Reads the augmented corpus and a causal-LM folder; writes
`resources/ragrouter/perplexity.parquet` (prompt, ppl).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from loguru import logger
from tqdm import tqdm

from ragrouter.common.truncation import kept_positions


def _prefix_token_id(tokenizer) -> int | None:
    """A document-start token so the first prompt token is scored too.

    `<|endoftext|>` is GPT-2's BOS and SmolLM2's document separator; SmolLM2's declared BOS is the
    chat marker `<|im_start|>`, which would condition the LM on a chat turn, so it comes second.
    """
    vocab = tokenizer.get_vocab()
    if "<|endoftext|>" in vocab:
        return int(vocab["<|endoftext|>"])
    return tokenizer.bos_token_id


def perplexities(
    prompts: Sequence[str],
    model_dir: str | Path,
    max_length: int = 128,
    batch_size: int = 16,
    truncation: str = "middle",
    device: str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """PPL = exp(mean token NLL) of each prompt under a causal LM, prompts cut to max_length tokens
    (`truncation` right / left / middle as in `ragrouter.common.truncation`; middle keeps the
    instruction and the final question of long few-shot prompts).

    Batches are sorted by length (less padding) and right-padded with an attention mask; padded
    positions never enter the mean. A prompt with no scored token gets NaN.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ragrouter.common.finetuning import pad_batch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).to(device).eval()
    prefix = _prefix_token_id(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (prefix or 0)

    budget = max_length - (prefix is not None)
    encoded = tokenizer(list(prompts), add_special_tokens=False, verbose=False)["input_ids"]
    encoded = [[ids[k] for k in kept_positions(len(ids), budget, truncation)] for ids in encoded]
    if prefix is not None:
        encoded = [[prefix, *ids] for ids in encoded]
    order = np.argsort([-len(ids) for ids in encoded], kind="stable")
    out = np.full(len(prompts), np.nan)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="perplexity", disable=not progress, mininterval=10):
            idx = order[start : start + batch_size]
            ids, mask, _ = pad_batch([encoded[i] for i in idx], pad_id)
            ids, mask = ids.to(device), mask.to(device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target, target_mask = ids[:, 1:], mask[:, 1:].float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
            counts = target_mask.sum(1)
            mean_nll = (nll * target_mask).sum(1) / counts.clamp(min=1)
            ppl = torch.where(counts > 0, mean_nll.exp(), torch.full_like(mean_nll, float("nan")))
            out[idx] = ppl.cpu().numpy()
    elapsed = time.perf_counter() - started
    logger.info(
        f"perplexity: {len(prompts)} prompts in {elapsed:.1f} s ({len(prompts) / max(elapsed, 1e-9):.1f} prompts/s, "
        f"max_length {max_length}, truncation {truncation}, batch {batch_size}, {torch.get_num_threads()} threads, {device}); "
        f"median PPL {np.nanmedian(out) if len(out) else float('nan'):.1f}"
    )
    return out
