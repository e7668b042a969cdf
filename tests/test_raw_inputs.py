"""Generated bad input for every raw loader and for `ragrouter route`: each mutation of a valid
small file either loads (a documented repair, e.g. a blank training prompt that `build_corpus`
drops later) or raises a DataError naming the file and the row or column; never another exception."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragrouter.data import benchmarks as B
from ragrouter.data import corpus as C
from ragrouter.data import external as E
from ragrouter.data.sources import DataError
from ragrouter.serving.cli import main, read_prompts

STRONG, WEAK = B.STRONG_MODEL, B.WEAK_MODEL
MUTATIONS = ["drop", "null", "nan", "list", "dict", "big", "negative", "empty", "blank", "utf8", "duplicate"]
ERROR_PLACE = re.compile(r"row \d+|missing column|question \S+:|no model|expected a JSON|not valid JSON|does not exist")


@dataclass(frozen=True)
class Case:
    """A valid fixture: records written to `target` (by `fmt`) beside fixed `others`; `load` reads the folder."""

    name: str
    target: str
    fmt: str  # "jsonl", "jsonl.gz", "json", "csv", "parquet"
    records: list[dict]
    others: dict[str, str]
    load: Callable[[Path], object]


def _csv_text(records: list[dict]) -> str:
    fields = list(dict.fromkeys(k for r in records for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, restval="")
    writer.writeheader()
    for r in records:
        writer.writerow({k: "" if v is None else (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()})
    return out.getvalue()


def _write(case: Case, folder: Path, records: list[dict], bad_byte_at: int | None) -> Path:
    for rel, text in case.others.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    path = folder / case.target
    path.parent.mkdir(parents=True, exist_ok=True)
    if case.fmt == "parquet":
        pl.DataFrame(records).write_parquet(path)
        return path
    if case.fmt == "csv":
        data = _csv_text(records).encode()
    elif case.fmt == "json":
        data = json.dumps(records).encode()
    else:
        data = "\n".join(json.dumps(r) for r in records).encode() + b"\n"
    if bad_byte_at is not None:  # inside the mutated row's line
        lines = data.split(b"\n")
        line = min(bad_byte_at + (1 if case.fmt == "csv" else 0), len(lines) - 1)
        lines[line] = lines[line][:1] + b"\xff" + lines[line][1:]
        data = b"\n".join(lines)
    path.write_bytes(gzip.compress(data) if case.fmt == "jsonl.gz" else data)
    return path


def _mutate(records: list[dict], row: int, field: str, how: str, fmt: str) -> list[dict]:
    records = [dict(r) for r in records]
    rec = records[row]
    values = {"null": None, "nan": float("nan"), "list": ["x"], "dict": {"a": 1}, "big": 99, "negative": -3, "empty": "", "blank": "  \t"}
    if how == "drop":
        for r in records if fmt in ("csv", "parquet") else [rec]:  # a table loses the column
            r.pop(field, None)
    elif how == "duplicate":
        records.insert(row, dict(rec))
    elif how != "utf8":
        rec[field] = values[how]
    return records


def _qa(qid, text):
    return {"question_id": qid, "turns": [text]}


ROUTERBENCH = [
    {"sample_id": f"s{i}", "prompt": repr([f"question {i}"]), STRONG: "1.0", "mistralai/mixtral-8x7b-chat": str(i % 2), "meta/llama-2-70b-chat": "0.0"}
    for i in range(3)
]
ROUTERDC = [{"question": f"q{i}", "scores": {"mistralai/Mistral-7B-v0.1": float(i % 2), "big/model": 1.0}} for i in range(3)]
ALPACA = [{"instruction": f"do {i}", "generator_1": "gpt4_1106_preview", "generator_2": "Mixtral-8x7B-Instruct-v0.1", "preference": 1.0 + i / 3} for i in range(3)]
ARENA_Q = [{"question_id": f"a{i}", "turns": [{"content": f"ask {i}"}]} for i in range(3)]
ARENA_J = [{"question_id": f"a{i}", "model": "Mixtral-8x7B-Instruct-v0.1", "score": float(3 + i)} for i in range(3)]
GPT4 = [{"prompt": f"p{i}", "gpt4_response": "g", "mixtral_response": "m", "mixtral_score": 1 + i, "source": "s"} for i in range(3)]
ARENA_55K = [
    {"id": i, "model_a": "gpt-4-0613", "model_b": "mixtral", "prompt": json.dumps([f"hi {i}"]), "response_a": json.dumps(["a"]), "response_b": json.dumps(["b"]), "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0}
    for i in range(3)
]
MMLU = [{"prompt": f"mmlu question {i}", WEAK: "True" if i % 2 else "False", STRONG: "True"} for i in range(3)]
MT_Q = [_qa(81 + i, f"write {i}") for i in range(3)]
MT_J = [{"question_id": 81 + i, "model": m, "score": 5.0 + t} for i in range(3) for m in (STRONG, WEAK) for t in range(2)]
NO_CONTAMINATION = ""

CASES = [
    Case("routerbench", "rb/a.csv", "csv", ROUTERBENCH, {}, lambda d: C.load_routerbench(d / "rb")),
    Case("routerdc", "dc/a.json", "json", ROUTERDC, {}, lambda d: C.load_routerdc(d / "dc")),
    Case("alpaca-eval", "battles.jsonl.gz", "jsonl.gz", ALPACA, {}, lambda d: C.load_alpaca_battles(d / "battles.jsonl.gz")),
    Case("arena-bench questions", "ab/question.jsonl", "jsonl", ARENA_Q, {"ab/model_judgment/j.jsonl": "\n".join(map(json.dumps, ARENA_J))}, lambda d: C.load_arena_bench(d / "ab")),
    Case("arena-bench judgments", "ab/model_judgment/j.jsonl", "jsonl", ARENA_J, {"ab/question.jsonl": "\n".join(map(json.dumps, ARENA_Q))}, lambda d: C.load_arena_bench(d / "ab")),
    Case("gpt4_dataset", "gpt4.json", "json", GPT4, {}, lambda d: E.load_gpt4_dataset(d / "gpt4.json")),
    Case("arena-55k jsonl", "arena.jsonl", "jsonl", ARENA_55K, {}, lambda d: E.load_arena_55k(d / "arena.jsonl")),
    Case("arena-55k parquet", "arena.parquet", "parquet", ARENA_55K, {}, lambda d: E.load_arena_55k(d / "arena.parquet")),
    Case(
        "mmlu",
        "mmlu/responses/mmlu_x.csv",
        "csv",
        MMLU,
        {"mmlu/domains.txt": "x\n", "mmlu/contaminated_prompts.jsonl": NO_CONTAMINATION},
        lambda d: B.load_mmlu(d),
    ),
    Case("gsm8k", "gsm8k/gsm8k_responses.csv", "csv", MMLU, {"gsm8k/contaminated_prompts.jsonl": NO_CONTAMINATION}, lambda d: B.load_gsm8k(d)),
    Case(
        "mt_bench questions",
        "mt_bench/question.jsonl",
        "jsonl",
        MT_Q,
        {"mt_bench/judgements.jsonl": "\n".join(map(json.dumps, MT_J)), "mt_bench/contaminated_prompts.jsonl": NO_CONTAMINATION},
        lambda d: B.load_mt_bench(d),
    ),
    Case(
        "mt_bench judgements",
        "mt_bench/judgements.jsonl",
        "jsonl",
        MT_J,
        {"mt_bench/question.jsonl": "\n".join(map(json.dumps, MT_Q)), "mt_bench/contaminated_prompts.jsonl": NO_CONTAMINATION},
        lambda d: B.load_mt_bench(d),
    ),
    Case("route jsonl", "prompts.jsonl", "jsonl", [{"prompt": f"route {i}"} for i in range(3)], {}, lambda d: read_prompts(str(d / "prompts.jsonl"))),
    Case("route parquet", "prompts.parquet", "parquet", [{"prompt": f"route {i}"} for i in range(3)], {}, lambda d: read_prompts(str(d / "prompts.parquet"))),
]


def _fields(records: list[dict]) -> list[str]:
    return sorted({k for r in records for k in r})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_every_mutation_loads_or_names_file_and_row(case: Case, data):
    row = data.draw(st.integers(0, len(case.records) - 1), label="row")
    field = data.draw(st.sampled_from(_fields(case.records)), label="field")
    how = data.draw(st.sampled_from([m for m in MUTATIONS if not (m == "utf8" and case.fmt == "parquet")]), label="mutation")
    records = _mutate(case.records, row, field, how, case.fmt)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            path = _write(case, folder, records, row if how == "utf8" else None)
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
            return  # a table polars cannot even write (mixed types in a column) is not an input
        try:
            case.load(folder)
        except DataError as err:
            message = str(err)
            assert str(path) in message or any(str(folder / rel) in message for rel in case.others) or str(path.parent) in message, message
            assert ERROR_PLACE.search(message), message
            if how == "utf8":
                assert "UTF-8" in message, message


def test_valid_fixtures_load():
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            _write(case, Path(tmp), case.records, None)
            out = case.load(Path(tmp))
            assert len(out[0] if isinstance(out, tuple) else out) >= 3, case.name


def test_route_with_bad_input_stops_before_any_output(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{"prompt": ["not", "text"]}\n')
    out = tmp_path / "routed.jsonl"
    with pytest.raises(SystemExit, match=r"bad.jsonl: row 2: field 'prompt'"):
        main(["route", "--router", str(tmp_path / "no-router"), "--encoder", str(tmp_path), "--threshold", "0.5", "--input", str(bad), "--output", str(out)])
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_a_malformed_json_file_is_named_with_its_line(tmp_path):
    bad = tmp_path / "gpt4.json"
    bad.write_text('[{"prompt": "p", "mixtral_score": 3},\n {"prompt": ')
    with pytest.raises(DataError, match=r"gpt4\.json: not valid JSON \(.*line 2\)"):
        E.load_gpt4_dataset(bad)
