"""Where a served RAGRouter's time goes, per prompt, and the speed an int8 frozen encoder would buy
(issue 13: >= 100 prompts/s batched on 2 threads, p50 <= 50 ms one prompt at a time).

Usage: python logs/experiments/serving_floor/run.py RUN_CHECKOUT [THREADS]
RUN_CHECKOUT: a checkout after a reference run (resources/ and results/ of it). Reads the full
RAGRouter's seed-0 checkpoint, the fusion encoder and 640 MMLU prompts (every 20th; their labels are
never read). Times each stage on the same prompts, batched (64) and one prompt at a time; then the
frozen encoder exported to ONNX and quantised to int8 (dynamic, per channel) in place of the float32
one, and the Spearman correlation of the router's scores with and without it.
"""

import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
import torch
from scipy.stats import spearmanr

from ragrouter.common.onnx_inference import configured_backend
from ragrouter.method import fusion as F
from ragrouter.method.classifier import joined_features, query_inputs
from ragrouter.serving import route as serve

run, threads = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
rid = "ragrouter_aug-on_sample-on_feat-on_rag-on/seed-0"
router = serve.load_router(run / f"resources/routers/{rid}", run / "resources/models/encoder", run / "resources/ragrouter/fusion")
router.use_backend(configured_backend("onnx_int8_checked", run / f"results/validation/{rid}.parquet"), threads)
fusion = router.features.fusion.eval()
prompts = pl.read_parquet(run / "resources/benchmarks/mmlu.parquet")["prompt"].gather_every(20).to_list()[:640]


def stages(batch: list[str]) -> dict[str, float]:
    """Seconds of each stage of `router.strong_win_rates(batch)`, run stage by stage."""
    seconds = {}
    with torch.inference_mode():
        t = time.perf_counter()
        toks = F.tokenise(fusion.tokenizer, batch, fusion.config["max_length"], fusion.config.get("truncation", "right"))
        fusion._encoder(**F._pad(fusion.tokenizer, toks, fusion.device_))
        seconds["frozen encoder"] = time.perf_counter() - t
        t = time.perf_counter()
        list(fusion.nlp.pipe([x.text for x in toks], batch_size=len(batch)))
        seconds["spaCy parse"] = time.perf_counter() - t
        t = time.perf_counter()
        inputs = query_inputs(router.kb, batch, router.features, router.params, tokenizer=router.classifier.tokenizer, max_tokens=router.classifier.max_length)
        whole_features = time.perf_counter() - t
        t = time.perf_counter()
        router.classifier.strong_win_rates(inputs.texts, joined_features(inputs.vectors, inputs.numbers, router.params["numeric_scaling"]))
        seconds["classifier (" + router.classifier.fast.backend + ")"] = time.perf_counter() - t
    # query_inputs ran the encoder and the parse again, then the fusion head, retrieval and RAG prompt
    seconds["fusion head, alignment, retrieval, RAG prompt"] = max(whole_features - seconds["frozen encoder"] - seconds["spaCy parse"], 0.0)
    return seconds


def table(per_call: list[dict[str, float]], prompts_per_call: int) -> dict[str, float]:
    total = {k: sum(d[k] for d in per_call) for k in per_call[0]}
    n = len(per_call) * prompts_per_call
    return {k: 1000 * v / n for k, v in total.items()}


stages(prompts[:64])  # warm-up
batched = table([stages(prompts[s : s + 64]) for s in range(0, len(prompts), 64)], 64)
single = table([stages([p]) for p in prompts[:200]], 1)
print(f"ms per prompt, {threads} threads: stage | batched (64) | one at a time")
for k in batched:
    print(f"{k} | {batched[k]:.1f} | {single[k]:.1f}")
print(f"sum | {sum(batched.values()):.1f} ({1000 / sum(batched.values()):.0f} prompts/s) | {sum(single.values()):.1f}")

# the frozen encoder in int8
with torch.inference_mode():
    float_scores = router.strong_win_rates(prompts)
with tempfile.TemporaryDirectory() as tmp:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class States(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    path = Path(tmp) / "encoder.onnx"
    example = (torch.ones((2, 8), dtype=torch.long), torch.tensor([[1] * 8, [1] * 5 + [0] * 3]))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "states": {0: "batch", 1: "tokens"}}
    with torch.inference_mode():
        torch.onnx.export(States(fusion._encoder).eval(), example, path, input_names=["input_ids", "attention_mask"], output_names=["states"], dynamic_axes=axes, opset_version=17, dynamo=False)
    quantize_dynamic(path, path.with_name("encoder.int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path.with_name("encoder.int8.onnx")), options, providers=["CPUExecutionProvider"])

    def int8_encoder(input_ids, attention_mask, **_):
        feed = {"input_ids": input_ids.numpy().astype(np.int64), "attention_mask": attention_mask.numpy().astype(np.int64)}
        return SimpleNamespace(last_hidden_state=torch.from_numpy(session.run(["states"], feed)[0]))

    object.__setattr__(fusion, "_encoder", int8_encoder)
    batched8 = table([stages(prompts[s : s + 64]) for s in range(0, len(prompts), 64)], 64)
    single8 = table([stages([p]) for p in prompts[:200]], 1)
    with torch.inference_mode():
        int8_scores = router.strong_win_rates(prompts)
print(f"with the frozen encoder in int8: {batched8['frozen encoder']:.1f} ms batched, {single8['frozen encoder']:.1f} one at a time; "
      f"sum {sum(batched8.values()):.1f} ms batched ({1000 / sum(batched8.values()):.0f} prompts/s), {sum(single8.values()):.1f} ms one at a time; "
      f"Spearman of the router's scores with the float32 encoder's {spearmanr(float_scores, int8_scores).statistic:.5f} ({len(prompts)} prompts)")
