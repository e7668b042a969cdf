"""Issue 13: can int8 reach the agreement bar with finer quantisation? ONNX Runtime's dynamic int8
with per-channel weight scales (also with reduce_range, and on the feed-forward layers only) for the
BERT router, seed 0, on the scored MMLU and GSM8K prompts, against float32 torch. Run from the
repository root after the workflow trained the router (see bert_agreement.py):

    python logs/experiments/onnx_agreement/per_channel_int8.py > logs/experiments/onnx_agreement/per_channel_int8.log
"""

import json
import time

import onnx
import onnxruntime as ort
import polars as pl
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from ragrouter.evaluation.metrics import agreement
from ragrouter.routers import bert_classifier as bc

torch.set_num_threads(2)
router = bc.load("resources/routers/bert/seed-0")
benchmarks = {n: pl.read_parquet(f"resources/benchmarks/{n}.parquet") for n in ("mmlu", "gsm8k")}
reference = {n: router.strong_win_rates(b["prompt"].to_list()) for n, b in benchmarks.items()}
router.use_backend("onnx", 2)
exported = router.fast  # its session is swapped for each quantised model below
source = f"{exported._folder.name}/model.onnx"
matmuls = [n.name for n in onnx.load(source).graph.node if n.op_type == "MatMul"]
variants = {
    "per_channel": {"per_channel": True},
    "per_channel_reduce_range": {"per_channel": True, "reduce_range": True},
    "per_channel_ffn_only": {"per_channel": True, "nodes_to_exclude": [n for n in matmuls if "attention" in n or "classifier" in n or "pooler" in n]},
}
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
for label, settings in variants.items():
    target = f"{exported._folder.name}/{label}.onnx"
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, **settings)
    exported.session = ort.InferenceSession(target, options, providers=["CPUExecutionProvider"])
    for name, benchmark in benchmarks.items():
        start = time.perf_counter()
        scores = router.strong_win_rates(benchmark["prompt"].to_list())
        rate = len(scores) / (time.perf_counter() - start)
        print(json.dumps({"variant": label, "benchmark": name, **agreement(reference[name], scores, benchmark, name), "prompts_per_s": rate}), flush=True)
