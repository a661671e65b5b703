"""Lint rules: rollout."""
