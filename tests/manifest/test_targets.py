from __future__ import annotations

from pathlib import Path

import pytest

from modelstack.errors import UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target

ROOT = Path(__file__).resolve().parents[2]
IRIS = load_manifest(ROOT / "examples" / "iris" / "modelstack.yaml")  # local + prod (lambda)


def test_a_named_target_wins_over_any_default() -> None:
    assert select_target(IRIS, "prod", default="local").name == "prod"


@pytest.mark.parametrize(("default", "expected"), [("local", "local"), ("cloud", "prod")])
def test_defaults_pick_the_only_target_of_their_kind(default: str, expected: str) -> None:
    assert select_target(IRIS, None, default=default).name == expected  # type: ignore[arg-type]


def test_without_a_default_two_targets_need_a_name() -> None:
    with pytest.raises(
        UsageError, match=r"2 targets; choose one with --target NAME: local \(local\)"
    ):
        select_target(IRIS, None)


def test_an_unknown_target_lists_the_real_ones() -> None:
    with pytest.raises(
        UsageError, match=r"no target 'staging'; its targets: local \(local\), prod"
    ):
        select_target(IRIS, "staging")
