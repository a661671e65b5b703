"""`modelstack status` of a routed manifest: the graph with each service's target, serving
version, address and health (probed on 127.0.0.1), in text and JSON."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_deploy_graph import with_port
from test_lint_routing import bundle, manifest, routed

from modelstack.cli import main
from modelstack.deploy.release import Release
from modelstack.deploy.state import DeployState, StateStore
from modelstack.image.containers import free_port


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/health/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ready_port() -> Iterator[int]:
    """A server on 127.0.0.1 that answers /v2/health/ready with 200, as a ready tier does."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def release(version: str) -> Release:
    return Release(
        version=version,
        image=f"sha256:{version * 8}",
        model_version="1.0.0",
        model_sha256="0" * 64,
        manifest_sha256="0" * 64,
        image_id=f"sha256:{version * 8}",
        settings_sha256="0" * 64,
    )


def test_status_shows_each_tier_with_version_address_and_health(
    tmp_path: Path, ready_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    down = free_port()
    large = bundle(tmp_path, "large", with_port(manifest("large"), ready_port))
    entry = bundle(tmp_path, "small", with_port(manifest("small", routed()), down))
    StateStore(large.parent, "local").save(
        DeployState(stable=release("3"), endpoint=f"http://127.0.0.1:{ready_port}")
    )
    assert main(["status", str(entry), "--target", "local"]) == 0
    out = capsys.readouterr().out
    assert "routing    entry and tiers (on_tier_failure: fallback)" in out
    assert (
        f"entry          small on local (local), not deployed, http://127.0.0.1:{down}, down" in out
    )
    assert (
        f"tier large     large on local (local), version 3 (1.0.0), "
        f"http://127.0.0.1:{ready_port}, ready"
    ) in out

    assert main(["status", str(entry), "--target", "local", "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)["routing"]
    assert graph["entry"]["health"] == "down" and graph["entry"]["version"] is None
    assert graph["tiers"] == [
        {
            "tier": "large",
            "model": "large",
            "target": "local",
            "provider": "local",
            "version": "3",
            "model_version": "1.0.0",
            "address": f"http://127.0.0.1:{ready_port}",
            "health": "ready",
        }
    ]


def test_status_of_a_graph_whose_tier_is_gone_still_reports_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = bundle(tmp_path, "small", manifest("small", routed()))
    assert main(["status", str(entry), "--target", "local", "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)["routing"]
    assert graph["entry"]["model"] == "small" and graph["tiers"] == []
    assert "tier 'large': no manifest at" in graph["error"]


def test_status_of_a_manifest_without_routing_has_no_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alone = bundle(tmp_path, "alone", manifest("alone"))
    assert main(["status", str(alone), "--format", "json"]) == 0
    assert "routing" not in json.loads(capsys.readouterr().out)
    assert main(["status", str(alone)]) == 0
    assert "routing" not in capsys.readouterr().out
