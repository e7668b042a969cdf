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


def test_outputs_are_readable_like_any_file_the_user_writes(tmp_path):
    """mkstemp/mkdtemp make 0600/0700; outputs follow the umask (group-readable on a shared cluster)."""
    import os

    from ragrouter.common.io import atomic_dir, write_text

    old = os.umask(0o002)
    try:
        write_text("x", tmp_path / "out.txt")
        with atomic_dir(tmp_path / "folder") as staging:
            (staging / "f").write_text("y")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o664
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o775
