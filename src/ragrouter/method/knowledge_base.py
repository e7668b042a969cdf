"""RAGRouter stage 4: a FAISS knowledge base of labelled queries and the retrieval-augmented prompt.

Why: a router decides better when it sees how similar past queries were routed. The training
rows are split 7:3 (stratified by label, `split_kb`); the 70 % become the knowledge base (KB):
their fused vectors in an IVF-Flat L2 index plus text, routing label and weak score. Every query
(the other 30 % for training, evaluation prompts later) retrieves its K nearest KB entries, and
`rag_prompt` writes the query and those neighbours with their labels into one text for the router.

Distances are FAISS's squared L2. KB ids are row positions 0..n-1 of the vectors given to `build`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import resolve_params

DEFAULT_INDEX_PARAMS: dict[str, Any] = {
    "index": "auto",  # auto (IVF unless the KB is tiny) | ivf | flat
    "nlist": None,  # IVF cells; None: round(4 sqrt(n)), capped to n // 39 (FAISS wants >= 39 training points per cell)
    "min_nlist": 8,  # auto: fewer cells than this (n < 312) -> exact IndexFlatL2
    "nprobe": 16,  # cells visited per query
    "use_gpu": True,  # faiss-gpu when installed and a GPU is visible
}


def auto_nlist(n: int) -> int:
    """round(4 sqrt(n)) IVF cells, capped so each cell has >= 39 training points."""
    return int(min(round(4 * math.sqrt(n)), n // 39))


def _gpu_available() -> bool:
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class KnowledgeBase:
    """FAISS index over KB vectors plus the KB's texts, routing labels (1 = strong) and weak scores."""

    def __init__(self, index, texts: Sequence[str], labels: Sequence[int], weak_scores: Sequence[int], params: dict[str, Any]) -> None:
        self.index = index
        self.texts = list(texts)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.weak_scores = np.asarray(weak_scores, dtype=np.int64)
        self.params = params
        self._gpu_resources = None
        if not len(self.texts) == len(self.labels) == len(self.weak_scores) == index.ntotal:
            raise ValueError(f"KB: {index.ntotal} vectors, {len(self.texts)} texts, {len(self.labels)} labels, {len(self.weak_scores)} scores")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def kind(self) -> str:
        return self.params.get("kind", "flat")

    @classmethod
    def build(
        cls, vectors: np.ndarray, texts: Sequence[str], labels: Sequence[int], weak_scores: Sequence[int], params: dict[str, Any] | None = None
    ) -> KnowledgeBase:
        """Train (IVF) and fill the index; the GPU is used when faiss-gpu sees one and use_gpu is set."""
        import faiss

        p = resolve_params(DEFAULT_INDEX_PARAMS, params, "KnowledgeBase.build")
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"KB: vectors must be a non-empty (n, d) array, got shape {x.shape}")
        n, dim = x.shape
        nlist = int(p["nlist"]) if p["nlist"] else auto_nlist(n)
        nlist = min(nlist, n // 39) if p["index"] == "auto" else nlist
        kind = p["index"] if p["index"] != "auto" else ("ivf" if nlist >= p["min_nlist"] else "flat")
        if kind == "ivf":
            if nlist < 1 or nlist > n:
                raise ValueError(f"KB: nlist {nlist} impossible for {n} vectors")
            quantizer = faiss.IndexFlatL2(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_L2)
            index.train(x)
            index.add(x)
            index.nprobe = min(int(p["nprobe"]), nlist)
            info = f"IndexIVFFlat nlist {nlist}, nprobe {index.nprobe}"
        elif kind == "flat":
            index = faiss.IndexFlatL2(dim)
            index.add(x)
            info = "IndexFlatL2 (exact)"
        else:
            raise ValueError(f"KB: index must be auto, ivf or flat, got {p['index']!r}")
        kb = cls(index, texts, labels, weak_scores, {**p, "kind": kind, "nlist": nlist if kind == "ivf" else None, "dim": dim})
        kb._maybe_to_gpu()
        logger.info(f"KB: {n} vectors of dim {dim} in {info} on {'GPU' if kb._gpu_resources else 'CPU'}; strong share {kb.labels.mean():.1%}")
        return kb

    def _maybe_to_gpu(self) -> None:
        if self.params.get("use_gpu", True) and _gpu_available():
            import faiss

            self._gpu_resources = faiss.StandardGpuResources()
            nprobe = getattr(self.index, "nprobe", None)
            self.index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self.index)
            if nprobe is not None:
                faiss.GpuParameterSpace().set_index_parameter(self.index, "nprobe", nprobe)

    # ---- retrieval

    def search(self, vectors: np.ndarray, k: int, exclude_ids: Sequence[int | Iterable[int] | None] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """K nearest KB ids (n, k) int64 and squared L2 distances (n, k) float32, nearest first.

        `exclude_ids[i]` (a KB id, several ids, or None / -1) is never returned for query i: pass
        a KB query's own id (and, to avoid label leakage, the ids of its duplicates, see
        `ids_with_text`). Slots FAISS cannot fill (IVF probing too few cells) are -1 / inf.
        """
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        n = len(x)
        excluded: list[set[int]] = [set() for _ in range(n)]
        if exclude_ids is not None:
            if len(exclude_ids) != n:
                raise ValueError(f"KB.search: {len(exclude_ids)} exclude entries for {n} queries")
            for i, e in enumerate(exclude_ids):
                if e is None:
                    continue
                ids = [e] if np.isscalar(e) else list(e)
                excluded[i] = {int(j) for j in ids if int(j) >= 0}
        extra = max((len(e) for e in excluded), default=0)
        want = min(k + extra, len(self))
        out_ids = np.full((n, k), -1, dtype=np.int64)
        out_dist = np.full((n, k), np.inf, dtype=np.float32)
        if n == 0 or want == 0:
            return out_ids, out_dist
        dist, ids = self.index.search(x, want)
        short = []
        for i in range(n):
            keep = [(j, d) for j, d in zip(ids[i], dist[i], strict=True) if j >= 0 and int(j) not in excluded[i]][:k]
            for slot, (j, d) in enumerate(keep):
                out_ids[i, slot], out_dist[i, slot] = j, d
            if len(keep) < min(k, len(self) - len(excluded[i])) and excluded[i]:
                short.append(i)
        if short and getattr(self.index, "nprobe", None) is not None and self.index.nprobe < self.index.nlist:
            # a long exclusion list (a whole task held out) can empty every probed IVF cell: those
            # queries search every cell, so their K slots fill as they would in an exact index
            probed, self.index.nprobe = self.index.nprobe, self.index.nlist
            try:
                refilled, refilled_dist = self.search(x[short], k, [sorted(excluded[i]) for i in short])
            finally:
                self.index.nprobe = probed
            out_ids[short], out_dist[short] = refilled, refilled_dist
        return out_ids, out_dist

    def ids_with_text(self, texts: Sequence[str]) -> list[list[int]]:
        """KB ids whose text equals each given text: exclusion lists against duplicate prompts."""
        positions: dict[str, list[int]] = {}
        for i, t in enumerate(self.texts):
            positions.setdefault(t, []).append(i)
        return [positions.get(t, []) for t in texts]

    def neighbours(self, ids: np.ndarray, distances: np.ndarray | None = None) -> list[list[dict[str, Any]]]:
        """Per query: the retrieved KB entries as dicts (id, text, label, weak_score, distance); -1 slots dropped."""
        out = []
        for row, row_ids in enumerate(np.atleast_2d(ids)):
            out.append(
                [
                    {
                        "id": int(j),
                        "text": self.texts[j],
                        "label": int(self.labels[j]),
                        "weak_score": int(self.weak_scores[j]),
                        "distance": float(distances[row][slot]) if distances is not None else None,
                    }
                    for slot, j in enumerate(row_ids)
                    if j >= 0
                ]
            )
        return out

    # ---- persistence

    def save(self, out_dir: str | Path) -> None:
        """`index.faiss` (CPU form), `kb.parquet` (kb_id, text, label, weak_score), `index.json` (params)."""
        import faiss

        from ragrouter.common.io import atomic_path, write_json, write_parquet

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        index = faiss.index_gpu_to_cpu(self.index) if self._gpu_resources is not None else self.index
        with atomic_path(out_dir / "index.faiss") as tmp:
            faiss.write_index(index, str(tmp))
        table = pl.DataFrame(
            {"kb_id": np.arange(len(self), dtype=np.int64), "text": self.texts, "label": self.labels, "weak_score": self.weak_scores}
        )
        write_parquet(table, out_dir / "kb.parquet")
        write_json(self.params, out_dir / "index.json")

    @classmethod
    def load(cls, out_dir: str | Path, use_gpu: bool | None = None) -> KnowledgeBase:
        import faiss

        out_dir = Path(out_dir)
        params = json.loads((out_dir / "index.json").read_text())
        if use_gpu is not None:
            params["use_gpu"] = use_gpu
        index = faiss.read_index(str(out_dir / "index.faiss"))
        table = pl.read_parquet(out_dir / "kb.parquet").sort("kb_id")
        kb = cls(index, table["text"].to_list(), table["label"].to_numpy(), table["weak_score"].to_numpy(), params)
        kb._maybe_to_gpu()
        return kb


# --------------------------------------------------------------------------- prompt and split


def _one_line(text: str, max_chars: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def cut_to_tokens(tokenizer, text: str, budget: int) -> str:
    """`text` in at most `budget` tokens: whole if it fits, else its first `budget - 1` tokens and an
    ellipsis marking the cut (nothing for budget 0)."""
    text = re.sub(r"\s+", " ", text).strip()
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]
    if len(offsets) <= budget:
        return text
    return (text[: offsets[budget - 2][1]].rstrip() if budget > 1 else "") + "…" if budget > 0 else ""


def token_budgets(needs: Sequence[int], total: int) -> list[int]:
    """Split `total` tokens over texts that need `needs` tokens: equal shares, and what a short text
    does not use goes to the others (water-filling), so no text is cut while budget is left."""
    budgets, left, open_ = [0] * len(needs), max(total, 0), list(range(len(needs)))
    while open_ and left > 0:
        share = max(left // len(open_), 1)
        for i in list(open_):
            give = min(share, needs[i] - budgets[i], left)
            budgets[i] += give
            left -= give
            if budgets[i] >= needs[i]:
                open_.remove(i)
            if left == 0:
                break
    return budgets


def rag_prompt_in_tokens(tokenizer, query: str, neighbours: Sequence[dict[str, Any]], max_tokens: int, query_share: float = 0.5) -> str:
    """`rag_prompt` within `max_tokens` tokens of `tokenizer` (special tokens included): the template
    costs what it costs, the query takes what it needs up to `query_share` of the rest, and the K
    neighbours share the remainder equally (water-filled), so every neighbour K was chosen for is seen."""
    template = len(tokenizer(rag_prompt("", [{**nb, "text": ""} for nb in neighbours]), verbose=False)["input_ids"])
    free = max_tokens - template
    need_q = len(tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"])
    needs_nb = [len(tokenizer(nb["text"], add_special_tokens=False, verbose=False)["input_ids"]) for nb in neighbours]
    q_budget = min(need_q, max(int(free * query_share), free - sum(needs_nb)))
    nb_budgets = token_budgets(needs_nb, free - q_budget)
    cut = [{**nb, "text": cut_to_tokens(tokenizer, nb["text"], b)} for nb, b in zip(neighbours, nb_budgets, strict=True)]
    return rag_prompt(cut_to_tokens(tokenizer, query, q_budget), cut, max_chars=10**9)


def rag_prompt(query: str, neighbours: Sequence[dict[str, Any]], max_chars: int = 300) -> str:
    """The query, then its K neighbours, one line each with the model that suited them and the weak score.

    Query first, so a router that truncates from the right keeps it whole. Template:

        Query: <query>
        Similar queries (K):
        [1] suited model: strong | weak-model score: 2/5 | <neighbour text>
    """
    lines = [f"Query: {query.strip()}", f"Similar queries ({len(neighbours)}):"]
    for rank, nb in enumerate(neighbours, start=1):
        suited = "strong" if int(nb["label"]) == 1 else "weak"
        lines.append(f"[{rank}] suited model: {suited} | weak-model score: {int(nb['weak_score'])}/5 | {_one_line(nb['text'], max_chars)}")
    return "\n".join(lines)


def split_kb(corpus: pl.DataFrame, fraction: float = 0.7, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train rows -> (knowledge base, queries), ~fraction : 1 - fraction per routing label.

    Stratified by label; identical prompts stay on one side (stratified by the label of their first
    row) so no query can retrieve a copy of itself with its own label. fraction 1.0 is cross-fitting:
    every train row is both in the KB and a query (the caller must then exclude each query's own
    family from its retrieval, see `ragrouter.method.classifier.family_exclusions`).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"split_kb: fraction must lie in (0, 1], got {fraction}")
    train = corpus.filter(pl.col("split") == "train") if "split" in corpus.columns else corpus
    if fraction == 1.0:
        logger.info(f"split_kb: cross-fitting: all {train.height} train rows are KB entries and queries")
        return train, train
    firsts = train.select("prompt", "label").unique(subset=["prompt"], keep="first", maintain_order=True)
    rng = np.random.default_rng(seed)
    kb_prompts: set[str] = set()
    for label in sorted(firsts["label"].unique().to_list()):
        prompts = firsts.filter(pl.col("label") == label)["prompt"].to_list()
        take = int(round(fraction * len(prompts)))
        kb_prompts.update(prompts[i] for i in rng.permutation(len(prompts))[:take])
    in_kb = train["prompt"].is_in(list(kb_prompts))
    kb, queries = train.filter(in_kb), train.filter(~in_kb)
    for name, part in (("KB", kb), ("queries", queries)):
        share = part["label"].mean() if part.height else float("nan")
        logger.info(f"split_kb: {name}: {part.height} rows, strong share {share:.1%}")
    return kb, queries
