"""Frozen, mean-pooled prompt representations of the original corpus (training and validation rows)
for RULE.md's probe: MPNet-base's last layer and SmolLM2-135M-Instruct's layers 15 and 30 (last), each
over the prompt's first 128 tokens as RAGRouter's encoder truncates them (`fusion.tokenise`, middle).
MiniLM's and the fused vectors are read from the run's feature files by probe.py instead.
Writes OUT/<arm>.npy (rows in corpus order) and OUT/ids.parquet; not committed (70 MB), rebuilt by:
    python logs/experiments/frozen_encoders_leave_family_out/embed.py RUN_CHECKOUT MPNET_DIR OUT
"""

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from loguru import logger
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

from ragrouter.common.io import setup_logging
from ragrouter.method.fusion import _pad, tokenise

run, mpnet_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
setup_logging(Path(__file__).with_name("embed.log"))
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
corpus.select("id", "source", "split").write_parquet(out / "ids.parquet")
prompts = corpus["prompt"].to_list()
logger.info(f"{len(prompts)} prompts ({corpus['split'].value_counts(sort=True).rows()}), {torch.get_num_threads()} threads")


def pooled(model_dir: Path, layers: dict[str, int], batch_size: int = 16) -> None:
    tokenizer, model = AutoTokenizer.from_pretrained(str(model_dir)), AutoModel.from_pretrained(str(model_dir)).eval()
    items = tokenise(tokenizer, prompts, 128, "middle")
    order = np.argsort([len(t.ids) for t in items], kind="stable")  # similar lengths per batch: less padding
    vectors = {arm: np.zeros((len(prompts), model.config.hidden_size), dtype=np.float32) for arm in layers}
    start = time.perf_counter()
    with torch.inference_mode():
        for b in tqdm(range(0, len(order), batch_size), desc=model_dir.name, mininterval=30):
            rows = order[b : b + batch_size]
            enc = _pad(tokenizer, [items[i] for i in rows], torch.device("cpu"))
            states = model(**enc, output_hidden_states=True).hidden_states
            mask = enc["attention_mask"].unsqueeze(-1).float()
            for arm, layer in layers.items():
                vectors[arm][rows] = ((states[layer] * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()
    for arm, values in vectors.items():
        np.save(out / f"{arm}.npy", values)
    logger.info(f"{model_dir.name}: {list(layers)} ({model.config.num_hidden_layers} layers) in {time.perf_counter() - start:.0f} s")


pooled(mpnet_dir, {"mpnet": -1})
pooled(run / "resources/models/causal_lm", {"smollm2_mid": 15, "smollm2_last": -1})
