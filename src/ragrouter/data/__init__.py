"""Data stage: raw sources, benchmarks, the unified training corpus, battles and decontamination."""
