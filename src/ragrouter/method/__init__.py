"""RAGRouter, stage by stage in the thesis' order:

1. `augment/`       - dependency-syntax rewrites and WordNet expansion of train prompts (judge labels optional);
2. `perplexity`, `sampling` - prompt perplexity under a causal LM, then PPL-weighted dynamic sampling and label rebalancing;
3. `fusion`         - semantic (encoder) + syntactic (spaCy graph -> GraphSAGE) features, cross-modal attention;
4. `knowledge_base` - the FAISS IVF knowledge base and the RAG prompt;
5. `classifier`     - the fine-tuned 5-class weak-score classifier over RAG prompts: the RAGRouter router.

`variants` names the ablations (one on/off switch per stage 1-4 and RAG).
"""
