"""The validation layer: every mutation of a valid small table read by the workflow is a DataError
naming the file, the row and the field (or a documented repair), never another exception."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ragrouter.common.embeddings import load_embeddings
from ragrouter.common.finetuning import split_corpus
from ragrouter.common.io import sha1_text
from ragrouter.data.sources import DataError
from ragrouter.routers.base import check_score_file

PROMPTS = ["What is 2 + 2?", "Prove that there are infinitely many primes.", "Say hello."]

CORPUS = pl.DataFrame(
    {
        "id": ["s:1", "s:2", "s:3"],
        "prompt": PROMPTS,
        "source": ["s", "s", "s"],
        "weak_score": [5, 1, 4],
        "label": [0, 1, 0],
        "split": ["train", "train", "validation"],
    }
)
BENCHMARK = pl.DataFrame({"row": [0, 1, 2], "prompt": PROMPTS, "prompt_sha1": [sha1_text(p) for p in PROMPTS]})
SCORES = pl.DataFrame({"row": [0, 1, 2], "prompt_sha1": BENCHMARK["prompt_sha1"], "score": [0.2, 0.9, 0.1]})
EMBEDDINGS = pl.DataFrame({"prompt_sha1": BENCHMARK["prompt_sha1"], "embedding": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}).with_columns(
    pl.col("embedding").cast(pl.List(pl.Float32))
)


def _set(frame: pl.DataFrame, field: str, row: int, value) -> pl.DataFrame:
    values = frame[field].to_list()
    values[row] = value
    return frame.with_columns(pl.Series(field, values, dtype=frame.schema[field], strict=False))


# (table, mutation name, mutate, the row and field the error must name; None: no row applies)
MUTATIONS = [
    ("corpus", "dropped column", lambda f: f.drop("label"), None, "label"),
    ("corpus", "null score", lambda f: _set(f, "weak_score", 1, None), 1, "weak_score"),
    ("corpus", "fractional score", lambda f: f.with_columns(pl.col("weak_score").cast(pl.Float64) + 0.5), None, "weak_score"),
    ("corpus", "score out of range", lambda f: _set(f, "weak_score", 2, 9), 2, "weak_score"),
    ("corpus", "label out of range", lambda f: _set(f, "label", 0, 2), 0, "label"),
    ("corpus", "blank prompt", lambda f: _set(f, "prompt", 1, "   "), 1, "prompt"),
    ("corpus", "empty prompt", lambda f: _set(f, "prompt", 0, ""), 0, "prompt"),
    ("corpus", "unknown split", lambda f: _set(f, "split", 2, "test"), 2, "split"),
    ("corpus", "duplicate id", lambda f: _set(f, "id", 2, "s:1"), 0, "id"),
    ("corpus", "wrong type", lambda f: f.with_columns(pl.col("label").cast(pl.String)), None, "label"),
    ("scores", "NaN score", lambda f: _set(f, "score", 1, float("nan")), 1, "score"),
    ("scores", "null score", lambda f: _set(f, "score", 2, None), 2, "score"),
    ("scores", "inf score", lambda f: _set(f, "score", 0, float("inf")), 0, "score"),
    ("scores", "dropped column", lambda f: f.drop("prompt_sha1"), None, "prompt_sha1"),
    ("scores", "duplicate row", lambda f: _set(f, "row", 2, 1), 1, "row"),
    ("scores", "score as text", lambda f: f.with_columns(pl.col("score").cast(pl.String)), None, "score"),
    ("embeddings", "NaN in a vector", lambda f: _set(f, "embedding", 1, [0.3, float("nan")]), 1, "embedding"),
    ("embeddings", "duplicate prompt", lambda f: _set(f, "prompt_sha1", 2, f["prompt_sha1"][0]), 0, "prompt_sha1"),
    ("embeddings", "dropped column", lambda f: f.drop("embedding"), None, "embedding"),
]
READERS = {
    "corpus": (CORPUS, lambda path: split_corpus(pl.read_parquet(path), str(path))),
    "scores": (SCORES, lambda path: check_score_file(pl.read_parquet(path), BENCHMARK, str(path))),
    "embeddings": (EMBEDDINGS, lambda path: load_embeddings(path)),
}


@pytest.mark.parametrize(("table", "name", "mutate", "row", "field"), MUTATIONS, ids=[f"{m[0]}: {m[1]}" for m in MUTATIONS])
def test_each_mutation_is_a_data_error_naming_file_row_and_field(tmp_path, table, name, mutate, row, field):
    valid, read = READERS[table]
    path = tmp_path / f"{table}.parquet"
    valid.write_parquet(path)
    read(path)  # the valid table passes
    mutate(valid).write_parquet(path)
    with pytest.raises(DataError) as err:
        read(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and repr(field) in message, message
    if row is not None:
        assert f"row {row}:" in message, message


def test_invalid_utf8_in_a_prompt_is_named_not_a_decoding_crash(tmp_path):
    path = tmp_path / "corpus.parquet"
    table = CORPUS.to_arrow()
    prompts = pa.array([p.encode() for p in PROMPTS[:2]] + [b"caf\xe9 \xff"], type=pa.binary())
    pq.write_table(table.set_column(table.schema.get_field_index("prompt"), "prompt", prompts), path)
    with pytest.raises(DataError, match=rf"{path}: corpus: field 'prompt' has type Binary"):
        split_corpus(pl.read_parquet(path), str(path))


def test_valid_tables_pass_unchanged():
    train, validation = split_corpus(CORPUS, "c")
    assert train.height == 2 and validation.height == 1
    assert np.allclose(check_score_file(SCORES, BENCHMARK, "s"), [0.2, 0.9, 0.1])
