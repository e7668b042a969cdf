"""Validation metrics used to make every training-time choice (epochs, grids, K) on the corpus'
validation split; benchmark prompts never enter here."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of `scores` against binary `labels` (ties in the score count half); NaN when only
    one class is present."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64)))
