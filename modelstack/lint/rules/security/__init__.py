"""Lint rules: security."""
