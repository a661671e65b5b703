"""Invoking the local target's Lambda flavour through its router's Invoke API (standard library).

The event process and `modelstack events --trigger` call the `live` alias, as AWS's event
source mappings, S3 notifications and schedules do, so the version that serves after a rollout
is the one that scores.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Final
from urllib.parse import quote

from modelstack.providers.local.events_poller import Invoke

__all__ = ["INVOKE_TIMEOUT_S", "MAX_REPLY_BYTES", "invoker"]

INVOKE_TIMEOUT_S: Final = 90.0
"""Longer than the local function's own timeout, so its timeout answers first."""
MAX_REPLY_BYTES: Final = 6 * 1024 * 1024
"""Lambda's limit for a synchronous invocation's answer."""
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def invoker(endpoint: str, function_name: str, qualifier: str = "live") -> Invoke:
    """An `Invoke` that POSTs an event to the function's `qualifier` and waits for its answer."""
    url = (
        f"{endpoint.rstrip('/')}/2015-03-31/functions/{quote(function_name, safe='')}"
        f"/invocations?Qualifier={quote(qualifier, safe='')}"
    )

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        request = urllib.request.Request(
            url, data=payload, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with _OPENER.open(request, timeout=INVOKE_TIMEOUT_S) as response:
                body = bytes(response.read(MAX_REPLY_BYTES + 1))
                error = bool(response.headers.get("X-Amz-Function-Error"))
        except urllib.error.HTTPError as exc:  # the API refused it: no such function or version
            detail = exc.read(4096).decode("utf-8", "replace")
            raise ConnectionError(f"the Invoke API answered {exc.code}: {detail}") from None
        if len(body) > MAX_REPLY_BYTES:
            return b"the function's answer is larger than 6 MiB", True
        return body, error

    return invoke
