"""Router kinds: which module trains and loads each one, and which read the cached sentence
embeddings. The Snakefile reads these tables every time it parses, so this module imports nothing
(except a router module named by its dotted path, see `router_module`).

Router kinds and what they train on:
- `sw_ranking`, `matrix_factorization`, `p2l`: battles + corpus, on cached sentence embeddings;
- controls: `knn` (corpus labels, cached embeddings) and `prompt_length` (nothing to train);
- `bert`, `causal_llm`: the corpus' labels, fine-tuning a local backbone folder;
- `ragrouter`: RAGRouter (`ragrouter.method.classifier`), trained by its own rule;
- any other kind is a dotted module path (a router of your own: one module, one config entry) whose
  `train(corpus, battles, encoder, params, seed)` returns a `ragrouter.routers.base.Router`;
  `USES_EMBEDDINGS = True` in it gives `encoder` the cached sentence embeddings.
"""

import importlib

# kind -> module with `train`: corpus routers take (corpus, battles, encoder, params, seed), backbone
# routers (corpus, params, seed, model_dir)
CORPUS_KINDS = {
    "sw_ranking": "ragrouter.routers.sw_ranking",
    "matrix_factorization": "ragrouter.routers.matrix_factorization",
    "p2l": "ragrouter.routers.p2l",
    "knn": "ragrouter.routers.knn",  # control
    "prompt_length": "ragrouter.routers.prompt_length",  # control
}
EMBEDDING_KINDS = {"sw_ranking", "matrix_factorization", "p2l", "knn"}  # read the cached sentence embeddings
BACKBONE_KINDS = {"bert": "ragrouter.routers.bert_classifier", "causal_llm": "ragrouter.routers.causal_llm"}
# the `kind` a fine-tuned checkpoint records in its router.json -> the module that loads it
# (the BERT router records "bert", as its config kind; "bert_classifier" is the name it used to record)
CHECKPOINT_KINDS = {**BACKBONE_KINDS, "bert_classifier": BACKBONE_KINDS["bert"], "ragrouter": "ragrouter.method.classifier"}
# RouteLLM's released routers (config `released_routers`, scored through `routellm`'s own classes)
# The causal LLM params its frozen lower layers' states depend on (`causal_llm.write_lower_states`):
# rule causal_lower_states sees only these, so a training-only change (a cap, the learning rate)
# does not recompute them.
LOWER_STATE_PARAMS = ("freeze_input_embeddings", "train_layers", "system_message", "max_query_tokens", "truncation", "eval_batch_size")
RELEASED_KINDS = ("mf", "bert", "causal_llm", "sw_ranking")


def router_module(kind: str) -> str:
    """The module that trains a corpus kind: a built-in one, or the kind itself as a dotted module
    path that must be importable and define `train`."""
    if kind in CORPUS_KINDS:
        return CORPUS_KINDS[kind]
    if kind in BACKBONE_KINDS:
        return BACKBONE_KINDS[kind]
    try:
        module = importlib.import_module(kind)
    except ImportError as err:
        raise ValueError(f"router kind {kind!r}: not a built-in kind ({sorted(CORPUS_KINDS) + sorted(BACKBONE_KINDS)}) nor an importable module ({err})") from err
    if not callable(getattr(module, "train", None)):
        raise ValueError(f"router kind {kind!r}: module {module.__file__} has no train(corpus, battles, encoder, params, seed)")
    return kind


def uses_embeddings(kind: str) -> bool:
    """Whether a kind scores from the cached sentence embeddings (rule embed_prompts)."""
    if kind in EMBEDDING_KINDS or kind in CORPUS_KINDS or kind in BACKBONE_KINDS:
        return kind in EMBEDDING_KINDS
    return bool(getattr(importlib.import_module(router_module(kind)), "USES_EMBEDDINGS", False))
