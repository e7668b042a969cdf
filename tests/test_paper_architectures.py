"""The paper's backbone families as tiny randomly initialised models built offline from configs:
the classifier router (and so RAGRouter's classifier) trains, scores and reloads with each, including
a decoder whose tokenizer has no CLS, no BOS and no pad token (Qwen2)."""

from __future__ import annotations

import numpy as np
import pytest
from test_router_bert_classifier import (
    PROBE_EASY,
    PROBE_HARD,
    TEST_PARAMS,
    planted_corpus,
)

from ragrouter.routers import bert_classifier as bc

pytestmark = pytest.mark.slow


def _tokenizer(specials: dict[str, str]):
    """A word-level tokenizer over the planted corpus' words with exactly the given special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for p in [*planted_corpus()["prompt"].to_list(), PROBE_HARD, PROBE_EASY] for w in p.replace("?", " ").split()})
    vocab = {t: i for i, t in enumerate(dict.fromkeys([*specials.values(), "[UNK]", *words]))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", **specials), len(vocab)


def _backbone(kind: str, folder, hidden: int = 32):
    from transformers import (
        DebertaV2Config,
        DebertaV2Model,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    if kind == "qwen2":  # no BOS, no CLS, no pad: only an end-of-text token
        tokenizer, n = _tokenizer({"eos_token": "<|endoftext|>"})
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=n, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))
    elif kind == "llama":
        tokenizer, n = _tokenizer({"bos_token": "<s>", "eos_token": "</s>"})
        model = LlamaForCausalLM(LlamaConfig(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))
    elif kind == "gpt2":  # BOS = EOS, no pad
        tokenizer, n = _tokenizer({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
        model = GPT2LMHeadModel(GPT2Config(vocab_size=n, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0))
    else:  # deberta-v2 / v3 family: an encoder with [CLS] / [SEP] / [PAD]
        tokenizer, n = _tokenizer({"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"})
        model = DebertaV2Model(DebertaV2Config(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64, pooler_hidden_size=32))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


@pytest.mark.parametrize("kind", ["qwen2", "llama", "gpt2", "deberta_v2"])
def test_classifier_trains_scores_and_reloads_on_each_paper_architecture(kind, tmp_path):
    tokenizer = _backbone(kind, tmp_path / "backbone")
    prefix, suffix, _ = bc._special_ids(tokenizer)
    seq = bc.encode_prompts(tokenizer, [PROBE_HARD], 8, "right")[0]
    assert len(seq) == 8 and seq[len(seq) - len(suffix) :] == suffix and seq[: len(prefix)] == prefix
    router = bc.train(planted_corpus(), {**TEST_PARAMS, "epochs": 1, "labels": "weak_score"}, 0, str(tmp_path / "backbone"))
    scores = router.strong_win_rates([PROBE_HARD, PROBE_EASY, PROBE_EASY])
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1)) and scores[1] == scores[2]
    router.save(tmp_path / "router")
    assert np.allclose(bc.load(tmp_path / "router").strong_win_rates([PROBE_HARD, PROBE_EASY]), scores[:2], atol=1e-6)
