"""Lint rules: errors."""
