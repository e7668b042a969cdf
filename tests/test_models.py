"""Model folders: hub models keep every file of their repository (LM heads, tokenizer files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragrouter.common import models


def test_hub_model_is_the_repository_snapshot_with_heads_and_tokenizer_files(tmp_path, monkeypatch):
    calls = []

    def fake_snapshot_download(repo_id, local_dir, ignore_patterns):
        calls.append((repo_id, ignore_patterns))
        for name in ["config.json", "model.safetensors", "tokenizer.model", "generation_config.json"]:
            (Path(local_dir) / name).write_text(name)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    out = models.prepare_model("hub:Qwen/Qwen2.5-7B-Instruct", tmp_path / "classifier")
    assert calls == [("Qwen/Qwen2.5-7B-Instruct", models.HUB_IGNORE)]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "generation_config.json", "model.safetensors", "tokenizer.model"]


def test_unknown_model_source_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(models.ModelError, match="unknown model source"):
        models.prepare_model("ftp:somewhere", tmp_path / "m")
    assert list(tmp_path.iterdir()) == []
