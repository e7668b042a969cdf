"""Shared fixtures: the real data directory (../shared/data or $RAGROUTER_DATA_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("RAGROUTER_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
    if not (path / "routellm-evals").is_dir():
        pytest.fail(f"real data not found at {path}; set RAGROUTER_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def evals_dir(data_dir: Path) -> Path:
    return data_dir / "routellm-evals"
