"""One truncation rule for every model input (fusion, perplexity, classifiers)."""

from __future__ import annotations

import pytest

from ragrouter.common.truncation import kept_positions, truncate_ids


def test_kept_positions_keep_head_tail_or_both_halves():
    assert kept_positions(10, 4, "right") == [0, 1, 2, 3]
    assert kept_positions(10, 4, "left") == [6, 7, 8, 9]
    assert kept_positions(10, 5, "middle") == [0, 1, 2, 8, 9] and kept_positions(3, 5, "middle") == [0, 1, 2]
    assert kept_positions(10, 0, "left") == [] and kept_positions(10, -3, "middle") == []


def test_truncate_ids_modes():
    ids = list(range(10, 20))
    assert truncate_ids(ids, 4, "right") == [10, 11, 12, 13]
    assert truncate_ids(ids, 4, "left") == [16, 17, 18, 19]
    assert truncate_ids(ids, 5, "middle") == [10, 11, 12, 18, 19]
    assert truncate_ids(ids, 20, "middle") == ids
    with pytest.raises(ValueError, match="sideways"):
        truncate_ids(ids, 4, "sideways")
