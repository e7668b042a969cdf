"""The shared accelerate training loop: DDP over two CPU processes takes the same steps as one
process, and LoRA / QLoRA (peft, bitsandbytes) train, merge and score a tiny Qwen2 classifier."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from test_paper_architectures import _backbone
from test_router_bert_classifier import PROBE_EASY, PROBE_HARD, TEST_PARAMS, planted_corpus

from ragrouter.common import finetuning as tu
from ragrouter.routers import bert_classifier as bc
from ragrouter.common.io import sha1_text
from ragrouter.routers.train_job import RAGRouterJob, TrainJob, train

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


def _jobs(tmp_path, params, name):
    """The same training as a router of `routers:` (bert) and as a RAGRouter variant's classifier
    (rag=off, with query vectors through the feature head)."""
    corpus = tmp_path / "corpus.parquet"
    router = TrainJob("bert", str(corpus), str(tmp_path / "battles.parquet"), params, 0, str(tmp_path / "backbone"), str(tmp_path / f"bert-{name}"), str(tmp_path / f"bert-{name}.parquet"))
    rag = RAGRouterJob(str(corpus), None, None, str(tmp_path / "features.parquet"), {}, params, {}, False, 0, str(tmp_path / "backbone"), str(tmp_path / f"rag-{name}"), str(tmp_path / f"rag-{name}.parquet"))
    return router, rag


def test_two_ddp_processes_train_the_same_classifiers_as_one(tmp_path):
    """Both training rules' jobs (a `routers:` classifier and RAGRouter's) under `accelerate launch`
    with two gloo processes: the same validation scores as one process."""
    _tiny_bert(tmp_path / "backbone")
    corpus = planted_corpus()
    corpus.write_parquet(tmp_path / "corpus.parquet")
    pl.DataFrame({"prompt": []}, schema={"prompt": pl.String}).write_parquet(tmp_path / "battles.parquet")
    vectors = np.random.default_rng(0).normal(size=(corpus.height, 8)).astype(np.float32)
    pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in corpus["prompt"]], "vector": vectors.tolist()}).write_parquet(tmp_path / "features.parquet")
    params = {**TEST_PARAMS, "epochs": 3, "learning_rate": 1e-3, "train_dtype": "float32", "inference_dtype": "float32"}
    for job in _jobs(tmp_path, params, "one"):
        job.run()
    for job in _jobs(tmp_path, params, "two"):
        train(job, 2)
    for kind in ("bert", "rag"):
        scores_one, scores_two = (pl.read_parquet(tmp_path / f"{kind}-{n}.parquet")["score"].to_numpy() for n in ("one", "two"))
        # stated tolerance: the processes' all-reduce sums in another order than one batch does
        assert len(scores_one) and np.allclose(scores_one, scores_two, atol=1e-5), kind
    probes = [PROBE_HARD, PROBE_EASY]
    assert np.allclose(bc.load(tmp_path / "bert-one").strong_win_rates(probes), bc.load(tmp_path / "bert-two").strong_win_rates(probes), atol=1e-5)
    # and training moved the weights (the check above is not two copies of the initial model)
    initial = bc.load(tmp_path / "bert-one").model.bert.embeddings.word_embeddings.weight
    from transformers import BertModel

    assert not torch.allclose(initial, BertModel.from_pretrained(tmp_path / "backbone").embeddings.word_embeddings.weight)


@pytest.mark.parametrize("bits", [None, 4], ids=["lora", "qlora"])
def test_lora_trains_merges_and_scores_a_tiny_qwen2_classifier(tmp_path, bits, monkeypatch):
    """LoRA, and QLoRA (4-bit NF4 backbone through bitsandbytes, which runs on the CPU too): the
    adapters train, fold into a plain full-precision model, and the checkpoint round-trips."""
    from transformers import AutoModelForSequenceClassification

    _backbone("qwen2", tmp_path / "backbone", hidden=64)  # bitsandbytes' CPU kernels quantise in blocks of 64
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "bits": bits}
    params = {**TEST_PARAMS, "epochs": 4, "learning_rate": 3e-3, "labels": "weak_score", "lora": lora}
    trained_on = []
    apply_lora = tu.apply_lora

    def spy(model, settings, head):  # the model the adapters are trained on (the merge builds a second one)
        trained_on.append({type(m).__name__ for m in model.modules()})
        return apply_lora(model, settings, head)

    monkeypatch.setattr(tu, "apply_lora", spy)
    router = bc.train(planted_corpus(), params, 0, str(tmp_path / "backbone"))
    assert ("Linear4bit" in trained_on[0]) == (bits == 4)
    modules = {type(m).__name__ for m in router.model.modules()}
    assert "Linear4bit" not in modules and not any("lora_" in name for name, _ in router.model.named_parameters())  # merged: a plain model
    assert all(t.is_floating_point() for t in router.model.parameters())
    scores = router.strong_win_rates([PROBE_HARD, PROBE_EASY])
    assert scores[0] > scores[1]
    router.save(tmp_path / "router")
    assert np.allclose(bc.load(tmp_path / "router").strong_win_rates([PROBE_HARD, PROBE_EASY]), scores, atol=1e-6)
    base = AutoModelForSequenceClassification.from_pretrained(tmp_path / "backbone", num_labels=5)
    merged = bc.load(tmp_path / "router").model
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(dict(base.named_parameters())[layer].float(), dict(merged.named_parameters())[layer].float(), atol=1e-3)  # adapters folded in
    # only adapters and the task head were trainable
    apply_lora(base, tu.lora_settings(lora, "test"), "score")
    trainable = {n for n, t in base.named_parameters() if t.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("score.") for n in trainable) and "score.weight" in trainable


def test_lora_settings_name_what_is_wrong():
    with pytest.raises(ValueError, match="unknown lora keys \\['rank'\\]"):
        tu.lora_settings({"rank": 8}, "bert")
    with pytest.raises(ValueError, match="lora.bits must be 4"):
        tu.lora_settings({"bits": 8}, "bert")
    assert tu.lora_settings(None, "bert") is None and tu.lora_settings({"r": 8}, "bert")["alpha"] == 32
