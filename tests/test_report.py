"""Report: paired bootstrap intervals and the claims check separate a good router from a bad one."""

from __future__ import annotations

import numpy as np
import polars as pl

from ragrouter.report import FULL, bootstrap, claim_rows, rule_times, table_markdown


def test_claims_hold_for_an_informative_router_and_fail_for_a_reversed_one(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    weak = (rng.random(n) < 0.6).astype(float)
    strong = np.maximum(weak, (rng.random(n) < 0.8).astype(float))
    need_strong = (strong > weak).astype(float)
    scores = {
        FULL: [need_strong + rng.normal(0, 0.3, n)],
        "reversed": [-need_strong + rng.normal(0, 0.3, n)],
    }
    boot = bootstrap(scores, strong, weak, 100.0, resamples=50)
    assert boot[FULL].shape == (50, 3)
    assert boot[FULL][:, 2].mean() > boot["reversed"][:, 2].mean()
    point = {r: boot[r].mean(axis=0) for r in scores}
    table = pl.DataFrame(
        {
            "router_id": [FULL, "reversed"],
            "router": ["RAGRouter", "Reversed"],
            **{m: [float(point[FULL][j]), float(point["reversed"][j])] for j, m in enumerate(["CPT(50%)", "CPT(80%)", "APGR"])},
        }
    )
    [claim] = claim_rows(table, boot, FULL, ["reversed"])
    assert claim.row.endswith("holds (CIs exclude 0) |")
    [claim] = claim_rows(table, boot, "reversed", [FULL])
    assert claim.row.startswith("| Reversed vs RAGRouter |") and claim.row.endswith("fails |")
    assert "RAGRouter" in table_markdown(table, "mmlu", boot) and "37.25 / 71.89 / 0.589" in table_markdown(table, "mmlu", boot)


def test_rule_times_sum_benchmark_files(tmp_path):
    for rule, name, seconds in [("a", "x.tsv", 60.0), ("a", "y.tsv", 30.0), ("b", "z.tsv", 6.0)]:
        (tmp_path / rule).mkdir(exist_ok=True)
        (tmp_path / rule / name).write_text(f"s\th:m:s\n{seconds}\t0:00:00\n")
    times = rule_times(tmp_path)
    assert times.to_dicts() == [{"rule": "a", "jobs": 2, "seconds": 90.0}, {"rule": "b", "jobs": 1, "seconds": 6.0}]


def test_data_section_counts_training_rows_per_stage_and_serving_section_reads_its_json(tmp_path):
    import json

    from ragrouter.report import data_and_models_section, serving_section

    summary = tmp_path / "summary.csv"
    pl.DataFrame({"source": ["a"], "rows": [3]}).write_csv(summary)
    stage = tmp_path / "stage.parquet"
    pl.DataFrame({"prompt": ["p", "p", "q", "v"], "label": [1, 1, 0, 1], "split": ["train", "train", "train", "validation"]}).write_parquet(stage)
    text = "\n".join(data_and_models_section(str(summary), {"augmented": str(stage)}, {"encoder": "package:x"}, {"mmlu": 10}))
    assert "| augmented | `" in text and "| 3 | 2 | 0.667 |" in text  # 3 train rows, 2 distinct prompts, 2/3 strong
    assert "`package:x`" in text and "mmlu: N = 10" in text
    serving = tmp_path / "serving.json"
    fields = {"router": FULL, "benchmark": "mmlu", "benchmark_prompts": 1404, "prompts_per_s": 123.4, "threads": 2, "threshold": 0.5, "features_time_share": 0.6}
    fields |= {"strong_percent_target": 50, "calibration_prompts": 311, "benchmark_strong_percent": 47.2, "max_abs_diff_vs_workflow_scores": 1e-7}
    serving.write_text(json.dumps(fields))
    assert "at 123.4 prompts/s on 2 CPU threads" in "\n".join(serving_section(str(serving)))
