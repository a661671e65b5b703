"""Fixtures: a processing bundle copied from examples/catalog-tagging."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_copies import copy_example


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A private copy of examples/catalog-tagging; returns its manifest."""
    return copy_example("catalog-tagging", tmp_path / "catalog") / "modelstack.yaml"
