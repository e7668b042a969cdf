"""Serving: route raw prompts with a trained RAGRouter (`route`), from Python or `ragrouter route` (`cli`)."""
