"""RAGRouter's ablation variants: router ids `ragrouter_aug-X_sample-X_feat-X_rag-X` (X on|off)
name which of the four method stages are switched on; the Snakefile reads them while it parses,
so this module imports nothing heavy."""

from __future__ import annotations

import re

FULL = "ragrouter_aug-on_sample-on_feat-on_rag-on"  # the full method: every ablation switch on
SWITCHES = ("aug", "sample", "feat", "rag")
VARIANT_RE = re.compile(r"^ragrouter_aug-(on|off)_sample-(on|off)_feat-(on|off)_rag-(on|off)$")
SWITCH_NAMES = {"aug": "augmentation", "sample": "sampling", "feat": "semantic-syntactic features", "rag": "RAG"}


def parse_variant(router_id: str) -> dict[str, str]:
    """`ragrouter_aug-on_sample-off_feat-on_rag-on` -> {"aug": "on", "sample": "off", ...}."""
    match = VARIANT_RE.match(router_id)
    if not match:
        raise ValueError(f"{router_id!r} is not a RAGRouter variant (ragrouter_aug-X_sample-X_feat-X_rag-X, X on|off)")
    return dict(zip(SWITCHES, match.groups(), strict=True))


def variant_name(router_id: str, base: str = "RAGRouter") -> str:
    """Display name: the full method is `RAGRouter`; an ablation names what it switches off."""
    off = [SWITCH_NAMES[k] for k, v in parse_variant(router_id).items() if v == "off"]
    return base if not off else f"{base} w/o {', '.join(off)}"
