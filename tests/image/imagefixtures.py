"""Constants and helpers shared by the image tests: the services of scripts/docker-services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from example_copies import copy_example

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
REGISTRY = os.environ.get("MODELSTACK_TEST_REGISTRY", "127.0.0.1:5000")
AUTH_REGISTRY = os.environ.get("MODELSTACK_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
AUTH_USER = os.environ.get("MODELSTACK_TEST_AUTH_USER", "modelstack")
AUTH_PASSWORD = os.environ.get("MODELSTACK_TEST_AUTH_PASSWORD", "modelstack-test")
BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DOCKER = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def copy_iris(destination: Path) -> Path:
    """A copy of examples/iris; returns the manifest's path."""
    return copy_example("iris", destination) / "modelstack.yaml"
