"""Lint rules: evaluation."""
