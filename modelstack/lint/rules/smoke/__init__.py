"""Lint rules: smoke."""
