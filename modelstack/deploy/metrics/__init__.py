"""The candidate's error rate over a traffic step, read from the platform's own metrics.

One module per provider: `aws_lambda` (CloudWatch `Errors` / `Invocations` by
`ExecutedVersion`) and `cloud_run` (Cloud Monitoring `run.googleapis.com/request_count` by
`revision_name` and `response_code_class`). Each reader returns an `ErrorRate`; fewer requests
than `min_requests` in the interval is *no signal*, which is reported as such and is never
taken for a healthy step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from modelstack.errors import UsageError

__all__ = [
    "DEFAULT_MIN_REQUESTS",
    "MIN_REQUESTS_ENV",
    "ErrorRate",
    "ErrorRateReader",
    "min_requests",
]

MIN_REQUESTS_ENV = "MODELSTACK_ERROR_RATE_MIN_REQUESTS"
DEFAULT_MIN_REQUESTS = 20
"""Below this many requests in a step's interval the error rate is no signal: one failure in
three requests says little about a version, and none in three says less."""


def min_requests(environ: Mapping[str, str] = os.environ) -> int:
    """The minimum-requests setting: `MODELSTACK_ERROR_RATE_MIN_REQUESTS`, default 20."""
    raw = environ.get(MIN_REQUESTS_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_REQUESTS
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise UsageError(
            f"{MIN_REQUESTS_ENV}={raw!r} is not a whole number of requests; set it to 1 or "
            f"more (default {DEFAULT_MIN_REQUESTS})"
        )
    return int(raw)


@dataclass(frozen=True)
class ErrorRate:
    """Requests and failed requests of one version over an interval."""

    source: str
    """Where the numbers come from, such as `CloudWatch AWS/Lambda iris-prod:7`."""
    requests: int
    errors: int
    min_requests: int

    @property
    def rate(self) -> float | None:
        """errors / requests, or None (no signal) below `min_requests` requests."""
        if self.requests < self.min_requests:
            return None
        return self.errors / self.requests

    def describe(self) -> str:
        if self.rate is None:
            return (
                f"error rate: no signal ({self.requests} request(s) in the interval, fewer than "
                f"{self.min_requests}; {MIN_REQUESTS_ENV} sets the minimum) from {self.source}"
            )
        return (
            f"error rate {self.rate:.2%}: {self.errors} of {self.requests} request(s) failed "
            f"({self.source})"
        )


class ErrorRateReader(Protocol):
    """Reads a candidate's requests and errors between `start` and `end` (UTC)."""

    def read(self, address: Mapping[str, Any], start: datetime, end: datetime) -> ErrorRate: ...
