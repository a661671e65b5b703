"""A Lambda image with event sources carries the AWS SDK when its base does not ship it."""

from __future__ import annotations

import pytest

from modelstack.events.image import event_packages
from modelstack.image.dockerfile import render_requirements
from modelstack.image.flavours import AWS_LAMBDA_BASE, FLAVOURS
from modelstack.manifest import manifest_from_source
from modelstack.manifest.model import Manifest
from modelstack.manifest.source import parse_source

MANIFEST = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: m, version: '1'}
model: {path: model.onnx, sha256: %s}
targets:
  dev: {provider: local, flavour: lambda}
""" % ("ab" * 32)
EVENTS = "events:\n  - {name: q, queue: {}, output: {bucket: out-b}}\n"


def manifest(text: str) -> Manifest:
    return manifest_from_source(parse_source(text))


@pytest.mark.parametrize("base", ["modelstack/base-python:bookworm", "python:3.12-slim"])
def test_a_lambda_image_on_another_base_gets_the_pinned_aws_sdk(base: str) -> None:
    packages = event_packages(manifest(MANIFEST + EVENTS), FLAVOURS["lambda"], base)
    assert {p.split("==")[0] for p in packages} >= {"boto3", "botocore", "s3transfer"}
    assert all("==" in p for p in packages)  # pinned, like the rest of the image
    text = render_requirements(FLAVOURS["lambda"], base, packages)
    assert "\nboto3==" in text and "awslambdaric==" in text


def test_nothing_is_added_without_events_on_aws_base_or_on_http_images() -> None:
    lambda_, http = FLAVOURS["lambda"], FLAVOURS["cloudrun-cpu"]
    assert event_packages(manifest(MANIFEST), lambda_, "python:3.12-slim") == ()
    assert event_packages(manifest(MANIFEST + EVENTS), lambda_, AWS_LAMBDA_BASE) == ()
    assert event_packages(manifest(MANIFEST + EVENTS), http, "python:3.12-slim") == ()
