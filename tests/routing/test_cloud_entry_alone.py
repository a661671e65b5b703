"""A cloud entry's tiers are reached through the environment its deployment writes, so on the
build machine its smoke tests serve the entry's model alone: the cases its own model answers,
in this process and in the container (`MODELSTACK_SERVE_ALONE=1`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_deploy_graph import CLOUD
from test_lint_routing import bundle, manifest, routed

from modelstack.deploy.pipeline import test_locally as run_local_smoke
from modelstack.deploy.progress import Progress
from modelstack.manifest import load_manifest
from modelstack.routing.deploy_graph import routing_object
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane
from modelstack_runtime.errors import ConfigError

LOCAL = "targets:\n  local: {provider: local}\n"
SMOKE = (
    "smoke_tests:\n"
    "  - name: sure\n"
    "    inputs: {x: {data: [[0, 0, 9]]}}\n"
    "    expect_model: small\n"
    "    expected_outputs: {label: {data: [2]}}\n"
    "  - name: unsure\n"
    "    inputs: {x: {data: [[1, 1, 1]]}}\n"
    "    expect_model: large\n"
)


def _cloud_entry(tmp_path: Path) -> Path:
    bundle(tmp_path, "large", manifest("large").replace(LOCAL, CLOUD))
    text = manifest("small", routed("../large/modelstack.yaml#prod")).replace(LOCAL, CLOUD)
    return bundle(tmp_path, "small", text + SMOKE)


def test_local_smoke_tests_of_a_cloud_entry_run_the_cases_its_own_model_answers(
    tmp_path: Path,
) -> None:
    entry = load_manifest(str(_cloud_entry(tmp_path)))
    routing = routing_object(entry, entry.targets["prod"])
    stream = io.StringIO()
    bundle_ = run_local_smoke(entry, Progress(stream=stream), routing=routing)
    assert "1 of 2 smoke test(s) run against this model alone" in stream.getvalue()
    assert "1 passed" in stream.getvalue()
    assert bundle_.config.routing == routing  # the image still routes, through its tiers
    assert [c.name for c in bundle_.cases] == ["sure", "unsure"]  # the candidate runs both


def test_a_routed_config_without_addresses_serves_alone_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = load_manifest(str(_cloud_entry(tmp_path)))
    config = prepare_local(entry, routing=routing_object(entry, entry.targets["prod"])).config
    monkeypatch.delenv("MODELSTACK_ROUTING_TIERS", raising=False)
    with pytest.raises(ConfigError, match="large"):
        load_dataplane(config)
    monkeypatch.setenv("MODELSTACK_SERVE_ALONE", "1")
    plane = load_dataplane(config)
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3],
                                   "data": [1, 1, 1]}]}).encode()  # fmt: skip
    payload, _ = plane.infer("small", body, None, "application/json")
    answer = json.loads(payload)
    assert answer["model_name"] == "small"
    assert "parameters" not in answer  # nothing routed, nothing said about routing
