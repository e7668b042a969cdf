"""Seeding: one place that fixes Python's, numpy's and torch's global generators before training."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed `random`, numpy's global generator and torch (imported here, so callers that never touch
    torch do not pay for the import)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
