"""Shared pieces for deploy tests: iris smoke cases served by the real runtime in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from example_copies import copy_example

from modelstack.manifest import Manifest, load_manifest
from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def iris_bundle(tmp_path: Path) -> Path:
    """A private copy of examples/iris, so state files land in tmp_path."""
    return copy_example("iris", tmp_path / "iris")


@pytest.fixture
def iris(iris_bundle: Path) -> Manifest:
    return load_manifest(iris_bundle / "modelstack.yaml")


@pytest.fixture
def iris_client(iris: Manifest) -> InProcessClient:
    """The iris model served by the real runtime in this process."""
    return InProcessClient(load_dataplane(prepare_local(iris).config), iris.name)


@pytest.fixture
def iris_cases(iris: Manifest) -> list[SmokeCase]:
    return prepare_local(iris).cases


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real CloudWatch API (moto's server) on 127.0.0.1, on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def cloudwatch(moto_endpoint: str) -> Any:
    """A boto3 CloudWatch client talking to the moto server (never to AWS), emptied first."""
    import urllib.request

    import boto3

    with urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=30
    ) as answer:
        answer.read()

    return boto3.client(
        "cloudwatch",
        region_name="eu-west-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
