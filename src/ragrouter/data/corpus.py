"""The unified training corpus and battle table, built from every offline labelled source.

Stage: data (rule `build_corpus`). Reads the verified sources; writes `resources/corpus/corpus.parquet`
and `battles.parquet`.

Corpus schema (one row per prompt and routed pair; documented in the README):

| column       | meaning                                                                 |
|--------------|-------------------------------------------------------------------------|
| id           | `<source>:<native id or row>`, unique                                   |
| prompt       | the user query (first turn)                                             |
| source       | source name (see `SOURCES`)                                             |
| strong_model | the strong model the label is about                                     |
| weak_model   | the weak model the label is about                                       |
| weak_score   | 1-5 quality of the weak model's answer (4-5: good enough)               |
| label        | routing label: 1 = needs the strong model (weak_score <= 3), 0 = weak   |
| split        | "train" or "validation" (random 10 %, fixed seed), added by `assign_split` |

Native labels map to `weak_score` as written in the `*_score` functions below.
Battle schema: prompt, model_a, model_b, winner ("model_a" | "model_b" | "tie"), source.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
from loguru import logger
from pydantic import Field

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.data.decontaminate import EvalIndex, decontaminate
from ragrouter.data.records import EmptyIsNone, FiniteFloat, NonBlank, QuestionId, Record, checked, csv_rows, json_array_rows, jsonl_rows
from ragrouter.data.sources import DataError, tasks_of

# Several sources spell the routed pair differently; battles and labels use one name per model.
MODEL_ALIASES = {
    "gpt4_1106_preview": STRONG_MODEL,
    "gpt-4-turbo": STRONG_MODEL,
    "mistralai/mixtral-8x7b-chat": WEAK_MODEL,
    "Mixtral-8x7B-Instruct-v0.1": WEAK_MODEL,
}
# routerdc-7models has neither GPT-4 nor Mixtral: its proxy pair is the set's strongest model
# (by mean score over all its files) against Mistral-7B, Mixtral's smaller sibling.
ROUTERDC_WEAK = "mistralai/Mistral-7B-v0.1"

CORPUS_SCHEMA = {
    "id": pl.String,
    "prompt": pl.String,
    "source": pl.String,
    "strong_model": pl.String,
    "weak_model": pl.String,
    "weak_score": pl.Int64,
    "label": pl.Int64,
}
BATTLE_SCHEMA = {"prompt": pl.String, "model_a": pl.String, "model_b": pl.String, "winner": pl.String, "source": pl.String}


def canonical_model(name: str) -> str:
    return MODEL_ALIASES.get(name, name)


def routing_label(weak_score: int) -> int:
    """1-3 -> the weak answer is not good enough -> strong (1); 4-5 -> weak (0)."""
    return int(weak_score <= 3)


def correctness_score(strong_ok: bool, weak_ok: bool) -> int:
    """Correctness pair -> weak score: weak right 5; both wrong 4 (the strong model would not help,
    so the weak one is as good); weak wrong and strong right 1."""
    if weak_ok:
        return 5
    return 1 if strong_ok else 4


def graded_score(scores: dict[str, float]) -> int:
    """Share of a prompt's models that answer it correctly -> 1-5: 1 + 4 * share, rounded half up
    (none solves it 1, all do 5). With 7 (RouterDC) or 11 (RouterBench) models this grades how hard
    a prompt is, where one pair's right/wrong says only which of four cases happened."""
    share = float(np.mean([s >= 0.5 for s in scores.values()]))
    return int(math.floor(1 + 4 * share + 0.5))


LABEL_SCHEMES = ("pair", "graded")
TRAIN_CAP = "max_train_rows_per_source"  # the per-source cap's name: in the corpus config and in any router's params


def preference_score(weak_win: float) -> int:
    """Pairwise preference (probability the weak answer is better) -> weak score.
    A tie (0.5) counts as good enough (4), as RouteLLM counts ties for the weak model."""
    if weak_win < 0.2:
        return 1
    if weak_win < 0.4:
        return 2
    if weak_win < 0.5:
        return 3
    if weak_win < 0.75:
        return 4
    return 5


def grade_score(grade: float) -> int:
    """1-10 judge grade -> 1-5 weak score: ceil(grade / 2), so 7 and above means good enough."""
    return int(min(5, max(1, math.ceil(grade / 2))))


def _row(source: str, native_id: str, prompt: str, strong: str, weak: str, score: int) -> dict:
    return {
        "id": f"{source}:{native_id}",
        "prompt": prompt,
        "source": source,
        "strong_model": strong,
        "weak_model": weak,
        "weak_score": score,
        "label": routing_label(score),
    }


def _pairwise_battles(prompt: str, scores: dict[str, float], source: str) -> Iterable[dict]:
    """All model pairs of one prompt; the higher score wins, equal scores tie."""
    for a, b in itertools.combinations(sorted(scores), 2):
        sa, sb = scores[a], scores[b]
        winner = "tie" if sa == sb else ("model_a" if sa > sb else "model_b")
        yield {"prompt": prompt, "model_a": a, "model_b": b, "winner": winner, "source": source}


def _routerbench_prompt(raw: str) -> str:
    """RouterBench stores each prompt as a Python list literal of strings."""
    try:
        parts = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return "\n".join(parts) if isinstance(parts, list) else str(parts)


class RouterBenchRow(Record):
    sample_id: NonBlank
    prompt: str


class RouterDCRecord(Record):
    question: str
    scores: dict[str, FiniteFloat]


class AlpacaBattle(Record):
    instruction: str
    generator_1: NonBlank
    generator_2: NonBlank
    preference: Annotated[FiniteFloat | None, EmptyIsNone] = None


class ArenaTurn(Record):
    content: str


class ArenaQuestion(Record):
    question_id: QuestionId
    turns: Annotated[list[str | ArenaTurn], Field(min_length=1)]


class ArenaJudgment(Record):
    question_id: QuestionId
    model: NonBlank
    score: FiniteFloat | None = None  # None: the judge gave no parsable grade


def load_routerbench(folder: Path, labels: str = "pair") -> tuple[list[dict], list[dict]]:
    """`labels`: "pair" scores GPT-4 vs Mixtral's correctness (`correctness_score`), "graded" the share
    of its 11 models that are right (`graded_score`). Every model column holds a finite number or
    is empty (that model was not run)."""
    rows, battles, skipped = [], [], 0
    for path in sorted(Path(folder).glob("*.csv")):
        models = None
        for i, rec in csv_rows(path, ["sample_id", "prompt", STRONG_MODEL, "mistralai/mixtral-8x7b-chat"]):
            row = checked(RouterBenchRow, rec, path, i)
            if models is None:
                models = [f for f in rec if f not in {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"} and "|" not in f]
            prompt = _routerbench_prompt(row.prompt)
            scores = {canonical_model(m): checked(FiniteFloat, rec[m], path, i, m) for m in models if rec[m] != ""}
            battles.extend(_pairwise_battles(prompt, scores, "routerbench-zs"))
            if STRONG_MODEL not in scores or WEAK_MODEL not in scores:
                skipped += 1
                continue
            score = graded_score(scores) if labels == "graded" else correctness_score(scores[STRONG_MODEL] >= 0.5, scores[WEAK_MODEL] >= 0.5)
            rows.append(_row("routerbench-zs", row.sample_id, prompt, STRONG_MODEL, WEAK_MODEL, score))
    logger.info(f"routerbench-zs: {len(rows)} labelled prompts, {skipped} skipped for an empty score cell")
    return rows, battles


def load_routerdc(folder: Path, labels: str = "pair") -> tuple[list[dict], list[dict]]:
    """`labels`: "pair" scores the proxy pair's correctness, "graded" the share of its 7 models that are right."""
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        for i, rec in json_array_rows(path):
            r = checked(RouterDCRecord, rec, path, i)
            records.append((path.stem, i, r.question, r.scores))
    totals: dict[str, list[float]] = {}
    for *_, scores in records:
        for m, s in scores.items():
            totals.setdefault(m, []).append(s)
    if not any(m != ROUTERDC_WEAK for m in totals):
        raise DataError(f"{folder}: no model other than {ROUTERDC_WEAK} has a score")
    strong = max((m for m in totals if m != ROUTERDC_WEAK), key=lambda m: float(np.mean(totals[m])))
    rows, battles = [], []
    for stem, i, prompt, scores in records:
        battles.extend(_pairwise_battles(prompt, scores, "routerdc-7models"))
        if strong in scores and ROUTERDC_WEAK in scores:
            score = graded_score(scores) if labels == "graded" else correctness_score(scores[strong] >= 0.5, scores[ROUTERDC_WEAK] >= 0.5)
            rows.append(_row("routerdc-7models", f"{stem}:{i}", prompt, strong, ROUTERDC_WEAK, score))
    logger.info(f"routerdc-7models: {len(rows)} labelled prompts; proxy pair {strong} vs {ROUTERDC_WEAK}")
    return rows, battles


def load_alpaca_battles(path: Path) -> tuple[list[dict], list[dict]]:
    """GPT-4-turbo vs Mixtral preferences become labels; every battle goes to the battle table."""
    per_instruction: dict[str, list[float]] = {}
    battles = []
    for i, rec in jsonl_rows(path):
        r = checked(AlpacaBattle, rec, path, i)
        if r.preference is None:
            continue
        pref = 1.5 if r.preference == 0.0 else r.preference  # alpaca_eval writes 0 for a draw (identical outputs)
        if not 1.0 <= pref <= 2.0:
            raise DataError(f"{path}: row {i}: field 'preference' must be 0 or lie in [1, 2], got {pref}")
        a, b = canonical_model(r.generator_1), canonical_model(r.generator_2)
        winner = "tie" if pref == 1.5 else ("model_a" if pref < 1.5 else "model_b")
        battles.append({"prompt": r.instruction, "model_a": a, "model_b": b, "winner": winner, "source": "alpaca-eval"})
        if a == STRONG_MODEL and b == WEAK_MODEL:
            per_instruction.setdefault(r.instruction, []).append(pref - 1.0)
    rows = [
        _row("alpaca-eval", str(k), prompt, STRONG_MODEL, WEAK_MODEL, preference_score(float(np.mean(w))))
        for k, (prompt, w) in enumerate(sorted(per_instruction.items()))
    ]
    logger.info(f"alpaca-eval: {len(rows)} labelled instructions, {len(battles)} battles")
    return rows, battles


def load_arena_bench(folder: Path) -> tuple[list[dict], list[dict]]:
    folder = Path(folder)
    qpath = folder / "question.jsonl"
    prompts = {}
    for i, rec in jsonl_rows(qpath):
        q = checked(ArenaQuestion, rec, qpath, i)
        turn = q.turns[0]
        prompts[q.question_id] = turn.content if isinstance(turn, ArenaTurn) else turn
    grades: dict[str, dict[str, float]] = {}
    unjudged = 0
    for path in sorted((folder / "model_judgment").glob("*.jsonl")):
        for i, rec in jsonl_rows(path):
            j = checked(ArenaJudgment, rec, path, i)
            if j.score is None:
                unjudged += 1
                continue
            grades.setdefault(j.question_id, {})[canonical_model(j.model)] = j.score
    rows, battles = [], []
    for qid, prompt in prompts.items():
        g = grades.get(qid, {})
        battles.extend(_pairwise_battles(prompt, g, "arena-bench-v1"))
        if WEAK_MODEL in g:
            rows.append(_row("arena-bench-v1", str(qid), prompt, STRONG_MODEL, WEAK_MODEL, grade_score(g[WEAK_MODEL])))
    logger.info(f"arena-bench-v1: {len(rows)} labelled prompts, {len(battles)} battles, {unjudged} answers without a grade")
    return rows, battles


# Arena-55k without a judge: model_b's answer is the weak one, scored by the human vote (documented
# rule): it won 5, a tie 4 (as good, as RouteLLM counts ties for the weak model), it lost 2.
ARENA_VOTE_SCORE = {"model_b": 5, "tie": 4, "model_a": 2}


def load_arena_55k_rows(source: str | Path, judge=None) -> tuple[list[dict], list[dict]]:
    """Arena-55k (hub id or local file) with the thesis' label alignment: the judge grades model_b's
    first answer 1-5 with model_a's as the reference (cached by the judge client; a battle it cannot
    grade is dropped), or, without a judge, `ARENA_VOTE_SCORE` of the human vote. The pair of each
    row is that battle's (model_a strong, model_b weak); every battle also enters the battle table."""
    from ragrouter.data.external import load_arena_55k

    arena = load_arena_55k(source)
    if judge is None:
        scores = [ARENA_VOTE_SCORE[w] for w in arena["winner"]]
    else:
        graded = judge.grade_many(list(zip(arena["prompt"], arena["response_a"], arena["response_b"], strict=True)))
        scores = [g[0] if g is not None else None for g in graded]
    rows = [_row("arena_55k", r["id"], r["prompt"], r["model_a"], r["model_b"], s) for r, s in zip(arena.iter_rows(named=True), scores, strict=True) if s is not None]
    dropped = arena.height - len(rows)
    battles = arena.select("prompt", "model_a", "model_b", "winner", pl.lit("arena_55k").alias("source")).to_dicts()
    logger.info(f"arena_55k: {len(rows)} labelled battles ({'judge ' + judge.judge_model if judge else 'human vote'}), {dropped} without a verdict dropped")
    return rows, battles


def load_gpt4_dataset_rows(path: Path) -> tuple[list[dict], list[dict]]:
    """RouteLLM's gpt4_dataset (the real 10-row sample offline): mixtral_score is the weak score."""
    from ragrouter.data.external import load_gpt4_dataset

    df = load_gpt4_dataset(path)
    rows = [
        _row("gpt4_dataset", str(r["id"]), r["prompt"], STRONG_MODEL, WEAK_MODEL, int(r["mixtral_score"]))
        for r in df.iter_rows(named=True)
    ]
    battles = [
        {"prompt": r["prompt"], "model_a": STRONG_MODEL, "model_b": WEAK_MODEL, "winner": "model_b" if r["weak_score"] >= 4 else "model_a", "source": "gpt4_dataset"}
        for r in rows
    ]
    return rows, battles


GRADED_SOURCES = ("routerbench-zs", "routerdc-7models")  # the multi-model sources `labels="graded"` changes


PAPER_SOURCES = ("arena_55k", "gpt4_dataset")  # `{name, path}` sources: a hub id or a local file


def build_corpus(data_root: Path, sources: list[str | dict], labels: str = "pair", judge=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Load every configured source into one corpus and one battle table (deterministic order).

    A source is an offline one by name, or a paper dataset `{name: arena_55k | gpt4_dataset, path}`;
    `judge` (a `JudgeClient`) aligns Arena-55k's labels. `labels` (a LABEL_SCHEMES entry): "graded"
    grades the multi-model sources (RouterBench, RouterDC) by the share of their models that solve a
    prompt; the other sources keep their native labels."""
    data_root = Path(data_root)
    loaders = {
        "routerbench-zs": lambda: load_routerbench(data_root / "routerbench-zs", labels),
        "routerdc-7models": lambda: load_routerdc(data_root / "routerdc-7models", labels),
        "alpaca-eval": lambda: load_alpaca_battles(data_root / "alpaca-eval-battles/battles.jsonl.gz"),
        "arena-bench-v1": lambda: load_arena_bench(data_root / "arena-bench-v1"),
        "gpt4_dataset": lambda: load_gpt4_dataset_rows(data_root / "gpt4-dataset-sample/labeled_test_dataset.json"),
    }
    if labels not in LABEL_SCHEMES:
        raise DataError(f"config 'corpus.labels': unknown label scheme {labels!r}; known: {list(LABEL_SCHEMES)}")
    rows, battles = [], []
    for source in sources:
        if isinstance(source, dict):
            if source.get("name") not in PAPER_SOURCES or "path" not in source:
                raise DataError(f"config 'corpus.sources': {source!r} must be {{name: one of {list(PAPER_SOURCES)}, path: hub id or file}}")
            r, b = load_arena_55k_rows(source["path"], judge) if source["name"] == "arena_55k" else load_gpt4_dataset_rows(source["path"])
        elif source in loaders:
            r, b = loaders[source]()
        else:
            raise DataError(f"config 'corpus.sources': unknown source {source!r}; known: {sorted(loaders)}")
        rows += r
        battles += b
    corpus = pl.DataFrame(rows, schema=CORPUS_SCHEMA).unique(subset=["id"], keep="first", maintain_order=True)
    corpus = corpus.filter(pl.col("prompt").str.strip_chars().str.len_chars() > 0).sort("id")
    battle_table = pl.DataFrame(battles, schema=BATTLE_SCHEMA)
    return corpus, battle_table


def validation_prompts(corpus: pl.DataFrame, validation_fraction: float, seed: int) -> set[str]:
    """A random share of the unique prompts, fixed by seed. Splitting by prompt (not by row) keeps
    every copy of a prompt, and every battle on it, on one side."""
    prompts = corpus["prompt"].unique(maintain_order=True).sort().to_list()
    rng = np.random.default_rng(seed)
    n_val = int(round(validation_fraction * len(prompts)))
    return {prompts[i] for i in rng.permutation(len(prompts))[:n_val]}


def assign_split(table: pl.DataFrame, validation: set[str]) -> pl.DataFrame:
    """Add `split` ("train" / "validation") to a corpus or battle table from the validation prompts."""
    return table.with_columns(
        pl.when(pl.col("prompt").is_in(list(validation))).then(pl.lit("validation")).otherwise(pl.lit("train")).alias("split")
    )


def sample_per_source(rows: pl.DataFrame, max_rows: int | None, seed: int) -> pl.DataFrame:
    """A seeded random sample of at most `max_rows` rows of each source, in their order (all rows when
    `max_rows` is None). A source's file order groups its sub-datasets, so the first N would not do."""
    if not max_rows:
        return rows
    if "source" not in rows.columns:
        raise ValueError(f"{TRAIN_CAP}: the rows have no 'source' column (columns {rows.columns})")
    indexed, keep = rows.with_row_index("_row"), []
    for source in sorted(rows["source"].unique().to_list()):
        index = indexed.filter(pl.col("source") == source)["_row"].to_list()
        keep += index if len(index) <= max_rows else [index[i] for i in random.Random(f"{seed}:{source}").sample(range(len(index)), max_rows)]
    return rows[sorted(keep)]


def cap_train_rows(corpus: pl.DataFrame, battles: pl.DataFrame, max_rows: int | None, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """At most `max_rows` train rows per source (`sample_per_source`), and only the battles on prompts
    still in the corpus. Validation rows are all kept: the split is drawn from every row first, so a
    cap changes what is trained on, never what choices are scored on."""
    if not max_rows:
        return corpus, battles
    train = sample_per_source(corpus.filter(pl.col("split") == "train"), max_rows, seed)
    capped = pl.concat([corpus.filter(pl.col("split") != "train"), train]).sort("id")
    logger.info(f"cap: at most {max_rows} train rows per source: {corpus.height} rows -> {capped.height}")
    return capped, battles.filter(pl.col("prompt").is_in(capped["prompt"].unique().to_list())) if battles.height else battles


def balance_within(corpus: pl.DataFrame, seed: int, within: str = "source") -> pl.DataFrame:
    """Train rows with equal label counts inside every source (`within="source"`) or every task
    (`"task"`, `data.sources.task_of`): each group's majority label is downsampled (seeded,
    uniformly) to its minority count. Validation rows are kept as they are.

    Why: the sources' strong-needed base rates differ (alpaca-eval 73 %, RouterBench 17 %), so on the
    pooled corpus "needs the strong model" also means "looks like alpaca-eval", and every router
    trained on it learns the source; balanced within sources, the source predicts nothing. The tasks
    inside RouterBench and RouterDC differ as much (ARC-Easy 6 %, GSM8K-train 49 %), and MMLU and
    GSM8K are one task each: balanced within tasks, the task predicts nothing either."""
    if within not in ("source", "task"):
        raise ValueError(f"balance: within must be 'source' or 'task', got {within!r}")
    train, validation = corpus.filter(pl.col("split") == "train"), corpus.filter(pl.col("split") != "train")
    groups = train["source"] if within == "source" else pl.Series(tasks_of(train["id"], train["source"]))
    train = train.with_columns(groups.alias("_group"))
    parts = []
    for group in sorted(train["_group"].unique().to_list()):
        rows = train.filter(pl.col("_group") == group).drop("_group")
        counts = rows["label"].value_counts()
        if counts.height < 2:
            logger.warning(f"balance: {within} {group} has one label only in the train split; dropped")
            continue
        n = int(counts["count"].min())
        for label in (0, 1):
            of_label = rows.filter(pl.col("label") == label)
            keep = sorted(random.Random(f"{seed}:{group}:{label}").sample(range(of_label.height), n))  # within source: the seed string as before
            parts.append(of_label[keep])
    balanced = pl.concat(parts).sort("id")
    logger.info(f"balance within {within}: {train.height} train rows -> {balanced.height} (validation {validation.height} unchanged)")
    return pl.concat([balanced, validation]).sort("id")


def grade_train_rows(corpus: pl.DataFrame, graded: pl.DataFrame) -> pl.DataFrame:
    """Train rows take the graded weak score and label of `graded` (the same sources built with
    `labels="graded"`) where it has their id; validation rows keep the routed pair's labels.

    Why validation stays on the pair: every choice made on validation must be scored on the event
    the benchmarks measure (the strong model needed for *this* pair), whatever the training label."""
    regraded = graded.select("id", pl.col("weak_score").alias("_graded_score"), pl.col("label").alias("_graded_label"))
    joined = corpus.join(regraded, on="id", how="left", maintain_order="left")
    use = (pl.col("split") == "train") & pl.col("_graded_score").is_not_null()
    counts = joined.select(use.sum().alias("graded"), (use & (pl.col("_graded_label") != pl.col("label"))).sum().alias("flipped"))
    out = joined.with_columns(
        pl.when(use).then(pl.col("_graded_score")).otherwise(pl.col("weak_score")).alias("weak_score"),
        pl.when(use).then(pl.col("_graded_label")).otherwise(pl.col("label")).alias("label"),
    )
    logger.info(
        f"graded labels: {counts['graded'].item()} of {int((corpus['split'] == 'train').sum())} train rows take a graded score "
        f"({counts['flipped'].item()} of them change label); validation keeps the pair's labels"
    )
    return out.drop("_graded_score", "_graded_label")


def prepare_corpus(data_root: Path, cfg: dict, evaluation_prompts: list[str], judge=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The shared training corpus and battles as rule build_corpus writes them, from config `corpus:`
    (`cfg`): built, decontaminated against `evaluation_prompts`, split, graded, capped, balanced. The
    order matters: the validation split is drawn from every row before any train row is graded,
    capped or dropped, so those choices never change what validation scores."""
    corpus, battles = build_corpus(data_root, cfg["sources"], judge=judge)
    if judge is not None:
        logger.info(f"judge: {judge.stats}")
    logger.info(f"raw corpus: {corpus.height} rows; battles: {battles.height}")
    index = EvalIndex(evaluation_prompts, n=cfg["ngram"])
    corpus, battles = decontaminate(corpus, index, "corpus"), decontaminate(battles, index, "battles")
    validation = validation_prompts(corpus, cfg["validation_fraction"], cfg["split_seed"])
    corpus, battles = assign_split(corpus, validation), assign_split(battles, validation)
    if cfg.get("labels", "pair") == "graded":
        graded_sources = [s for s in cfg["sources"] if isinstance(s, str) and s in GRADED_SOURCES]
        corpus = grade_train_rows(corpus, build_corpus(data_root, graded_sources, "graded")[0])
    corpus, battles = cap_train_rows(corpus, battles, cfg.get(TRAIN_CAP), cfg["split_seed"])
    if cfg.get("balance", "none") != "none":
        corpus = balance_within(corpus, cfg["split_seed"], cfg["balance"].removeprefix("within_"))
    return corpus, battles


def label_summary(corpus: pl.DataFrame) -> pl.DataFrame:
    return (
        corpus.group_by("source")
        .agg(pl.len().alias("rows"), pl.col("label").mean().alias("strong_share"), pl.col("weak_score").mean().alias("mean_weak_score"))
        .sort("source")
    )
