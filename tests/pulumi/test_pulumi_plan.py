"""`modelstack plan`: offline, stable output, integers as integers, clear errors."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest
from offline_deploy import DIGITS, ECR_IMAGE, FIXTURES, IRIS

from modelstack.commands.plan import plan
from modelstack.errors import ManifestError, MissingDependencyError, UsageError
from modelstack.pulumi.image import PLACEHOLDER_DIGEST
from modelstack.pulumi.offline import normalise


def run_plan(manifest: Any, target: str | None, fmt: str, image: str | None = None) -> str:
    out = io.StringIO()
    assert plan(str(manifest), target, fmt, image, out=out) == 0
    return out.getvalue()


def test_json_plan_of_iris_prod() -> None:
    text = run_plan(IRIS, "prod", "json")
    report = json.loads(text)
    assert report["target"] == "prod" and report["provider"] == "aws-lambda"
    assert report["image_is_placeholder"] is True
    assert report["image"].endswith(PLACEHOLDER_DIGEST)
    by_type = {r["type"]: r for r in report["resources"]}
    assert len(report["resources"]) == 17
    fn = by_type["aws:lambda/function:Function"]
    assert fn["properties"]["memorySize"] == 1024
    assert '"memorySize": 1024,' in text and "1024.0" not in text
    assert fn["parent"] == "iris-prod"
    assert by_type["aws:lambda/alias:Alias"]["hooks"].keys() == {"before_create", "before_update"}
    assert text == run_plan(IRIS, "prod", "json"), "the JSON plan must be stable"


def test_plan_with_an_image_uses_it() -> None:
    report = json.loads(run_plan(IRIS, None, "json", ECR_IMAGE))
    assert report["image"] == ECR_IMAGE and report["image_is_placeholder"] is False
    fn = next(r for r in report["resources"] if r["type"].endswith("function:Function"))
    assert fn["inputs"]["imageUri"] == ECR_IMAGE


def test_table_plan_of_digits_gpu() -> None:
    text = run_plan(DIGITS, None, "table")
    assert "target gpu (gcp-cloud-run, us-central1)" in text
    assert "PLACEHOLDER" in text
    assert "accelerator=nvidia-l4" in text and '"nvidia.com/gpu": "1"' in text
    assert "smoke-gate=after_create+after_update" in text
    assert text.rstrip().endswith("5 resources would be created.")


def test_plan_needs_a_target_when_there_are_several() -> None:
    with pytest.raises(UsageError, match=r"aws \(aws-lambda\), dev \(local\), gcp"):
        run_plan(FIXTURES / "two-clouds.yaml", None, "table")


def test_plan_refuses_unknown_format_and_lint_errors() -> None:
    with pytest.raises(UsageError, match="unknown format"):
        run_plan(IRIS, "prod", "yaml")
    with pytest.raises(ManifestError, match="MS102"):
        run_plan(FIXTURES / "lint-errors.yaml", None, "json")


def test_plan_without_the_provider_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pulumi_aws", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'modelstack-serverless\[aws\]'"):
        run_plan(IRIS, "prod", "json")


def test_normalise_keeps_integers_integers() -> None:
    assert normalise({"a": 1.0, "b": [2.0, 0.5], "c": True, "d": (3.0,)}) == {
        "a": 1,
        "b": [2, 0.5],
        "c": True,
        "d": [3],
    }
    assert isinstance(normalise(1.0), int) and normalise(True) is True
