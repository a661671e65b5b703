"""Lint rules: model."""
