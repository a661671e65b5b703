"""Routing in the runtime, over HTTP: two real runtime servers on 127.0.0.1 (the entry runs
its small model in-process, the tier is another runtime), plus a recording tier (a plain HTTP
server) for the headers that arrive, slow answers, 5xx and oversize answers."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from modelstack_runtime import RuntimeServer
from modelstack_runtime.codec import encode_json_request, read_response
from modelstack_runtime.config import load_config

RoutingFactory = Callable[..., RuntimeServer]


def softmax_model() -> onnx.ModelProto:
    """probabilities = softmax(x) (FP32 [N, 3]); label = argmax."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    p = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("Softmax", ["x"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(nodes, "softmax", [x], [p, label])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _server(directory: Path, name: str, **config: Any) -> RuntimeServer:
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(softmax_model(), str(directory / "model.onnx"))
    data = {"model_name": name, "model_version": f"{name}-1", "model_path": "model.onnx", **config}
    (directory / "runtime.json").write_text(json.dumps(data))
    server = RuntimeServer(load_config(directory / "runtime.json"))
    server.start()
    server.load()
    return server


class RecordingTier:
    """A plain HTTP/1.1 server on 127.0.0.1 that records what arrives and answers as told."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.status = 200
        self.delay_s = 0.0
        self.body = json.dumps(
            {
                "model_name": "recorder",
                "model_version": "r1",
                "outputs": [
                    {"name": "label", "datatype": "INT64", "shape": [1], "data": [7]},
                ],
            }
        ).encode()
        tier = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                tier.seen.append({k.lower(): v for k, v in self.headers.items()})
                time.sleep(tier.delay_s)
                self.send_response(tier.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(tier.body)))
                self.end_headers()
                self.wfile.write(tier.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeServer]:
    server = _server(tmp_path_factory.mktemp("large"), "large")
    yield server
    server.stop(grace_s=5.0)


@pytest.fixture
def recorder() -> Iterator[RecordingTier]:
    tier = RecordingTier()
    yield tier
    tier.close()


@pytest.fixture
def entry(tmp_path: Path) -> Iterator[RoutingFactory]:
    """Start an entry server with the given routing object (tiers as name -> (url, model))."""
    started: list[RuntimeServer] = []

    def start(
        tiers: dict[str, tuple[str, str]], timeout_ms: int = 2000, **rules: Any
    ) -> RuntimeServer:
        routing = {
            "tiers": {
                n: {"url": url, "model_name": model, "timeout_ms": timeout_ms}
                for n, (url, model) in tiers.items()
            },
            **rules,
        }
        server = _server(tmp_path / f"entry{len(started)}", "small", routing=routing)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace_s=5.0)


def infer(
    server: RuntimeServer,
    x: list[list[float]],
    headers: dict[str, str] | None = None,
    model: str = "small",
    **extra: Any,
) -> tuple[int, dict[str, Any]]:
    body = json.loads(encode_json_request({"x": np.array(x, dtype=np.float32)}))
    body.update(extra)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST",
            f"/v2/models/{model}/infer",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


CONFIDENT = [[10.0, 0.0, 0.0]]  # max probability ~1.0
UNSURE = [[0.0, 0.0, 0.1]]  # max probability ~0.36
ESCALATE = [
    {"to": "large", "output": "probabilities", "condition": "max_prob_below", "threshold": 0.8}
]


def test_escalates_exactly_when_the_condition_holds(
    entry: RoutingFactory, large: RuntimeServer
) -> None:
    server = entry({"large": (large.url, "large")}, escalate=ESCALATE)
    status, sure = infer(server, CONFIDENT)
    assert status == 200
    assert (sure["model_name"], sure["model_version"]) == ("small", "small-1")
    assert sure["parameters"] == {"escalated": False, "routed_by": "self"}
    status, unsure = infer(server, UNSURE)
    assert status == 200
    assert (unsure["model_name"], unsure["model_version"]) == ("large", "large-1")
    assert unsure["parameters"] == {"escalated": True, "routed_by": "escalate"}
    assert {o["name"] for o in unsure["outputs"]} == {"probabilities", "label"}


def test_a_service_without_routing_answers_without_parameters(large: RuntimeServer) -> None:
    status, answer = infer(large, UNSURE, model="large")
    assert status == 200 and "parameters" not in answer and answer["model_name"] == "large"


@pytest.mark.parametrize(
    ("rule", "x", "headers", "extra"),
    [
        ({"kind": "input_bytes_above", "threshold": 10}, CONFIDENT, {}, {}),
        ({"kind": "elements_above", "threshold": 5}, CONFIDENT * 2, {}, {}),
        ({"kind": "input", "name": "x", "dim": 0, "threshold": 1}, CONFIDENT * 2, {}, {}),
        ({"kind": "header", "name": "X-Tier", "equals": "big"}, CONFIDENT, {"x-tier": "big"}, {}),
        (
            {"kind": "parameter", "name": "tier", "equals": "big"},
            CONFIDENT,
            {},
            {"parameters": {"tier": "big"}},
        ),
    ],
    ids=["bytes", "elements", "input-dim", "header", "parameter"],
)
def test_route_rules_send_matching_requests_to_the_tier(
    entry: RoutingFactory,
    large: RuntimeServer,
    rule: dict[str, Any],
    x: list[list[float]],
    headers: dict[str, str],
    extra: dict[str, Any],
) -> None:
    server = entry({"large": (large.url, "large")}, route=[{"to": "large", **rule}])
    status, answer = infer(server, x, headers, **extra)
    assert status == 200 and answer["model_name"] == "large"
    assert answer["parameters"] == {"escalated": False, "routed_by": "route"}
    if rule["kind"] in ("elements_above", "input", "header", "parameter"):
        status, own = infer(server, CONFIDENT)  # the same service, a request that does not match
        assert status == 200 and own["model_name"] == "small"
        assert own["parameters"]["routed_by"] == "self"


def test_split_is_sticky_and_follows_pick_variant(
    entry: RoutingFactory, large: RuntimeServer
) -> None:
    from modelstack_runtime.routing import pick_variant

    weights = {"self": 50, "large": 50}
    split = {"key_kind": "header", "key_name": "x-user-id", "weights": weights}
    server = entry({"large": (large.url, "large")}, split=split)
    answered: dict[str, str] = {}
    for user in range(30):
        key = f"user-{user}"
        status, answer = infer(server, CONFIDENT, {"x-user-id": key})
        assert status == 200
        wanted = "small" if pick_variant(key, weights) == "self" else "large"
        assert answer["model_name"] == wanted
        answered[key] = answer["model_name"]
        expected = "split" if wanted == "large" else "self"
        assert answer["parameters"]["routed_by"] == expected
    assert set(answered.values()) == {"small", "large"}
    for key in list(answered)[:5]:  # the same key again: the same variant
        assert infer(server, CONFIDENT, {"x-user-id": key})[1]["model_name"] == answered[key]
    assert infer(server, CONFIDENT)[1]["model_name"] == "small"  # no key: this service


def test_a_tier_that_is_down_falls_back_or_fails(
    entry: RoutingFactory, recorder: RecordingTier
) -> None:
    url = recorder.url
    recorder.close()  # nothing listens there any more
    fallback = entry({"large": (url, "large")}, escalate=ESCALATE)
    status, answer = infer(fallback, UNSURE)
    assert status == 200 and answer["model_name"] == "small"
    assert answer["parameters"]["escalated"] is False
    assert answer["parameters"]["routed_by"] == "escalate"
    assert "refused" in answer["parameters"]["tier_failure"]
    fail = entry({"large": (url, "large")}, escalate=ESCALATE, on_tier_failure="fail")
    status, answer = infer(fail, UNSURE)
    assert status == 503 and "tier 'large'" in answer["error"]
    status, answer = infer(fail, CONFIDENT)  # no escalation: the tier is not needed
    assert status == 200 and answer["model_name"] == "small"


def test_a_slow_tier_is_a_tier_failure_after_its_timeout(
    entry: RoutingFactory, recorder: RecordingTier
) -> None:
    recorder.delay_s = 1.0
    server = entry({"large": (recorder.url, "recorder")}, timeout_ms=100, escalate=ESCALATE)
    status, answer = infer(server, UNSURE)
    assert status == 200 and answer["model_name"] == "small"
    assert "within 100 ms" in answer["parameters"]["tier_failure"]


def test_a_tier_5xx_or_an_oversize_answer_is_a_tier_failure(
    entry: RoutingFactory, recorder: RecordingTier
) -> None:
    recorder.status = 500
    server = entry({"large": (recorder.url, "recorder")}, escalate=ESCALATE)
    assert infer(server, UNSURE)[1]["parameters"]["tier_failure"] == "tier 'large' answered 500"
    recorder.status = 200
    small_limit = entry(
        {"large": (recorder.url, "recorder")}, escalate=ESCALATE, max_response_bytes=16
    )
    status, answer = infer(small_limit, UNSURE)
    assert status == 200 and "max_response_bytes" in answer["parameters"]["tier_failure"]


def test_a_routed_request_the_tier_refuses_is_a_4xx_for_the_client(
    entry: RoutingFactory, recorder: RecordingTier
) -> None:
    recorder.status = 400
    recorder.body = b'{"error": "input x: wrong shape"}'
    route = [{"to": "large", "kind": "input_bytes_above", "threshold": 0}]
    server = entry({"large": (recorder.url, "recorder")}, route=route)
    status, answer = infer(server, CONFIDENT)
    assert status == 400 and "wrong shape" in answer["error"]


def test_request_id_and_trace_context_reach_the_tier_unchanged(
    entry: RoutingFactory, recorder: RecordingTier
) -> None:
    server = entry({"large": (recorder.url, "recorder")}, escalate=ESCALATE)
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = {"x-request-id": "req-42", "traceparent": trace, "x-secret": "not forwarded"}
    status, answer = infer(server, UNSURE, headers, id="req-42")
    assert status == 200 and answer["model_name"] == "recorder"
    (seen,) = recorder.seen
    assert seen["x-request-id"] == "req-42" and seen["traceparent"] == trace
    assert "x-secret" not in seen


def test_kept_alive_connections_are_reused(entry: RoutingFactory, large: RuntimeServer) -> None:
    server = entry({"large": (large.url, "large")}, escalate=ESCALATE)
    for _ in range(5):
        assert infer(server, UNSURE)[1]["model_name"] == "large"
    router = server.dataplane._router
    assert router is not None
    pool = router.forwarder._pools["large"]
    assert len(pool._idle) == 1  # one connection served all five, one after another


def test_binary_answers_get_parameters_in_their_json_head() -> None:
    from modelstack_runtime.codec import HEADER_LENGTH_HEADER, encode_response
    from modelstack_runtime.routing import with_parameters

    outputs = {"y": np.arange(6, dtype=np.float32).reshape(2, 3)}
    payload, length = encode_response("m", "1", "id-1", outputs, ["y"])
    body, headers = with_parameters(
        payload, {HEADER_LENGTH_HEADER: str(length)}, {"escalated": True, "routed_by": "escalate"}
    )
    response = read_response(body, int(headers[HEADER_LENGTH_HEADER]))
    np.testing.assert_array_equal(response.outputs["y"], outputs["y"])
    head = json.loads(body[: int(headers[HEADER_LENGTH_HEADER])])
    assert head["parameters"] == {"escalated": True, "routed_by": "escalate"}
