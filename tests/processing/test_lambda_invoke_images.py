"""The Lambda Invoke client sends image smoke tests as a v2 JSON invocation, image in base64."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from modelstack import load_manifest
from modelstack.providers.aws_lambda.invoke_client import LambdaInvokeClient
from modelstack.smoke.local import prepare_local
from modelstack.smoke.runner import run_smoke_tests
from modelstack_runtime import LambdaAdapter, load_dataplane


class FakeLambdaClient:
    """boto3's Lambda client at the AWS boundary: each payload goes to the runtime's handler."""

    def __init__(self, handler: LambdaAdapter) -> None:
        self.handler = handler
        self.payloads: list[Any] = []

    def invoke(self, *, FunctionName: str, Qualifier: str, Payload: bytes) -> dict[str, Any]:
        event = json.loads(Payload)
        self.payloads.append(event)
        reply = self.handler(event, SimpleNamespace(aws_request_id="r"))
        return {"Payload": io.BytesIO(json.dumps(reply).encode())}

    def close(self) -> None:
        pass


def test_image_smoke_tests_pass_through_a_direct_invocation(catalog: Path) -> None:
    bundle = prepare_local(load_manifest(catalog))
    fake = FakeLambdaClient(LambdaAdapter(load_dataplane(bundle.config)))
    client = LambdaInvokeClient("catalog-tagging.local", "1", "us-east-1")
    client._client = fake
    report = run_smoke_tests(bundle.cases, client)
    assert report.passed and len(report.results) == 3
    first = fake.payloads[0]["inputs"][0]
    assert first["datatype"] == "BYTES" and first["data"][0].startswith("iVBORw0KGgo")
