"""RAGRouter step 1, augmentation: grow the training corpus with rewritten variants q' of high-quality queries.

The thesis grows its corpus by about 29 % (175k -> ~225k rows) with two generators:

* dependency-syntax rewrites (`syntactic_variants`): the same words in another order, read from the
  spaCy parse (fronted adverbial <-> trailing adverbial, swapped coordinated conjuncts). They teach
  the router that word order alone does not change how hard a query is.
* knowledge-graph-guided semantic expansion (`semantic_variants`): content words chosen by their
  dependency role are replaced by a WordNet synonym or hypernym, or glossed "X (a kind of Y)".

Both are conservative on purpose: a variant that changes the task would carry a wrong label, so a
generator returns nothing when a pattern is not clear-cut. Labels come from the source
(`labeling: inherit`, offline default) or from an LLM judge (`labeling: judge`, see `ragrouter.method.augment.judge`).
Only training rows are ever used as sources; validation rows are never read for augmentation.

Modules, in the order a row goes through them: `params` (defaults, config overlay), `selection`
(which train rows are sources) with `guards` (what is never rewritten), `syntactic` and `semantic`
(the two generators), `judge` (labels from a strong/weak pair and an LLM judge) and `corpus` (the
augmented corpus, rule `augment_corpus`). This file imports none of them, so the judge can be used
without loading spaCy and WordNet (rule build_corpus labels Arena-55k with it).
"""
