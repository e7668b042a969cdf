"""Report: paired bootstrap intervals and the claims check separate a good router from a bad one."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ragrouter.evaluation.report import (
    FULL,
    bootstrap,
    checked_int8_lines,
    claim_rows,
    job_times,
    rule_times,
    table_markdown,
    time_summary,
)


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


def test_rules_with_equal_times_keep_one_order():
    """The time table of a run and of its rebuild list tied rules alike (group_by's order varies)."""
    jobs = pl.DataFrame({"rule": ["b", "c", "a", "c", "b"], "seed": [None] * 5, "seconds": [0.5, 0.3, 0.5, 0.2, 0.2]})
    for order in (jobs, jobs.reverse(), jobs.sample(fraction=1.0, shuffle=True, seed=1)):
        assert rule_times(order)["rule"].to_list() == ["b", "a", "c"]


def test_job_times_sum_per_rule_and_split_shared_from_per_seed(tmp_path):
    jobs = [("a", "x.tsv", 60.0), ("a", "y.tsv", 30.0), ("t", "r/seed-0.tsv", 6.0), ("t", "r/seed-1.tsv", 12.0), ("t", "q/seed-1.tsv", 18.0)]
    for rule, name, seconds in jobs:
        (tmp_path / rule / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rule / name).write_text(f"s\th:m:s\n{seconds}\t0:00:00\n")
    times = job_times(tmp_path)
    assert rule_times(times).to_dicts() == [{"rule": "a", "jobs": 2, "seconds": 90.0}, {"rule": "t", "jobs": 3, "seconds": 36.0}]
    summary = " ".join(time_summary(times))
    assert "all 5 jobs: 2.1 minutes" in summary and "shared by every seed (data" in summary and ": 1.5 minutes" in summary
    assert "seed 0 0.1, seed 1 0.5; a one-seed run: 1.6 minutes" in summary
    # only configured jobs count: router q and seed 1 are not in this configuration
    kept = job_times(tmp_path, {"x", "y", "r", "seed-0"})
    assert rule_times(kept).to_dicts() == [{"rule": "a", "jobs": 2, "seconds": 90.0}, {"rule": "t", "jobs": 1, "seconds": 6.0}]


def test_data_section_counts_training_rows_per_stage_and_serving_section_reads_its_json(tmp_path):
    import json

    from ragrouter.evaluation.report import data_and_models_section, serving_section, stage_summary

    summary = tmp_path / "summary.csv"
    pl.DataFrame({"source": ["a"], "rows": [3]}).write_csv(summary)
    stage = tmp_path / "stage.parquet"
    pl.DataFrame({"prompt": ["p", "p", "q", "v"], "source": ["s", "s", "t", "t"], "label": [1, 1, 0, 1], "split": ["train", "train", "train", "validation"]}).write_parquet(stage)
    stages = tmp_path / "stage_summary.csv"
    stage_summary({"augmented": str(stage)}).write_csv(stages)  # what rule summarise_stages commits
    assert pl.read_csv(stages).select("source", "rows", "distinct_prompts").rows() == [("all", 3, 2), ("s", 2, 1), ("t", 1, 1)]
    text = "\n".join(data_and_models_section(str(summary), str(stages), {"encoder": "package:x"}, {"mmlu": 10}, {"corpus.labels": "graded"}))
    assert "| augmented (aug) | `" in text and "| 3 | 2 | 0.667 |" in text  # 3 train rows, 2 distinct prompts, 2/3 strong
    assert "Label scheme: corpus.labels `graded`" in text and "| stage | s | t |" in text and "| augmented (aug) | 1.000 | 0.000 |" in text  # per-source train shares
    assert "`package:x`" in text and "mmlu: N = 10" in text
    serving = tmp_path / "serving.json"
    fields = {"router": FULL, "benchmark": "mmlu", "benchmark_prompts": 1404, "prompts_per_s": 123.4, "threads": 2, "threshold": 0.5, "features_time_share": 0.6}
    fields |= {"strong_percent_target": 50, "calibration_prompts": 311, "benchmark_strong_percent": 47.2, "max_abs_diff_vs_workflow_scores": 1e-7}
    serving.write_text(json.dumps(fields))
    assert "at 123.4 prompts/s on 2 CPU threads" in "\n".join(serving_section(str(serving)))
    serving.write_text(json.dumps(fields | {"latency_prompts": 200, "latency_p50_ms": 41.23, "latency_p95_ms": 60.0}))
    assert "(200 prompts of the benchmark): p50 41.2 ms, p95 60.0 ms" in "\n".join(serving_section(str(serving)))
    assert "retrieval, classifier" in "\n".join(serving_section(str(serving)))
    serving.write_text(json.dumps(fields | {"classifier_in_score": False}))  # w = 1: the vote alone
    text = "\n".join(serving_section(str(serving)))
    assert "the classifier is not run" in text and "retrieval, classifier" not in text


def test_diagnostics_separate_difficulty_from_length_and_name_routers_below_a_control():
    from ragrouter.evaluation.diagnostics import score_diagnostics
    from ragrouter.evaluation.report import control_verdicts

    prompts = ["a " * (i % 9 + 1) for i in range(40)]
    strong = np.ones(40)
    weak = np.array([0.0 if i % 4 == 0 else 1.0 for i in range(40)])  # every 4th prompt needs the strong model
    bench = pl.DataFrame({"prompt": prompts, "strong": strong, "weak": weak})
    words = np.array([len(p.split()) for p in prompts], dtype=float)
    diag = score_diagnostics(bench, {"oracle": [1.0 - weak], "length": [words], "inverse": [weak]})
    by = {r["router_id"]: r for r in diag.iter_rows(named=True)}
    assert by["oracle"]["auc_strong_needed"] == 1.0 and by["inverse"]["auc_strong_needed"] == 0.0
    assert by["length"]["spearman_words"] == pytest.approx(1.0)
    table = pl.DataFrame({"router_id": ["random", "prompt_length", "bert", "ragrouter"], "router": ["Random", "Length", "BERT", "RAG"], "APGR": [0.5, 0.59, 0.55, 0.62]})
    [line] = control_verdicts(table)
    assert "Length" in line and "BERT" in line and "RAG" not in line and "Random" not in line


def test_diagnostics_tell_recognising_the_subject_from_ranking_within_it():
    """Subject a needs the strong model on 12 of 20 prompts, b on 6 of 20; a score that knows only the
    subject ranks well overall and at chance within each, and matches the subject-rate reference."""
    from ragrouter.evaluation.diagnostics import score_diagnostics, subject_rate_auc
    from ragrouter.evaluation.report import diagnostics_section

    weak = np.array([0.0] * 12 + [1.0] * 8 + [0.0] * 6 + [1.0] * 14)
    bench = pl.DataFrame({"prompt": ["q " * (i % 5 + 1) for i in range(40)], "strong": np.ones(40), "weak": weak, "domain": ["a"] * 20 + ["b"] * 20})
    subject_only = np.array([1.0] * 20 + [0.0] * 20)
    within = np.array([1.0 - w + (0.5 if i < 20 else 0.0) for i, w in enumerate(weak)])  # perfect within each subject
    diag = score_diagnostics(bench, {"subject": [subject_only], "within": [within]})
    by = {r["router_id"]: r for r in diag.iter_rows(named=True)}
    reference = subject_rate_auc(bench)
    assert by["subject"]["auc_within_subject"] == 0.5 and by["subject"]["auc_strong_needed"] == pytest.approx(reference)
    assert reference == pytest.approx((12 * 14 + 0.5 * (12 * 8 + 6 * 14)) / (18 * 22))  # a's positives over b's negatives, same-subject pairs tied
    assert by["within"]["auc_within_subject"] == 1.0
    assert subject_rate_auc(bench.drop("domain")) is None and score_diagnostics(bench.drop("domain"), {"s": [within]})["auc_within_subject"][0] is None
    text = "\n".join(diagnostics_section({}, {}, {"mmlu": diag}, {"mmlu": reference}))
    assert "| subject | 0.652 | 0.500 |" in text and f"would reach {reference:.3f} overall" in text


def test_validation_section_averages_per_source_aucs_over_seeds(tmp_path):
    from ragrouter.evaluation.report import validation_section

    labels = [0, 1] * 5 + [0, 1] * 5
    sources = ["a"] * 10 + ["b"] * 10
    good = np.array([0.1, 0.9] * 5 + [0.2, 0.8] * 5)  # ranks perfectly within both sources
    source_only = np.array([0.9] * 10 + [0.1] * 10)  # knows the source, nothing within it
    files = {}
    for name, scores in [("good", good), ("source", source_only)]:
        files[name] = []
        for seed, noise in enumerate([0.0, 0.01]):
            path = tmp_path / f"{name}-{seed}.parquet"
            pl.DataFrame({"id": [str(i) for i in range(20)], "source": sources, "label": labels, "score": scores + noise}).write_parquet(path)
            files[name].append(str(path))
    text = "\n".join(validation_section(files, {"good": "Good router"}))
    # per-source, per-task, its bootstrap SE (0: every resample ranks alike), pair-weighted, pooled, a, b
    assert "| Good router | 2 | 1.000 | 1.000 | 0.000 | 1.000 | 1.000 | 1.000 | 1.000 |" in text
    assert "| source | 2 | 0.500 | 0.500 | 0.000 | 0.500 | 0.500 | 0.500 | 0.500 |" in text


def test_rebuild_names_the_committed_file_it_misses(tmp_path, monkeypatch, data_dir):
    """`ragrouter report` in a folder without a run's files stops at the first missing score file, by name."""
    from pathlib import Path

    from ragrouter.data.sources import DataError
    from ragrouter.evaluation.rebuild import load_config, rebuild

    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml", [0])
    monkeypatch.setenv("RAGROUTER_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"results/scores/mmlu/random/seed-0\.parquet is missing"):
        rebuild(config, tmp_path / "out")
    assert not (tmp_path / "out/results/REPORT.md").exists()


def test_checked_int8_lines_name_the_path_each_checkpoint_scored_with(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    score = labels * 0.3 + rng.random(200)
    base = pl.DataFrame({"id": [f"s:{i}" for i in range(200)], "source": ["s"] * 200, "label": labels, "score": score})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    base.with_columns(pl.Series("score_onnx_int8", score + 1e-5)).write_parquet(tmp_path / "a/seed-0.parquet")
    base.with_columns(pl.Series("score_onnx_int8", rng.random(200))).write_parquet(tmp_path / "b/seed-0.parquet")
    base.write_parquet(tmp_path / "b/seed-1.parquet")  # trained without the check: no row
    lines = checked_int8_lines({"a": [str(tmp_path / "a/seed-0.parquet")], "b": [str(tmp_path / f"b/seed-{s}.parquet") for s in (0, 1)]}, {"a": "Router A"})
    rows = [line for line in lines if line.startswith("| Router A") or line.startswith("| b")]
    assert len(rows) == 2
    assert "1.00000" in rows[0] and rows[0].rstrip(" |").endswith("onnx_int8")
    assert rows[1].rstrip(" |").endswith("onnx") and "seed-0" in rows[1]


def test_log_intervals_read_the_first_and_last_timestamp_of_each_rule_log(tmp_path):
    from ragrouter.evaluation.report import busy_stretches, log_intervals

    files = {
        "train_router/bert/seed-0.log": "2026-12-05 06:17:40 | INFO | start\nprogress bar 50%\n2026-12-05 06:20:00 | INFO | done\n",
        "score_router/bert/seed-0.log": "2026-12-05 07:58:01 | INFO | scored\n",
        "make_report/make_report.log": "2026-12-05 09:00:00 | INFO | still writing\n",  # left out
        "experiments/x.log": "2026-12-01 00:00:00 | INFO | older\n",  # left out
        "train_router/old/seed-0.log": "2026-11-30 00:00:00 | INFO | another run's router\n",  # not a job name
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    intervals = log_intervals(tmp_path, {"bert", "seed-0"})
    assert intervals == [("2026-12-05 06:17:40", "2026-12-05 06:20:00"), ("2026-12-05 07:58:01", "2026-12-05 07:58:01")]
    assert log_intervals(tmp_path / "train_router" / "bert") == []  # no rule folders below it
    # the bert jobs are 98 idle minutes apart: two invocations; jobs 25 minutes apart are one
    stretches = busy_stretches(intervals)
    assert [(str(a), str(b)) for a, b in stretches] == [("2026-12-05 06:17:40", "2026-12-05 06:20:00"), ("2026-12-05 07:58:01", "2026-12-05 07:58:01")]
    assert len(busy_stretches([("2026-12-05 06:00:00", "2026-12-05 06:30:00"), ("2026-12-05 06:55:00", "2026-12-05 07:00:00")])) == 1


def test_ragrouter_choices_are_read_from_the_training_logs(tmp_path):
    from ragrouter.evaluation.report import ragrouter_choices_section

    log = tmp_path / "train_ragrouter" / "aug-on_sample-on_feat-on_rag-on" / "seed-0.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-12-05 11:20:19 | INFO    | ragrouter: validation ROC-AUC (per_task) of the K-neighbour label vote {2: 0.5675, 3: 0.5268}; K = 3\n"
        "2026-12-05 11:24:53 | INFO    | ragrouter: validation ROC-AUC (per_task) of (1 - w) * classifier + w * K-neighbour vote {0.0: 0.4795, 1.0: 0.5675}; w = 1.0\n"
        "2026-12-05 11:24:53 | INFO    | ragrouter: a = 0.25 on ['log_words']\n"
    )
    (log.parent / "seed-1.log").write_text(log.read_text().replace("w = 1.0", "w = 0.25"))
    names = {"ragrouter_aug-on_sample-on_feat-on_rag-on": "RAGRouter", "ragrouter_aug-on_sample-on_feat-on_rag-off": "RAGRouter w/o RAG"}
    lines = ragrouter_choices_section(tmp_path, list(names), names)
    assert "| RAGRouter | seed-0 | 3 | 1.0 | 0.25 | log_words |" in lines
    assert not any("w/o RAG" in line for line in lines)  # no training log: no row
    assert lines[-2].startswith("w = 1 (the score is the neighbours' vote alone") and "in 1 of 2 trainings: RAGRouter (seed-0)." in lines[-2]
    assert ragrouter_choices_section(tmp_path / "none", list(names), names) == []
