"""Outputs are written atomically: a failure leaves no partial file."""

from __future__ import annotations

import gzip

import pytest

from ragrouter.common.io import atomic_path, write_gzip_lines


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_gzip_lines_are_byte_reproducible(tmp_path):
    write_gzip_lines(["b", "a"], tmp_path / "x.gz")
    first = (tmp_path / "x.gz").read_bytes()
    write_gzip_lines(["b", "a"], tmp_path / "x.gz")
    assert (tmp_path / "x.gz").read_bytes() == first
    assert gzip.decompress(first).decode() == "b\na\n"
