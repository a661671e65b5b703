"""Shared pieces for deploy tests: iris smoke cases served by the real runtime in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelstack.manifest import Manifest, load_manifest
from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def iris_bundle(tmp_path: Path) -> Path:
    """A private copy of examples/iris, so state files land in tmp_path."""
    target = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris", target)
    return target


@pytest.fixture
def iris(iris_bundle: Path) -> Manifest:
    return load_manifest(iris_bundle / "modelstack.yaml")


@pytest.fixture
def iris_client(iris: Manifest) -> InProcessClient:
    """The iris model served by the real runtime in this process."""
    return InProcessClient(load_dataplane(prepare_local(iris).config), iris.name)


@pytest.fixture
def iris_cases(iris: Manifest) -> list[SmokeCase]:
    return prepare_local(iris).cases
