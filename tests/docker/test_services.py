"""Smoke tests for the local services started by ``scripts/docker-services``.

They check the ground the Docker integration tests stand on: an engine without a bridge
network, the open registry, the registry with basic auth and the local base image.
"""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

REGISTRY = os.environ.get("MODELSTACK_TEST_REGISTRY", "127.0.0.1:5000")
AUTH_REGISTRY = os.environ.get("MODELSTACK_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
AUTH_USER = os.environ.get("MODELSTACK_TEST_AUTH_USER", "modelstack")
AUTH_PASSWORD = os.environ.get("MODELSTACK_TEST_AUTH_PASSWORD", "modelstack-test")
BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")

# Loopback only: never go through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers)


def test_engine_has_no_bridge_network() -> None:
    result = _docker("network", "ls", "--filter", "driver=bridge", "--format", "{{.Name}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"bridge networks present: {result.stdout!r}"
    assert not Path("/sys/class/net/docker0").exists(), "docker0 interface present"


def test_open_registry_answers() -> None:
    status, headers = _get(f"http://{REGISTRY}/v2/")
    assert status == 200
    assert headers.get("Docker-Distribution-Api-Version") == "registry/2.0"


def test_auth_registry_refuses_anonymous_and_accepts_credentials() -> None:
    status, headers = _get(f"http://{AUTH_REGISTRY}/v2/")
    assert status == 401
    assert headers.get("Www-Authenticate", "").lower().startswith("basic")

    status, _ = _get(f"http://{AUTH_REGISTRY}/v2/", auth=(AUTH_USER, "wrong-password"))
    assert status == 401

    status, _ = _get(f"http://{AUTH_REGISTRY}/v2/", auth=(AUTH_USER, AUTH_PASSWORD))
    assert status == 200


def test_base_image_runs_python() -> None:
    result = _docker(
        "run",
        "--rm",
        "--network",
        "host",
        BASE_IMAGE,
        "python3",
        "-c",
        "import ssl, sys, venv; print('ok', sys.version_info[:2] >= (3, 11))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok True"
