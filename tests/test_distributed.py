"""The shared accelerate training loop: DDP over two CPU processes takes the same steps as one
process, and LoRA (peft) trains, merges and scores a tiny Qwen2 classifier."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
import torch
from test_paper_architectures import _backbone
from test_router_bert_classifier import PROBE_EASY, PROBE_HARD, TEST_PARAMS, planted_corpus

from ragrouter.common import finetuning as tu
from ragrouter.routers import bert_classifier as bc
from ragrouter.routers.train_job import TrainJob, launch, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("rows,rank,world", [(np.arange(5), 0, 2), (np.arange(5), 1, 2), (np.arange(1), 1, 2), (np.arange(4), 0, 1)])
def test_process_shares_weight_to_the_global_batch_mean(rows, rank, world):
    shares = [tu.process_share(rows, r, world) for r in range(world)]
    part, weight = shares[rank]
    assert len(part) >= 1
    # DDP averages the processes' gradients: sum_r weight_r * mean_r / world must be the global mean
    values = rows.astype(float) ** 2
    mean = sum(w * values[p].mean() for p, w in shares) / world
    assert mean == pytest.approx(values.mean())
    assert sorted(np.concatenate([p for p, w in shares if w > 0]).tolist()) == rows.tolist()


def _tiny_bert(folder):
    """A 2-layer BERT without dropout: one process and two see the same arithmetic."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = sorted({w for p in planted_corpus()["prompt"].to_list() for w in p.split()})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]").save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(folder)


def test_two_ddp_processes_train_the_same_classifier_as_one(tmp_path):
    _tiny_bert(tmp_path / "backbone")
    planted_corpus().write_parquet(tmp_path / "corpus.parquet")
    pl.DataFrame({"prompt": []}, schema={"prompt": pl.String}).write_parquet(tmp_path / "battles.parquet")
    params = {**TEST_PARAMS, "epochs": 3, "learning_rate": 1e-3, "train_dtype": "float32", "inference_dtype": "float32"}
    one = TrainJob("bert", str(tmp_path / "corpus.parquet"), str(tmp_path / "battles.parquet"), params, 0, str(tmp_path / "backbone"), str(tmp_path / "one"), str(tmp_path / "one.parquet"))
    run(one)
    two = dataclasses.replace(one, checkpoint=str(tmp_path / "two"), validation=str(tmp_path / "two.parquet"))
    launch(two, 2)
    scores_one, scores_two = (pl.read_parquet(tmp_path / f"{n}.parquet")["score"].to_numpy() for n in ("one", "two"))
    # stated tolerance: the processes' all-reduce sums in another order than one batch does
    assert np.allclose(scores_one, scores_two, atol=1e-5)
    probes = [PROBE_HARD, PROBE_EASY]
    assert np.allclose(bc.load(tmp_path / "one").strong_win_rates(probes), bc.load(tmp_path / "two").strong_win_rates(probes), atol=1e-5)
    # and training moved the weights (the check above is not two copies of the initial model)
    initial = bc.load(tmp_path / "one").model.bert.embeddings.word_embeddings.weight
    from transformers import BertModel

    assert not torch.allclose(initial, BertModel.from_pretrained(tmp_path / "backbone").embeddings.word_embeddings.weight)


def test_lora_trains_merges_and_scores_a_tiny_qwen2_classifier(tmp_path):
    from transformers import AutoModelForSequenceClassification

    _backbone("qwen2", tmp_path / "backbone")
    params = {**TEST_PARAMS, "epochs": 4, "learning_rate": 3e-3, "labels": "weak_score", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}
    router = bc.train(planted_corpus(), params, 0, str(tmp_path / "backbone"))
    assert not any("lora_" in name for name, _ in router.model.named_parameters())  # merged: a plain model
    scores = router.strong_win_rates([PROBE_HARD, PROBE_EASY])
    assert scores[0] > scores[1]
    router.save(tmp_path / "router")
    assert np.allclose(bc.load(tmp_path / "router").strong_win_rates([PROBE_HARD, PROBE_EASY]), scores, atol=1e-6)
    base = AutoModelForSequenceClassification.from_pretrained(tmp_path / "backbone", num_labels=5)
    merged = bc.load(tmp_path / "router").model
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(dict(base.named_parameters())[layer].float(), dict(merged.named_parameters())[layer].float(), atol=1e-3)  # adapters folded in
    # only adapters and the task head were trainable
    tu.apply_lora(base, params["lora"], "score")
    trainable = {n for n, t in base.named_parameters() if t.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("score.") for n in trainable) and "score.weight" in trainable
