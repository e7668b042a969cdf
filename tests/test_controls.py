"""Controls: prompt length and kNN labels, trained and scored like every router."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _router_fixtures import HashEncoder

from ragrouter.routers import knn, prompt_length
from ragrouter.routers.base import check_score_file, write_scores
from ragrouter.routers.registry import load_checkpoint, save_checkpoint, train_router


def test_prompt_length_ranks_longer_prompts_higher_and_takes_no_params():
    router = prompt_length.train(pl.DataFrame(), pl.DataFrame(), None, None, 0)
    scores = router.strong_win_rates(["one", "one two three", "", "a b"])
    assert np.argsort(scores).tolist() == [2, 0, 3, 1] and scores[2] == 0.0 and np.all(scores < 1)
    with pytest.raises(ValueError, match="no params"):
        prompt_length.train(pl.DataFrame(), pl.DataFrame(), None, {"k": 3}, 0)


def _corpus() -> pl.DataFrame:
    """Two prompt families: 'maths ...' needs the strong model, 'hello ...' does not; 10 % noise."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(120):
        hard = i % 2 == 0
        label = int(hard) if rng.random() > 0.1 else int(not hard)
        rows.append(
            {
                "id": f"{i:03d}",
                "prompt": f"{'maths integral equation' if hard else 'hello friend greeting'} {i % 7}",
                "label": label,
                "source": "s1" if i % 3 else "s2",
                "split": "validation" if i % 5 == 0 else "train",
            }
        )
    return pl.DataFrame(rows)


def test_knn_scores_by_the_neighbours_labels_and_chooses_k_on_validation(tmp_path):
    corpus = _corpus()
    router = train_router("knn", corpus, pl.DataFrame(), {"k": [1, 5, 15]}, 0, tmp_path, HashEncoder())
    assert router.k in (1, 5, 15)
    scores = router.strong_win_rates(["maths integral equation 3", "hello friend greeting 3"])
    assert scores[0] > 0.7 > 0.3 > scores[1]
    save_checkpoint(router, tmp_path / "ckpt")
    reloaded = load_checkpoint(tmp_path / "ckpt")
    reloaded.encoder = HashEncoder()
    assert np.array_equal(reloaded.strong_win_rates(["maths integral equation 3"]), scores[:1])
    with pytest.raises(ValueError, match=r"knn: unknown parameter\(s\) \['neighbours'\]"):
        knn.train(corpus, pl.DataFrame(), HashEncoder(), {"neighbours": 3}, 0)


def test_a_routers_own_cap_trains_it_on_a_seeded_sample_per_source(tmp_path):
    corpus = _corpus()
    capped = {seed: train_router("knn", corpus, pl.DataFrame(), {"k": [1], "max_train_rows_per_source": 10}, seed, tmp_path, HashEncoder()) for seed in (0, 1)}
    assert len(capped[0].labels) == len(capped[1].labels) == 20  # 2 sources x 10 of their 64 / 32 train rows
    assert not np.array_equal(capped[0].train_embeddings, capped[1].train_embeddings)
    assert len(train_router("knn", corpus, pl.DataFrame(), {"k": [1]}, 0, tmp_path, HashEncoder()).labels) == 96


def test_control_score_files_pass_the_metrics_checks(tmp_path):
    benchmark = pl.DataFrame({"row": [0, 1, 2], "prompt": ["a b c", "a", "a b"], "prompt_sha1": ["x", "y", "z"]})
    router = train_router("prompt_length", pl.DataFrame({"split": ["train"]}), pl.DataFrame(), {}, 0, tmp_path)
    write_scores(benchmark, router.strong_win_rates(benchmark["prompt"].to_list()), tmp_path / "s.parquet")
    values = check_score_file(pl.read_parquet(tmp_path / "s.parquet"), benchmark, "s.parquet")
    assert values.tolist() == [0.75, 0.5, 2 / 3]
