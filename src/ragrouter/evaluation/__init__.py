"""Evaluation: RouteLLM's metrics from score files (`metrics`), the validation metrics every
training-time choice is made with (`validation`), and results/REPORT.md (`report`)."""
