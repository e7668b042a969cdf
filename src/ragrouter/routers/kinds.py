"""Router kinds: which module trains and loads each one, and which read the cached sentence
embeddings. The Snakefile reads these tables every time it parses, so this module imports nothing.

Router kinds and what they train on:
- `sw_ranking`, `matrix_factorization`, `p2l`: battles + corpus, on cached sentence embeddings;
- controls: `knn` (corpus labels, cached embeddings) and `prompt_length` (nothing to train);
- `bert`, `causal_llm`: the corpus' labels, fine-tuning a local backbone folder;
- `ragrouter`: RAGRouter (`ragrouter.method.classifier`), trained by its own rule.
"""

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
CHECKPOINT_KINDS = {"bert_classifier": BACKBONE_KINDS["bert"], "causal_llm": BACKBONE_KINDS["causal_llm"], "ragrouter": "ragrouter.method.classifier"}
