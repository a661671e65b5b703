"""The real YAML language server validates a manifest against the schema, limits included.

A small LSP client talks to `yaml-language-server --stdio` (installed with npm into
.venv/node, see scripts/node-tools) the way an editor does. The server is told not to fetch
the schema store catalogue, and any HTTP it tried would go to a closed loopback port.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from modelstack.commands.schema import write_schema

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "yaml-language-server"
WAIT_S = 90
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
NO_NETWORK_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens, nothing leaves
SETTINGS: dict[str, Any] = {
    "validate": True,
    "hover": False,
    "completion": False,
    "schemaStore": {"enable": False, "url": ""},
    "schemas": {},
}
MANIFEST = """\
# yaml-language-server: $schema=modelstack.v1.schema.json
apiVersion: modelstack.dev/v1
kind: ModelService
metadata:
  name: tiny
  version: 1.0.0
model:
  path: model.onnx
  sha256: f0b3d4135ae9f16fa368eebdd648411a115e5540aeb33856d09688f2d7714e1a
targets:
  prod:
    provider: aws-lambda
    region: eu-west-1
    memory_mb: {memory}
"""
MEMORY_LINE = 13  # 0-based, as LSP counts


class LanguageServer:
    """JSON-RPC over stdio with Content-Length framing; answers the server's own requests."""

    def __init__(self, cwd: Path) -> None:
        env = {**os.environ, "HTTP_PROXY": NO_NETWORK_PROXY, "HTTPS_PROXY": NO_NETWORK_PROXY}
        env.pop("NO_PROXY", None)
        self.process = subprocess.Popen(
            [str(SERVER), "--stdio"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self.next_id = 0

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if line == b"" or length is None or length > MAX_MESSAGE_BYTES:
                return
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)

    def wait(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if "method" in message and "id" in message:
                self._answer(message)
            elif wanted(message):
                return message
        raise AssertionError(f"yaml-language-server sent nothing matching within {WAIT_S} s")

    def _answer(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            sections = [item.get("section") for item in message["params"]["items"]]
            result = [
                SETTINGS if s == "yaml" else {"proxy": NO_NETWORK_PROXY} if s == "http" else {}
                for s in sections
            ]
        self.send({"id": message["id"], "result": result})

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.send({"method": "exit"})
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    assert SERVER.is_file(), (
        f"{SERVER.relative_to(ROOT)} is missing: install it with scripts/node-tools "
        "(npm install --prefix .venv/node yaml-language-server@1.19.2)"
    )
    ls = LanguageServer(tmp_path)
    capabilities = {
        "workspace": {"configuration": True, "didChangeConfiguration": {}},
        "textDocument": {"publishDiagnostics": {}, "synchronization": {}},
    }
    ls.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": capabilities},
    )
    ls.send({"method": "initialized", "params": {}})
    ls.send({"method": "workspace/didChangeConfiguration", "params": {"settings": {}}})
    yield ls
    ls.close()


def diagnostics_for(server: LanguageServer, path: Path) -> list[dict[str, Any]]:
    uri = path.as_uri()
    server.send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": uri, "languageId": "yaml", "version": 1,
                    "text": path.read_text(encoding="utf-8"),
                }
            },
        }
    )  # fmt: skip
    message = server.wait(
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
    )
    found: list[dict[str, Any]] = message["params"]["diagnostics"]
    return found


def test_the_editor_flags_memory_beyond_the_lambda_limit_at_its_line(
    server: LanguageServer, tmp_path: Path
) -> None:
    write_schema(tmp_path)
    good = tmp_path / "good" / "modelstack.yaml"
    bad = tmp_path / "bad" / "modelstack.yaml"
    for path, memory in ((good, 1024), (bad, 99999)):
        path.parent.mkdir()
        write_schema(path.parent)
        path.write_text(MANIFEST.format(memory=memory), encoding="utf-8")

    assert diagnostics_for(server, good) == []  # the same manifest within the limit is clean

    [diagnostic] = diagnostics_for(server, bad)
    assert diagnostic["range"]["start"]["line"] == MEMORY_LINE
    assert "10240" in diagnostic["message"]
