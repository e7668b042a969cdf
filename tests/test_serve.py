"""Serving: RouteLLM-style threshold calibration, prompt input formats, and `ragrouter route` end to end."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from ragrouter.data.sources import DataError
from ragrouter.serving.cli import main, read_prompts
from ragrouter.serving.route import calibrate_threshold, calibration_prompts, route


def test_calibrated_threshold_sends_the_target_share_to_the_strong_model():
    scores = np.linspace(0.0, 1.0, 101)
    for percent in (0, 20, 50, 80, 100):
        threshold = calibrate_threshold(scores, percent)
        assert abs(100 * route(scores, threshold).mean() - percent) <= 1.0
    assert route(np.array([0.5, 0.4999]), 0.5).tolist() == [True, False]  # >=, as RouteLLM's Router.route
    with pytest.raises(ValueError, match="strong_percent"):
        calibrate_threshold(scores, 120)


def test_calibration_uses_the_validation_split_only(tmp_path):
    path = tmp_path / "corpus.parquet"
    pl.DataFrame({"prompt": ["a", "b", "c", "c"], "split": ["train", "validation", "validation", "validation"]}).write_parquet(path)
    assert calibration_prompts(path) == ["b", "c"]


def test_read_prompts_names_the_bad_line(tmp_path):
    good = tmp_path / "p.jsonl"
    good.write_text('{"prompt": "hi"}\n\n{"prompt": "solve x"}\n')
    assert read_prompts(str(good)) == ["hi", "solve x"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi"}\n{"text": "no prompt"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl: row 2: field 'prompt'"):
        read_prompts(str(bad))
    with pytest.raises(DataError, match="does not exist"):
        read_prompts(str(tmp_path / "missing.txt"))


@pytest.mark.slow
def test_route_command_routes_raw_prompts_with_a_calibrated_threshold(minilm_dir, tiny_ragrouter, tmp_path, capsys):
    """A feat=off RAGRouter trained on live mean-pooled features routes a hard prompt to the strong
    model and an easy one to the weak model at a 50% calibrated threshold, from the command line."""
    from test_router_bert_classifier import PROBE_EASY, PROBE_HARD, planted_corpus

    corpus = planted_corpus()
    corpus_path, prompts_path, out_path = tmp_path / "corpus.parquet", tmp_path / "prompts.txt", tmp_path / "routes.jsonl"
    corpus.with_columns(pl.lit("validation").alias("split")).write_parquet(corpus_path)  # every planted prompt calibrates
    prompts_path.write_text(f"{PROBE_HARD}\n{PROBE_EASY}\n")
    args = ["route", "--router", str(tiny_ragrouter), "--encoder", minilm_dir, "--max-length", "32", "--input", str(prompts_path), "--output", str(out_path)]
    main([*args, "--strong-percent", "50", "--calibration", str(corpus_path), "--threads", "1"])
    routes = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [r["prompt"] for r in routes] == [PROBE_HARD, PROBE_EASY]
    assert [r["model"] for r in routes] == ["gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"]
    assert routes[0]["strong_win_rate"] > routes[1]["strong_win_rate"]
    main([*args, "--threshold", "1.01", "--threads", "1"])  # no score reaches it: all weak
    assert {json.loads(line)["model"] for line in out_path.read_text().splitlines()} == {"mistralai/Mixtral-8x7B-Instruct-v0.1"}
    with pytest.raises(SystemExit, match="exactly one"):
        main(args)
    # the checkpoint's feature settings decide how query vectors are made; a conflicting argument is an error
    with pytest.raises(SystemExit, match="trained with max_length 32, got 64"):
        main([*args[:5], "--max-length", "64", *args[7:], "--threshold", "0.5"])
    with pytest.raises(SystemExit, match=r"feat=off\); do not give a fusion folder"):
        main([*args, "--fusion", str(tmp_path), "--threshold", "0.5"])
    main([*args[:5], *args[7:], "--threshold", "1.01", "--threads", "1"])  # no --max-length: the saved 32 is used
    # calibrated on the user's own traffic sample (a text file), the achieved share is reported and matches
    traffic = tmp_path / "traffic.txt"
    traffic.write_text("\n".join(corpus["prompt"].to_list() * 2) + "\n")
    capsys.readouterr()
    main([*args[:7], "--input", str(traffic), "--output", str(out_path), "--strong-percent", "50", "--calibration", str(traffic), "--threads", "1"])
    err = capsys.readouterr().err
    achieved = float(re.search(r"strong, ([0-9.]+)%\)", err).group(1))
    assert abs(achieved - 50) <= 10 and "warning" not in err
