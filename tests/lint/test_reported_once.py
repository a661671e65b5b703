"""The schema carries every limit lint knows, and lint reports each problem once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.lint.diagnostic import Diagnostic
from modelstack.lint.engine import LintOptions, lint_source
from modelstack.manifest.source import parse_source

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = json.loads(
    (ROOT / "schemas" / "modelstack.v1.schema.json").read_text(encoding="utf-8")
)
LAMBDA = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: tiny, version: 1.0.0}
model:
  path: model.onnx
  sha256: f0b3d4135ae9f16fa368eebdd648411a115e5540aeb33856d09688f2d7714e1a
targets:
  prod:
    provider: aws-lambda
    region: eu-west-1
"""
NOWHERE = "/nonexistent-bundle/modelstack.yaml"


def lint_text(text: str) -> list[Diagnostic]:
    # The bundle is not on disk: MS101 (the model file is missing) is not what is tested here.
    options = LintOptions(ignore=("MS101",), model_checks=False)
    return lint_source(parse_source(text, NOWHERE), options)


def editor_accepts(text: str) -> bool:
    """What an editor's JSON Schema validator says about the document."""
    data = parse_source(text, NOWHERE).data
    return jsonschema.Draft202012Validator(SCHEMA).is_valid(data)


LIMITS = [("memory_mb", "MS301"), ("timeout_s", "MS302"), ("ephemeral_storage_mb", "MS305")]


@pytest.mark.parametrize(("field", "rule_id"), LIMITS)
@settings(max_examples=40, deadline=None)
@given(value=st.one_of(st.integers(-10, 1100), st.integers(-(10**6), 10**6)))
def test_the_schema_rejects_exactly_what_the_rule_does(
    field: str, rule_id: str, value: int
) -> None:
    text = LAMBDA + f"    {field}: {value}\n"
    ids = [d.rule_id for d in lint_text(text) if d.path == f"targets.prod.{field}"]
    assert ids in ([], [rule_id])  # the rule's explanation, never also the schema's
    assert editor_accepts(text) == (ids == [])


def test_memory_far_out_of_range_is_reported_once_by_the_lambda_rule() -> None:
    [diagnostic] = lint_text(LAMBDA + "    memory_mb: 99999\n")
    assert diagnostic.rule_id == "MS301"
    assert "128-10240" in diagnostic.message


def test_a_limit_no_rule_explains_is_reported_by_the_schema() -> None:
    text = LAMBDA.replace(
        "provider: aws-lambda\n    region: eu-west-1",
        "provider: gcp-cloud-run\n    project: my-project-1\n    region: us-central1\n    cpu: 9",
    )
    assert not editor_accepts(text)
    [diagnostic] = lint_text(text)
    assert (diagnostic.rule_id, diagnostic.path) == ("MS001", "targets.prod.cpu")
    assert "maximum is 8" in diagnostic.message


def test_a_schema_error_does_not_hide_the_rules_for_the_rest() -> None:
    text = LAMBDA + "    memroy_mb: 1\n    timeout_s: 1000\nrollout: {steps: [50, 10, 100]}\n"
    found = {(d.rule_id, d.path) for d in lint_text(text)}
    assert found == {
        ("MS001", "targets.prod.memroy_mb"),
        ("MS302", "targets.prod.timeout_s"),
        ("MS601", "rollout.steps.1"),
    }


def test_a_broken_target_does_not_hide_the_rules_for_another() -> None:
    text = LAMBDA + "    memory_mb: 64\n  other:\n    provider: aws-lambda\n"
    found = {(d.rule_id, d.path) for d in lint_text(text)}
    assert found == {("MS301", "targets.prod.memory_mb"), ("MS001", "targets.other")}


def test_a_missing_top_level_key_leaves_only_schema_findings() -> None:
    text = LAMBDA.replace("model:\n  path: model.onnx\n", "modle:\n  path: model.onnx\n")
    ids = {d.rule_id for d in lint_text(text + "    memory_mb: 64\n")}
    assert ids == {"MS001"}


CLOUD_RUN = LAMBDA.replace(
    "provider: aws-lambda\n    region: eu-west-1",
    "provider: gcp-cloud-run\n    project: my-project-1\n    region: us-central1",
)
GPU = "    memory: 16Gi\n    gpu: {type: nvidia-l4}\n    max_instances: 1\n"


@pytest.mark.parametrize(("extra", "cpu", "rule_ids"), [
    (GPU, 2, ["MS401"]), (GPU, 4, []), ("", 2, []), ("", 9, ["MS001"]),
])  # fmt: skip
def test_gpu_cpu_minimum_is_in_the_schema(extra: str, cpu: int, rule_ids: list[str]) -> None:
    text = CLOUD_RUN + extra + f"    cpu: {cpu}\n"
    assert [d.rule_id for d in lint_text(text)] == rule_ids
    assert editor_accepts(text) == (rule_ids == [])


def test_the_manifest_reference_lists_each_field_once() -> None:
    from modelstack.commands.schema import schema_reference

    rows = [line.split(" | ")[0] for line in schema_reference(SCHEMA).splitlines()[2:]]
    assert len(rows) == len(set(rows))


def lint_rules_named_in_the_schema(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["x-lint-rule"]] if "x-lint-rule" in node else []
        return own + [r for v in node.values() for r in lint_rules_named_in_the_schema(v)]
    if isinstance(node, list):
        return [r for v in node for r in lint_rules_named_in_the_schema(v)]
    return []


def test_the_schema_names_real_rules_for_the_limits_lint_explains() -> None:
    from modelstack.lint import RULES_BY_ID

    named = lint_rules_named_in_the_schema(SCHEMA)
    assert sorted(named) == ["MS301", "MS302", "MS305", "MS401"]
    assert set(named) <= set(RULES_BY_ID)


def test_loading_leaves_explained_limits_to_lint_and_refuses_the_rest(tmp_path: Path) -> None:
    from modelstack.errors import ManifestError
    from modelstack.manifest import load_manifest

    manifest = tmp_path / "modelstack.yaml"
    manifest.write_text(LAMBDA + "    memory_mb: 64\n", encoding="utf-8")
    assert load_manifest(manifest).targets["prod"].memory_mb == 64  # destroy and status work
    manifest.write_text(LAMBDA + "    reserved_concurrency: -1\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="the minimum is 0"):
        load_manifest(manifest)
