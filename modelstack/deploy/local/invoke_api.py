"""The Lambda Invoke API of the local target's Lambda flavour, as boto3 sees it on AWS.

    POST /2015-03-31/functions/{FunctionName}/invocations?Qualifier=N

`X-Amz-Invocation-Type` selects how: `RequestResponse` (the default) waits and answers 200
with the function's payload and `X-Amz-Executed-Version`; `Event` queues the invocation and
answers 202 at once; `DryRun` answers 204 without invoking; anything else is 400
(`InvalidParameterValueException`). A function error (the handler raised, the runtime
reported it on its `/error` endpoint, it failed to initialise, it timed out or its
environment went away) is answered 200 with `X-Amz-Function-Error: Unhandled` and the error
document as the payload, so boto3 reports `FunctionError`. Errors of the API itself carry
`x-amzn-ErrorType` and `{"Type": "User", "message": ...}`, which botocore turns into its
modelled exceptions.
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qs, urlsplit

from modelstack.deploy.local.http1 import Message
from modelstack.deploy.local.invocations import InvocationBroker, InvocationFailed
from modelstack.deploy.local.table import Router

__all__ = ["INVOCATION_TYPES", "MAX_QUEUED_EVENTS", "handle_invoke"]

INVOCATION_TYPES: Final = ("RequestResponse", "Event", "DryRun")
MAX_QUEUED_EVENTS: Final = 256
"""`Event` invocations not yet finished; past it the API answers 429, as Lambda throttles."""
_INVOKE: Final = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_events = threading.BoundedSemaphore(MAX_QUEUED_EVENTS)


def handle_invoke(router: Router, request: Message) -> Message:
    """The Invoke API's answer to `request`."""
    url = urlsplit(request.target)
    match = _INVOKE.match(url.path)
    if request.method != "POST" or match is None:
        return _aws_error(HTTPStatus.NOT_FOUND, "UnknownOperationException", request.target)
    if match.group(1) != router.reload().function_name:
        return _aws_error(
            HTTPStatus.NOT_FOUND,
            "ResourceNotFoundException",
            f"Function not found: {match.group(1)}",
        )
    kind = request.header("x-amz-invocation-type") or "RequestResponse"
    if kind not in INVOCATION_TYPES:
        return _aws_error(
            HTTPStatus.BAD_REQUEST,
            "InvalidParameterValueException",
            f"InvocationType {kind[:60]!r} is not one of {', '.join(INVOCATION_TYPES)}",
        )
    qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
    revision = router.begin(qualifier)
    broker = router.broker(revision.version) if revision else None
    if revision is None or broker is None:
        if revision is not None:
            router.end(revision.version, failed=True)
        return _aws_error(
            HTTPStatus.NOT_FOUND,
            "ResourceNotFoundException",
            f"no version {qualifier or 'live'} of this function",
        )
    if kind == "DryRun":
        router.end(revision.version, failed=False)
        return Message(status=204, reason="No Content")
    if kind == "Event":
        return _queue_event(router, revision.version, broker, request.body)
    failed = True
    try:
        payload, error = _call(broker, request.body)
        failed = error or _is_server_error(payload)
        headers = [
            ("Content-Type", "application/json"),
            ("X-Amz-Executed-Version", revision.version),
        ]
        if error:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        return Message(status=200, reason="OK", headers=headers, body=payload)
    finally:
        router.end(revision.version, failed)


def _call(broker: InvocationBroker, payload: bytes) -> tuple[bytes, bool]:
    """The function's payload and whether it is a function error."""
    try:
        return broker.invoke(payload), False
    except InvocationFailed as exc:
        return exc.payload, True
    except TimeoutError:
        message = f"Task timed out after {broker.timeout_s:.2f} seconds"
        return json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}).encode(), True


def _queue_event(router: Router, version: str, broker: InvocationBroker, body: bytes) -> Message:
    if not _events.acquire(blocking=False):
        router.end(version, failed=False)
        return _aws_error(
            HTTPStatus.TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            f"more than {MAX_QUEUED_EVENTS} Event invocations are queued",
        )
    invocation = broker.submit(body)

    def settle() -> None:
        failed = True
        try:
            failed = _is_server_error(invocation.wait(broker.timeout_s))
        except (InvocationFailed, TimeoutError):
            pass
        finally:
            router.end(version, failed)
            _events.release()

    threading.Thread(target=settle, name="lambda-event", daemon=True).start()
    return Message(status=202, reason="Accepted", headers=[("Content-Type", "application/json")])


def _aws_error(status: HTTPStatus, kind: str, message: str) -> Message:
    body = json.dumps({"Type": "User", "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)]
    return Message(status=status.value, reason=status.phrase, headers=headers, body=body)


def _is_server_error(reply: bytes) -> bool:
    """Whether a function's answer is a server fault (its own 5xx error payload, or garbage)."""
    try:
        document = json.loads(reply)
        return isinstance(document, dict) and int(document.get("status") or 200) >= 500
    except (ValueError, TypeError):
        return True
