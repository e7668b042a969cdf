"""Routers: each maps a prompt to the strong model's win rate, RouteLLM's routing score."""
