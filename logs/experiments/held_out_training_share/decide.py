"""The decision of RULE.md, on validation only: per seed, the full variant's final choice metric (the
training log's per-task mean over both retrieval copies at the chosen a) and the classifier alone
(w = 0), then REPORT.md's Validation columns of the served scores; the committed run against the run
with `held_out_training_share: 0.5`.

Usage: python logs/experiments/held_out_training_share/decide.py <committed run dir> <experiment run dir>
"""

import re
import sys
from pathlib import Path

from ragrouter.evaluation.validation import validation_table

variant = "aug-on_sample-on_feat-on_rag-on"
for name, root in zip(("committed run 5 (share 0)", "run9 (share 0.5)"), sys.argv[1:3], strict=True):
    finals, alone = [], []
    for seed in range(3):
        log = Path(f"{root}/logs/train_ragrouter/{variant}/seed-{seed}.log").read_text()
        votes = re.search(r"K-neighbour vote \{0\.0: ([0-9.]+).*?; w = ([0-9.]+)", log)
        chosen_a, statistics = re.search(r"ragrouter: a = ([0-9.]+) on (\[[^]]*\])", log).groups()
        grids = re.findall(r"structure prior on (\[[^]]*\]).*?\(1 - a\) \* score \+ a \* prior (\{[^}]*\})", log)
        grid = {float(k): float(v) for k, v in re.findall(r"([0-9.]+): ([0-9.]+)", dict(grids)[statistics])}
        chosen_a = float(chosen_a)
        finals.append(grid[chosen_a])
        alone.append(float(votes.group(1)))
        print(f"{name} seed {seed}: classifier alone {alone[-1]:.4f}, w {votes.group(2)}, a {chosen_a}, final {finals[-1]:.4f}")
    table = validation_table({variant: [f"{root}/results/validation/ragrouter_{variant}/seed-{s}.parquet" for s in range(3)]})
    served = ", ".join(f"{k} {table[k][0]:.4f}" for k in ("mean per-source", "mean per-task", "per-task SE", "pair-weighted per-task"))
    print(f"{name}: final choice metric mean {sum(finals) / 3:.4f}, classifier alone mean {sum(alone) / 3:.4f}; served: {served}")
