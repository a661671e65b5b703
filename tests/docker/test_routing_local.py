"""A routed service on the local target, end to end: `up` deploys the tiers and the entry as
real containers on the Docker engine, and requests go through the entry's routing.

One graph is deployed for the module (tiers ra-large, ra-ab and ra-down; entries ra-small with
on_tier_failure fallback and ra-strict with fail), each model softmax(x) over 3 logits, so the
answering `model_name` says who answered. softmax([a, 0, 0]) has a largest probability of 0.8
at a = ln 8 = 2.079: a = 2.10 gives 0.803, a = 2.05 gives 0.795.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from modelstack.cli import main
from modelstack.deploy.state import StateStore
from modelstack.image.containers import free_port
from modelstack.polling import poll_until
from modelstack_runtime.routing import pick_variant

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "routing"))
from routing_models import softmax_model_bytes

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SHA = hashlib.sha256(softmax_model_bytes()).hexdigest()
WEIGHTS = {"self": 70, "ab": 30}
TIER_LINES = {
    "large": "    large: {to: ../ra-large/modelstack.yaml#local}\n",
    "ab": "    ab: {to: ../ra-ab/modelstack.yaml#local}\n",
    "down": "    down: {to: ../ra-down/modelstack.yaml#local}\n",
}
SMALL_ROUTING = (
    "routing:\n  tiers:\n"
    + TIER_LINES["large"]
    + TIER_LINES["ab"]
    + TIER_LINES["down"]
    + """\
  route:
    - {to: large, when: {elements_above: 6}}
    - {to: down, when: {header: x-tier, equals: down}}
  split: {key: {header: x-user-id}, weights: {self: 70, ab: 30}}
  escalate:
    - {to: large, output: probabilities, when: {max_prob_below: 0.8}}
  on_tier_failure: fallback
"""
)
STRICT_ROUTING = (
    "routing:\n  tiers:\n"
    + TIER_LINES["large"]
    + TIER_LINES["down"]
    + """\
  route:
    - {to: down, when: {header: x-tier, equals: down}}
  escalate:
    - {to: large, output: probabilities, when: {max_prob_below: 0.8}}
  on_tier_failure: fail
"""
)
ENTRY_CASES = """\
  - name: unsure escalates
    inputs: {x: {data: [[2.05, 0.0, 0.0]]}}
    expect_model: ra-large
"""


def manifest_text(name: str, port: int, *, routing: str = "", version: str = "1.0.0",
                  label: int = 0, cases: str = "") -> str:  # fmt: skip
    return (
        "apiVersion: modelstack.dev/v1\nkind: ModelService\n"
        f"metadata: {{name: {name}, version: {version}}}\n"
        f"model: {{path: model.onnx, sha256: {SHA}}}\n"
        f"targets:\n  local: {{provider: local, port: {port}}}\n"
        "rollout: {strategy: all-at-once}\n"
        "smoke_tests:\n"
        "  - name: sure\n    inputs: {x: {data: [[5.0, 0.0, 0.0]]}}\n"
        f"    expected_outputs: {{label: {{data: [{label}]}}}}\n" + cases + routing
    )


@dataclass
class Graph:
    root: Path
    ports: dict[str, int]

    def manifest(self, name: str) -> Path:
        return self.root / name / "modelstack.yaml"

    def write(self, name: str, **fields: Any) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(softmax_model_bytes())
        path = folder / "modelstack.yaml"
        path.write_text(manifest_text(name, self.ports[name], **fields), encoding="utf-8")
        return path


def up(manifest: Path, *extra: str) -> int:
    return main(["up", str(manifest), "--target", "local", *BUILD_FLAGS, *extra])


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    names = ("ra-large", "ra-ab", "ra-down", "ra-small", "ra-strict")
    built = Graph(tmp_path_factory.mktemp("routed"), {n: free_port() for n in names})
    for tier in ("ra-large", "ra-ab", "ra-down"):
        built.write(tier)
    built.write("ra-small", routing=SMALL_ROUTING, cases=ENTRY_CASES)
    built.write("ra-strict", routing=STRICT_ROUTING)
    try:
        assert up(built.manifest("ra-small")) == 0
        assert up(built.manifest("ra-strict")) == 0
        yield built
    finally:
        for entry in ("ra-small", "ra-strict"):
            main(["destroy", str(built.manifest(entry)), "--yes", "--with-tiers"])


def infer(
    graph: Graph, entry: str, a: float = 5.0, rows: int = 1, body_id: str | None = None,
    **headers: str,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    body: dict[str, Any] = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [rows, 3], "data": [a, 0, 0] * rows}]
    }
    if body_id is not None:
        body["id"] = body_id
    request = urllib.request.Request(
        f"http://127.0.0.1:{graph.ports[entry]}/v2/models/{entry}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def answered(graph: Graph, entry: str = "ra-small", **kw: Any) -> tuple[str, dict[str, Any]]:
    status, body = infer(graph, entry, **kw)
    assert status == 200, body
    return body["model_name"], body["parameters"]


def test_escalation_happens_exactly_when_the_condition_holds(graph: Graph) -> None:
    assert answered(graph, a=2.10) == ("ra-small", {"escalated": False, "routed_by": "self"})
    assert answered(graph, a=2.05) == ("ra-large", {"escalated": True, "routed_by": "escalate"})


def test_route_by_input_size(graph: Graph) -> None:
    assert answered(graph, rows=2)[0] == "ra-small"  # 6 elements: not above 6
    model, parameters = answered(graph, rows=3)  # 9 elements
    assert (model, parameters["routed_by"], parameters["escalated"]) == ("ra-large", "route", False)


def test_the_split_is_sticky_and_near_its_weights(graph: Graph) -> None:
    variants = {"ra-small": "self", "ra-ab": "ab"}
    seen: Counter[str] = Counter()
    for i in range(200):
        key = f"user-{i}"
        first = answered(graph, **{"x-user-id": key})[0]
        assert answered(graph, **{"x-user-id": key})[0] == first
        assert variants[first] == pick_variant(key, WEIGHTS)
        seen[first] += 1
    assert 0.20 <= seen["ra-ab"] / 200 <= 0.40, seen  # 30 % +- 3 standard deviations


def test_the_request_id_reaches_the_tier(graph: Graph) -> None:
    """Through the entry's router and container, then the tier's router and container: the
    body's `id` comes back unchanged, and the tier's access log names it; without one, the
    `x-request-id` header is the id the tier logs."""
    status, body = infer(graph, "ra-small", a=2.05, body_id="req-ra-9")
    assert (status, body["model_name"], body["id"]) == (200, "ra-large", "req-ra-9")
    status, body = infer(graph, "ra-small", a=2.05, **{"x-request-id": "hdr-ra-77"})
    assert (status, body["model_name"]) == (200, "ra-large")

    def logged() -> bool:  # the runtime writes its access lines in batches, a moment later
        lines = container_logs("ra-large").splitlines()
        ids = {json.loads(x)["request_id"] for x in lines if b'"event":"infer"' in x}
        return {"req-ra-9", "hdr-ra-77"} <= ids

    assert poll_until(logged, timeout=10, interval=0.2)


def test_status_shows_the_deployed_graph(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(graph.manifest("ra-small")), "--format", "json"]) == 0
    routing = json.loads(capsys.readouterr().out)["routing"]
    assert routing["entry"]["health"] == "ready"
    assert [(t["tier"], t["model"], t["version"], t["health"]) for t in routing["tiers"]] == [
        ("large", "ra-large", "1", "ready"),
        ("ab", "ra-ab", "1", "ready"),
        ("down", "ra-down", "1", "ready"),
    ]
    assert routing["tiers"][0]["address"] == f"http://127.0.0.1:{graph.ports['ra-large']}"


def test_an_unchanged_graph_is_reported_unchanged(
    graph: Graph, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert up(graph.manifest("ra-small"), "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["result"] == "unchanged"
    assert [(t["tier"], t["result"]) for t in summary["tiers"]] == [
        ("large", "unchanged"),
        ("ab", "unchanged"),
        ("down", "unchanged"),
    ]


def test_a_failed_tier_rollout_leaves_the_graph_serving(
    graph: Graph, capsys: pytest.CaptureFixture[str]
) -> None:
    good = graph.manifest("ra-large").read_text()
    graph.write("ra-large", version="2.0.0", label=2)  # its smoke test now fails
    try:
        capsys.readouterr()
        assert up(graph.manifest("ra-small"), "--format", "json") == 1
        captured = capsys.readouterr()
        named = "tier 'large' (ra-large on local) failed, so ra-small was not deployed"
        assert named in captured.err
        summary = json.loads(captured.out)
        assert summary["result"] == "failed" and named in summary["error"]
        assert [(t["tier"], t["result"]) for t in summary["tiers"]] == [("large", "failed")]
    finally:
        graph.manifest("ra-large").write_text(good)
    assert StateStore(graph.root / "ra-large", "local").load().stable.model_version == "1.0.0"
    status, body = infer(graph, "ra-small", a=2.05)
    assert (status, body["model_name"], body["model_version"]) == (200, "ra-large", "1.0.0")


def test_a_tier_that_is_down_falls_back_or_fails(graph: Graph) -> None:
    assert main(["destroy", str(graph.manifest("ra-down")), "--yes"]) == 0
    status, body = infer(graph, "ra-small", **{"x-tier": "down"})
    assert status == 200 and body["model_name"] == "ra-small"
    parameters = body["parameters"]
    assert parameters["escalated"] is False and parameters["routed_by"] == "route"
    assert parameters["tier_failure"]
    status, body = infer(graph, "ra-strict", **{"x-tier": "down"})
    assert status == 503 and "down" in body["error"]


def test_destroy_removes_the_entry_and_names_the_tiers_it_keeps(
    graph: Graph, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["destroy", str(graph.manifest("ra-strict")), "--yes"]) == 0
    err = capsys.readouterr().err
    assert "destroyed ra-strict on local" in err
    assert "its tiers keep running: tier 'large' (ra-large on local)" in err
    assert "--with-tiers" in err
    assert infer(graph, "ra-small", a=2.05)[1]["model_name"] == "ra-large"  # still serving
    with pytest.raises(OSError):  # nothing listens where the entry was
        infer(graph, "ra-strict")


def container_logs(model: str) -> bytes:
    """The logs of every container serving `model` (its runtime's access lines)."""
    client = docker.from_env()
    try:
        found = client.containers.list(filters={"label": "dev.modelstack.target"})
        mine = [c for c in found if c.labels["dev.modelstack.target"].startswith(f"{model}.")]
        assert mine, f"no container serves {model}"
        return b"".join(c.logs() for c in mine)
    finally:
        client.close()
