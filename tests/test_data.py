"""Data layer on the real files: checksums, clear errors, benchmark counts, labels, decontamination."""

from __future__ import annotations

import gzip
import json
import shutil

import polars as pl
import pytest

from ragrouter.common.io import sha1_text
from ragrouter.data import corpus as C
from ragrouter.data.benchmarks import load_benchmark, spread_every
from ragrouter.data.decontaminate import EvalIndex, decontaminate
from ragrouter.data.external import load_arena_55k, load_gpt4_dataset
from ragrouter.data.sources import DataError, fetch_dataset


def test_fetch_verifies_and_copies(data_dir, tmp_path):
    files = fetch_dataset("gpt4-dataset-sample", data_dir, tmp_path / "out")
    assert [f.name for f in files] == ["labeled_test_dataset.json"]
    assert files[0].read_bytes() == (data_dir / "gpt4-dataset-sample/labeled_test_dataset.json").read_bytes()


def test_checksum_mismatch_names_the_users_file_not_a_temporary_copy(data_dir, tmp_path):
    bad = tmp_path / "data"
    shutil.copytree(data_dir / "gpt4-dataset-sample", bad / "gpt4-dataset-sample")
    target = bad / "gpt4-dataset-sample/labeled_test_dataset.json"
    target.chmod(0o644)
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0x01  # one bit of one byte
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"checksum mismatch for (\S+):") as err:
        fetch_dataset("gpt4-dataset-sample", bad, tmp_path / "out")
    assert f"checksum mismatch for {target}:" in str(err.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))  # nothing half-written, no staging left


def test_missing_file_without_url_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match=r"alpaca-eval-battles/battles\.jsonl\.gz is missing: looked in .*RAGROUTER_DATA_DIR"):
        fetch_dataset("alpaca-eval-battles", tmp_path, tmp_path / "out")


def test_benchmarks_load_as_routellm(evals_dir):
    mmlu = load_benchmark("mmlu", evals_dir)
    gsm8k = load_benchmark("gsm8k", evals_dir)
    mt = load_benchmark("mt_bench", evals_dir)
    assert (mmlu.height, gsm8k.height, mt.height) == (14037, 1307, 72)
    assert mmlu["domain"][0] == "high_school_european_history"  # RouteLLM's domain order
    assert round(mmlu["strong"].mean() * 100, 2) == 80.59 and round(mmlu["weak"].mean() * 100, 2) == 68.09
    assert round(gsm8k["strong"].mean() * 100, 2) == 85.77 and round(gsm8k["weak"].mean() * 100, 2) == 63.73
    assert mmlu["row"].to_list() == list(range(14037))
    assert gsm8k["prompt_sha1"][5] == sha1_text(gsm8k["prompt"][5])
    assert mt["strong"].max() <= 10 and mt["weak"].min() >= 1
    # the configured pair picks the columns: swapped, strong and weak swap; an absent model is named
    swapped = load_benchmark("gsm8k", evals_dir, strong="mistralai/Mixtral-8x7B-Instruct-v0.1", weak="gpt-4-1106-preview")
    assert swapped["strong"].equals(gsm8k["weak"]) and swapped["weak"].equals(gsm8k["strong"])
    with pytest.raises(DataError, match=r"question\.jsonl: row \d+: question \d+: expected 2 judgements of claude-x in .*judgements\.jsonl, found 0"):
        load_benchmark("mt_bench", evals_dir, strong="claude-x")


def test_serving_checks_spread_their_prompts_over_every_domain(evals_dir):
    """serving.max_prompts: the checks keep every N-th prompt, so all 57 MMLU domains stay in."""
    mmlu = load_benchmark("mmlu", evals_dir)
    every = spread_every(mmlu.height, 2000)
    kept = mmlu.gather_every(every)
    assert every == 8 and kept.height == 1755 and kept["domain"].n_unique() == 57
    assert spread_every(1307, 2000) == spread_every(72, None) == spread_every(2000, 2000) == 1


def test_missing_column_and_bad_cell_are_named(evals_dir, tmp_path):
    root = tmp_path / "evals"
    shutil.copytree(evals_dir / "gsm8k", root / "gsm8k")
    csv_path = root / "gsm8k/gsm8k_responses.csv"
    csv_path.chmod(0o644)
    df = pl.read_csv(csv_path, infer_schema_length=0)
    df.drop("gpt-4-1106-preview").write_csv(csv_path)
    with pytest.raises(DataError, match=r"gsm8k_responses\.csv: missing column 'gpt-4-1106-preview'"):
        load_benchmark("gsm8k", root)
    df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("maybe")).otherwise(pl.col("gpt-4-1106-preview")).alias("gpt-4-1106-preview")).write_csv(csv_path)
    with pytest.raises(DataError, match=r"row 5: field 'gpt-4-1106-preview': Input should be 'True' or 'False' \(value 'maybe'\)"):
        load_benchmark("gsm8k", root)


def test_label_mappings_are_as_documented():
    assert [C.correctness_score(s, w) for s, w in [(1, 1), (0, 1), (0, 0), (1, 0)]] == [5, 5, 4, 1]
    assert [C.preference_score(w) for w in [0.0, 0.3, 0.45, 0.5, 0.7, 1.0]] == [1, 2, 3, 4, 4, 5]
    assert [C.grade_score(g) for g in [1, 2, 3, 6, 7, 8, 9, 10]] == [1, 1, 2, 3, 4, 4, 5, 5]
    assert [C.routing_label(s) for s in range(1, 6)] == [1, 1, 1, 0, 0]
    # graded: 1 + 4 * share of models right, rounded half up (7 models: 0/7 -> 1, 2/7 -> 2, 4/7 -> 3, 6/7 -> 4, 7/7 -> 5)
    seven = [f"m{i}" for i in range(7)]
    assert [C.graded_score({m: float(i < k) for i, m in enumerate(seven)}) for k in [0, 2, 4, 6, 7]] == [1, 2, 3, 4, 5]
    assert C.graded_score({"a": 1.0, "b": 0.0}) == 3 and C.graded_score({"a": 0.5, "b": 0.4}) == 3


def test_graded_labels_grade_the_multi_model_sources_only(data_dir):
    pair, _ = C.build_corpus(data_dir, ["routerbench-zs", "arena-bench-v1"])
    graded, _ = C.build_corpus(data_dir, ["routerbench-zs", "arena-bench-v1"], labels="graded")
    assert pair["id"].to_list() == graded["id"].to_list()
    same = pair["weak_score"] == graded["weak_score"]
    arena = (pair["source"] == "arena-bench-v1").to_numpy()
    assert same.to_numpy()[arena].all() and not same.to_numpy()[~arena].all()
    assert set(graded.filter(pl.col("source") == "routerbench-zs")["weak_score"]) - {4, 5, 1} != set()  # grades 2-3 appear
    with pytest.raises(DataError, match="unknown label scheme"):
        C.build_corpus(data_dir, ["arena-bench-v1"], labels="binary")


def test_graded_labels_replace_train_rows_only(data_dir):
    pair, _ = C.build_corpus(data_dir, ["routerbench-zs", "arena-bench-v1"])
    graded, _ = C.build_corpus(data_dir, ["routerbench-zs", "arena-bench-v1"], labels="graded")
    split = C.assign_split(pair, C.validation_prompts(pair, 0.3, 0))
    out = C.grade_train_rows(split, graded)
    assert out.columns == split.columns and out["id"].to_list() == split["id"].to_list()
    val = (out["split"] == "validation").to_numpy()
    assert (out["weak_score"].to_numpy()[val] == split["weak_score"].to_numpy()[val]).all()
    assert (out["weak_score"].to_numpy()[~val] == graded["weak_score"].to_numpy()[~val]).all()
    assert (out["label"] == (out["weak_score"] <= 3).cast(pl.Int64)).all()
    assert (out["weak_score"].to_numpy()[~val] != split["weak_score"].to_numpy()[~val]).any()


def test_corpus_labels_follow_the_raw_sources(data_dir):
    corpus, battles = C.build_corpus(data_dir, ["arena-bench-v1", "gpt4_dataset", "routerbench-zs"])
    arena = corpus.filter(pl.col("source") == "arena-bench-v1")
    grades = {}
    for line in open(data_dir / "arena-bench-v1/model_judgment/Mixtral-8x7B-Instruct-v0.1.jsonl"):
        j = json.loads(line)
        if j.get("score") is not None:
            grades[j["question_id"]] = float(j["score"])
    for row in arena.head(20).iter_rows(named=True):
        assert row["weak_score"] == C.grade_score(grades[row["id"].split(":", 1)[1]])
    sample = corpus.filter(pl.col("source") == "gpt4_dataset")
    assert sample.height == 10 and set(sample["weak_score"]) <= {1, 2, 3, 4, 5}
    raw = pl.read_csv(data_dir / "routerbench-zs/mbpp_test.csv", infer_schema_length=10000)
    rec = raw.filter(pl.col("gpt-4-1106-preview").is_not_null() & pl.col("mistralai/mixtral-8x7b-chat").is_not_null()).row(0, named=True)
    got = corpus.filter(pl.col("id") == f"routerbench-zs:{rec['sample_id']}").row(0, named=True)
    expected = C.correctness_score(rec["gpt-4-1106-preview"] >= 0.5, rec["mistralai/mixtral-8x7b-chat"] >= 0.5)
    assert got["weak_score"] == expected and got["label"] == C.routing_label(expected)
    assert set(battles["winner"]) == {"model_a", "model_b", "tie"}
    assert "mistralai/mixtral-8x7b-chat" not in set(battles["model_a"]) | set(battles["model_b"])  # aliases unified


def test_decontamination_removes_planted_duplicates(evals_dir):
    mmlu_prompt = load_benchmark("mmlu", evals_dir)["prompt"][100]
    gsm_prompt = load_benchmark("gsm8k", evals_dir)["prompt"][7]
    index = EvalIndex([mmlu_prompt, gsm_prompt])
    words = gsm_prompt.split()
    df = pl.DataFrame(
        {
            "prompt": ["  " + mmlu_prompt.upper() + "!!", "Please solve: " + " ".join(words[:15]) + " thanks", "What is the capital of France?"],
            "source": ["a", "b", "c"],
        }
    )
    kept = decontaminate(df, index)
    assert kept["prompt"].to_list() == ["What is the capital of France?"]


def test_split_is_by_prompt_and_fixed_by_seed():
    corpus = pl.DataFrame({"prompt": [f"q{i}" for i in range(200)] + ["q0"], "label": [0] * 201})
    a = C.validation_prompts(corpus, 0.1, seed=0)
    assert a == C.validation_prompts(corpus, 0.1, seed=0) and a != C.validation_prompts(corpus, 0.1, seed=1)
    assert len(a) == 20
    split = C.assign_split(corpus, a)
    assert split.filter(pl.col("prompt") == "q0")["split"].n_unique() == 1


def test_gpt4_dataset_sample_parses(data_dir):
    df = load_gpt4_dataset(data_dir / "gpt4-dataset-sample/labeled_test_dataset.json")
    assert df.height == 10
    assert {"id", "prompt", "gpt4_response", "mixtral_response", "mixtral_score", "source"} <= set(df.columns)
    assert df["mixtral_score"].is_between(1, 5).all() and df["source"].dtype == pl.String


def arena_rows():
    return [
        {"id": 1, "model_a": "gpt-4-0613", "model_b": "mixtral-8x7b-instruct-v0.1", "prompt": json.dumps(["What is 2+2?"]), "response_a": json.dumps(["4"]), "response_b": json.dumps(["5"]), "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
        {"id": 2, "model_a": "llama-2-7b-chat", "model_b": "gpt-4-0613", "prompt": json.dumps(["Hi", "And again?"]), "response_a": json.dumps(["Hello", "Hi"]), "response_b": json.dumps(["Hey", "Hey"]), "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},
    ]


def test_arena_55k_loader_parses_the_schema(tmp_path):
    path = tmp_path / "arena.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in arena_rows()))
    battles = load_arena_55k(path)
    assert battles.select("prompt", "winner").rows() == [("What is 2+2?", "model_a"), ("Hi", "tie")]


def test_arena_55k_bad_winner_flags_name_the_row(tmp_path):
    rows = arena_rows()
    rows[1]["winner_model_a"] = 1
    path = tmp_path / "arena.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match="arena.jsonl: row 2: exactly one of winner_model_a"):
        load_arena_55k(path)


def test_alpaca_preference_out_of_range_names_the_row(tmp_path):
    path = tmp_path / "battles.jsonl.gz"
    rows = [{"instruction": "x", "generator_1": "gpt4_1106_preview", "generator_2": "Mixtral-8x7B-Instruct-v0.1", "preference": 3.5}]
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=r"row 1: field 'preference'"):
        C.load_alpaca_battles(path)


def test_train_cap_is_a_seeded_sample_per_source_that_keeps_validation(data_dir):
    corpus, battles = C.build_corpus(data_dir, ["arena-bench-v1", "routerbench-zs"])
    split = C.assign_split(corpus, C.validation_prompts(corpus, 0.1, 0))
    battles = C.assign_split(battles, C.validation_prompts(corpus, 0.1, 0))
    small, small_battles = C.cap_train_rows(split, battles, 50, 0)
    again, _ = C.cap_train_rows(split, battles, 50, 0)
    other, _ = C.cap_train_rows(split, battles, 50, 1)
    train = small.filter(pl.col("split") == "train")
    assert train["source"].value_counts().sort("source")["count"].to_list() == [50, 50]
    assert small.equals(again) and not small.equals(other)
    assert small.filter(pl.col("split") == "validation").equals(split.filter(pl.col("split") == "validation"))
    first_50 = split.filter((pl.col("split") == "train") & (pl.col("source") == "routerbench-zs")).head(50)["id"].to_list()
    assert train.filter(pl.col("source") == "routerbench-zs")["id"].to_list() != first_50
    assert set(small_battles["prompt"]) <= set(small["prompt"]) and small_battles.height < battles.height
    assert C.cap_train_rows(split, battles, None, 0)[0].equals(split)


def test_per_source_sample_keeps_row_order_and_is_what_the_corpus_cap_keeps(data_dir):
    """A fine-tuned router's `max_train_rows_per_source` draws the rows the corpus cap would, in order."""
    corpus, battles = C.build_corpus(data_dir, ["arena-bench-v1", "routerbench-zs"])
    split = C.assign_split(corpus, C.validation_prompts(corpus, 0.1, 0))
    train = split.filter(pl.col("split") == "train")
    sampled = C.sample_per_source(train, 30, 4)
    assert sampled["source"].value_counts().sort("source")["count"].to_list() == [30, 30]
    assert sampled["id"].to_list() == sorted(sampled["id"].to_list(), key=train["id"].to_list().index)
    capped = C.cap_train_rows(split, battles, 30, 4)[0]
    assert sampled["id"].to_list() == capped.filter(pl.col("split") == "train")["id"].to_list()
    assert C.sample_per_source(train, None, 4).equals(train)
    with pytest.raises(ValueError, match="no 'source' column"):
        C.sample_per_source(train.drop("source"), 30, 4)


def test_balance_within_source_or_task_removes_that_signal_from_the_training_labels():
    import numpy as np

    from ragrouter.data.corpus import balance_within
    from ragrouter.evaluation.validation import roc_auc

    rng = np.random.default_rng(0)
    n = 1000
    source = ["alpaca-eval"] * (n // 2) + ["routerbench-zs"] * (n // 2)
    label = np.concatenate([rng.random(n // 2) < 0.8, rng.random(n // 2) < 0.2]).astype(np.int64)
    split = ["validation" if i % 10 == 0 else "train" for i in range(n)]
    corpus = pl.DataFrame({"id": [f"r:{i:04d}" for i in range(n)], "prompt": [f"p{i}" for i in range(n)], "source": source, "label": label, "split": split})
    train = corpus.filter(pl.col("split") == "train")
    assert roc_auc(train["label"].to_numpy(), (train["source"] == "alpaca-eval").to_numpy().astype(float)) > 0.75
    out = balance_within(corpus, seed=0)
    balanced = out.filter(pl.col("split") == "train")
    assert roc_auc(balanced["label"].to_numpy(), (balanced["source"] == "alpaca-eval").to_numpy().astype(float)) == 0.5
    for s in ("alpaca-eval", "routerbench-zs"):
        assert balanced.filter(pl.col("source") == s)["label"].mean() == 0.5
    assert out.filter(pl.col("split") == "validation").equals(corpus.filter(pl.col("split") == "validation"))
    assert out.equals(balance_within(corpus, seed=0)) and not out.equals(balance_within(corpus, seed=1))
    # two tasks inside one source, base rates 80 % and 20 %: within_task balances each task
    tasks = corpus.with_columns(pl.lit("routerdc-7models").alias("source"), pl.Series("id", [f"routerdc-7models:{'gsm8k-train' if s == 'alpaca-eval' else 'arc_easy'}:{i}" for i, s in enumerate(source)]))
    by_source = balance_within(tasks, seed=0).filter(pl.col("split") == "train")
    by_task = balance_within(tasks, seed=0, within="task").filter(pl.col("split") == "train")
    assert abs(by_source.filter(pl.col("id").str.contains("arc_easy"))["label"].mean() - 0.5) > 0.2  # one source: tasks unbalanced
    for task in ("arc_easy", "gsm8k-train"):
        assert by_task.filter(pl.col("id").str.contains(task))["label"].mean() == 0.5
