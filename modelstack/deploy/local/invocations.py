"""The invoke side of a local Lambda: a queue of invocations and their outcomes, no HTTP.

A caller `invoke`s a payload and waits; the function's runtime takes invocations with
`next_invocation` and settles them with `respond` or `fail`. A runtime that fails to start
(`init_failed`) or an execution environment that goes away (`close`) fails every waiting and
future invocation at once, so nobody waits for a timeout on a dead container. The Runtime
API server (`runtime_api`) and the router's Invoke API (`invoke_api`) are thin adapters
around this. Standard library only: the router process imports it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Invocation", "InvocationBroker", "InvocationFailed"]

FUNCTION_ARN_PREFIX: Final = "arn:aws:lambda:us-east-1:000000000000:function:"


class InvocationFailed(Exception):
    """The function returned an error, failed to initialise, or is gone.

    `payload` is the error document as Lambda returns it to the caller (`errorMessage`,
    `errorType` and whatever else the runtime reported, such as `stackTrace`).
    """

    def __init__(
        self, message: str, error_type: str = "Unknown", payload: bytes | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.payload = payload if payload is not None else _error_document(message, error_type)


@dataclass
class Invocation:
    """One event on its way to the function and back."""

    request_id: str
    payload: bytes
    deadline_ms: int
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _result: bytes | None = field(default=None, repr=False)
    _error: InvocationFailed | None = field(default=None, repr=False)

    def settle(self, result: bytes | None, error: InvocationFailed | None) -> bool:
        """Record the outcome once; False when it was already settled."""
        if self._done.is_set():
            return False
        self._result, self._error = result, error
        self._done.set()
        return True

    def wait(self, timeout_s: float | None = None) -> bytes:
        """The function's response; InvocationFailed or TimeoutError otherwise."""
        if not self._done.wait(timeout_s):
            raise TimeoutError(f"invocation {self.request_id} got no answer in {timeout_s} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class InvocationBroker:
    """Invocations waiting for a runtime, and those a runtime is working on."""

    def __init__(self, function_name: str = "modelstack", timeout_s: float = 30.0) -> None:
        self.function_name = function_name
        self.function_arn = FUNCTION_ARN_PREFIX + function_name
        self.timeout_s = timeout_s
        self.runtime_polled = threading.Event()
        """Set when a runtime first asks for an invocation: its init phase is over."""
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._in_flight: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._closed: InvocationFailed | None = None

    # --- the caller's side -------------------------------------------------------------------

    def submit(self, payload: bytes) -> Invocation:
        """Queue `payload` for the runtime; the returned invocation can be waited on."""
        deadline = int((time.time() + self.timeout_s) * 1000)
        invocation = Invocation(str(uuid.uuid4()), payload, deadline)
        with self._lock:
            if self._closed is not None:
                invocation.settle(None, self._closed)
                return invocation
            self._pending.put(invocation)
        return invocation

    def invoke(self, payload: bytes, timeout_s: float | None = None) -> bytes:
        """Submit `payload` and wait for the response (RequestResponse invocation)."""
        return self.submit(payload).wait(self.timeout_s if timeout_s is None else timeout_s)

    # --- the runtime's side ------------------------------------------------------------------

    def next_invocation(self, timeout_s: float | None = None) -> Invocation | None:
        """The next invocation for the runtime; None after `timeout_s` or once closed."""
        self.runtime_polled.set()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._closed is not None:
                return None
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                return None
            try:
                invocation = self._pending.get(timeout=wait)
            except queue.Empty:
                continue
            with self._lock:
                if self._closed is not None:
                    invocation.settle(None, self._closed)
                    return None
                self._in_flight[invocation.request_id] = invocation
            return invocation

    def respond(self, request_id: str, body: bytes) -> bool:
        """The function's result for `request_id`; False when no such invocation is running."""
        invocation = self._take(request_id)
        return invocation is not None and invocation.settle(body, None)

    def fail(self, request_id: str, body: bytes, error_type: str | None = None) -> bool:
        """The function's error for `request_id`; False when no such invocation is running."""
        invocation = self._take(request_id)
        if invocation is None:
            return False
        return invocation.settle(None, _error_from_body("the function failed", body, error_type))

    def init_failed(self, body: bytes, error_type: str | None = None) -> None:
        """The runtime could not initialise: every invocation, now and later, fails with it."""
        self.close(_error_from_body("the function failed to initialise", body, error_type))

    def close(self, reason: InvocationFailed | str = "the function is gone") -> None:
        """Fail every waiting, running and future invocation with `reason`."""
        error = reason if isinstance(reason, InvocationFailed) else InvocationFailed(reason)
        with self._lock:
            if self._closed is None:
                self._closed = error
            running = list(self._in_flight.values())
            self._in_flight.clear()
        while True:
            try:
                running.append(self._pending.get_nowait())
            except queue.Empty:
                break
        for invocation in running:
            invocation.settle(None, self._closed)

    @property
    def closed(self) -> InvocationFailed | None:
        return self._closed

    def _take(self, request_id: str) -> Invocation | None:
        with self._lock:
            return self._in_flight.pop(request_id, None)


def _error_from_body(what: str, body: bytes, error_type: str | None) -> InvocationFailed:
    """A readable error from the runtime's JSON error document (errorType, errorMessage)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {"errorMessage": body[:500].decode("utf-8", errors="replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    kind = str(document.get("errorType") or error_type or "Unknown")
    message = str(document.get("errorMessage") or "").strip()
    payload = json.dumps({**document, "errorType": kind, "errorMessage": message}).encode()
    text = f"{what}: {kind}: {message}" if message else f"{what}: {kind}"
    return InvocationFailed(text, kind, payload)


def _error_document(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()
