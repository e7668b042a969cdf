"""RAGRouter: a reproducible workflow that trains LLM routers and compares them with RouteLLM's."""

__version__ = "0.1.0"
