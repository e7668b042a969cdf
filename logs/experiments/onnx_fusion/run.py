"""Issue 13: ONNX Runtime's transformer fusions (onnxruntime.transformers.optimizer: fused attention,
SkipLayerNormalization, BiasGelu) for the float32 classifier path, against the plain export.
Same checkpoint, same RAG inputs (every 10th MMLU prompt), 1 thread, after a warm-up batch:
    python logs/experiments/onnx_fusion/run.py RUN_CHECKOUT
"""

import sys
import time

import numpy as np
import onnxruntime as ort
import polars as pl
import torch
from scipy.stats import spearmanr

from ragrouter.common import finetuning as tu
from ragrouter.method.classifier import FeatureTable, load, query_inputs
from ragrouter.routers.bert_classifier import encode_prompts

run = sys.argv[1]
torch.set_num_threads(1)
router = load(f"{run}/resources/routers/ragrouter_aug-on_sample-on_feat-on_rag-on/seed-0")
router.features = FeatureTable([f"{run}/resources/ragrouter/features/feat-on/mmlu.parquet"])
prompts = pl.read_parquet(f"{run}/resources/benchmarks/mmlu.parquet")["prompt"].to_list()[::10]
inputs = query_inputs(router.kb, prompts, router.features, router.params, tokenizer=router.classifier.tokenizer, max_tokens=router.classifier.max_length)
texts, vectors = inputs.texts, inputs.vectors
clf = router.classifier
seqs = encode_prompts(clf.tokenizer, texts, clf.max_length, clf.truncation)
pad = clf.tokenizer.pad_token_id
batches = [(tu.pad_batch([seqs[i] for i in idx], pad), idx) for idx in tu.sorted_batches([len(s) for s in seqs], clf.batch_size)]

clf.use_backend("onnx", 1)
plain_path = f"{clf.fast._folder.name}/model.onnx"


def score(session) -> tuple[np.ndarray, float]:
    out = np.zeros((len(seqs), 5), dtype=np.float32)
    run_batch = lambda b, idx: session.run(["logits"], {"input_ids": b[0].numpy(), "attention_mask": b[1].numpy(), "features": vectors[idx].astype(np.float32)})[0]  # noqa: E731
    run_batch(*batches[0])
    start = time.perf_counter()
    for b, idx in batches:
        out[idx] = run_batch(b, idx)
    return out, time.perf_counter() - start


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


from onnxruntime.transformers.optimizer import optimize_model

config = clf.model.config
fused = optimize_model(plain_path, model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size, opt_level=1)
print("fusions:", fused.get_fused_operator_statistics())
fused_path = plain_path.replace("model.onnx", "model.fused.onnx")
fused.save_model_to_file(fused_path)
plain, t_plain = score(session(plain_path))
fast, t_fast = score(session(fused_path))
p = lambda logits: 1 - torch.softmax(torch.from_numpy(logits), -1)[:, 3:].sum(-1).numpy()  # noqa: E731
print(f"{len(seqs)} RAG inputs: plain {len(seqs) / t_plain:.1f} prompts/s, fused {len(seqs) / t_fast:.1f} prompts/s ({t_plain / t_fast:.2f}x); "
      f"largest score difference {np.abs(p(plain) - p(fast)).max():.2e}, Spearman {spearmanr(p(plain), p(fast)).statistic:.6f}")
