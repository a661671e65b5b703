"""The local Lambda Invoke API as boto3 sees it: invocation types and function errors, with
the router in-process and a function runtime loop polling its real Runtime API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from routerkit import (
    FakeFunctionRuntime,
    boto3_lambda,
    counters,
    exchange,
    lambda_routes,
    port_of,
    running_router,
    statuses,
)

from modelstack.deploy.local.router import RouterServer
from modelstack.image.containers import free_port


def handler(event: Any) -> Any:
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event}


@pytest.fixture
def router(tmp_path: Path) -> Iterator[tuple[RouterServer, FakeFunctionRuntime]]:
    api_port = free_port()
    with running_router(tmp_path, lambda_routes(api_port)) as server:
        server.router.reload()
        runtime = FakeFunctionRuntime(f"127.0.0.1:{api_port}", handler)
        yield server, runtime


def test_request_response_answers_the_payload(router: tuple[RouterServer, Any]) -> None:
    server, _ = router
    response = boto3_lambda(port_of(server)).invoke(FunctionName="fn.local", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "1"
    assert json.loads(response["Payload"].read()) == {"echo": {"a": 1}}


def test_a_handler_error_is_a_function_error_with_the_error_document(
    router: tuple[RouterServer, Any],
) -> None:
    server, _ = router
    response = boto3_lambda(port_of(server)).invoke(
        FunctionName="fn.local", Payload=b'{"fail": true}'
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    document = json.loads(response["Payload"].read())
    assert document["errorType"] == "ValueError"
    assert document["errorMessage"] == "asked to fail"
    assert document["stackTrace"] == ['  File "fn.py", line 1']
    assert counters(server)["errors"] == 1


def test_an_event_invocation_is_accepted_and_runs_in_the_background(
    router: tuple[RouterServer, FakeFunctionRuntime],
) -> None:
    server, runtime = router
    response = boto3_lambda(port_of(server)).invoke(
        FunctionName="fn.local", InvocationType="Event", Payload=b'{"queued": 1}'
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    deadline = time.monotonic() + 10
    while {"queued": 1} not in runtime.events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {"queued": 1} in runtime.events
    while counters(server)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counters(server) == {"requests": 1, "errors": 0, "in_flight": 0}


def test_a_dry_run_is_204_and_invokes_nothing(
    router: tuple[RouterServer, FakeFunctionRuntime],
) -> None:
    server, runtime = router
    client = boto3_lambda(port_of(server))
    response = client.invoke(FunctionName="fn.local", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    client.invoke(FunctionName="fn.local", Payload=b'{"after": 1}')
    assert runtime.events == [{"after": 1}]  # the dry run never reached the function


def test_an_unknown_invocation_type_is_invalid_parameter_value(
    router: tuple[RouterServer, FakeFunctionRuntime],
) -> None:
    server, runtime = router
    with pytest.raises(ClientError) as info:
        boto3_lambda(port_of(server)).invoke(
            FunctionName="fn.local", InvocationType="Sometimes", Payload=b"{}"
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Sometimes" in str(info.value)
    assert runtime.events == [] and counters(server)["requests"] == 0


def test_a_chunked_invoke_body_reaches_the_function(
    router: tuple[RouterServer, FakeFunctionRuntime],
) -> None:
    server, runtime = router
    payload = b'{"chunked": true}'
    head = (
        b"POST /2015-03-31/functions/fn.local/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    assert statuses(exchange(port_of(server), head + body)) == [200]
    assert runtime.events == [{"chunked": True}]
