"""A schedule's run: every object under its rescore prefix scored again, as a bucket event.

* On Lambda, the EventBridge Scheduler schedule invokes the function with the input
  ``{"modelstack_rescore": {"source": name}}`` (see :func:`handle_rescore`);
* on Cloud Run, the Cloud Scheduler job POSTs (with OIDC, no body) to
  ``/_events/schedule/<source>`` (see :func:`schedule_action`).

The prefix is listed in pages of at most ``RESCORE_PAGE_KEYS`` keys, at most
``MAX_RESCORE_OBJECTS`` objects in all; each object is read, scored and written to the same
key under the output prefix exactly as a bucket event's object is. A malformed object is
reported under ``skipped`` and the others go on. When an object could not be read or
written (or the listing failed), the run fails after all objects were tried: Lambda's
invocation raises and Cloud Run answers 500, so the scheduler retries the run; outputs are
keyed by object, so a retry rewrites the same results. An unknown source or a bad body
answers 4xx (Cloud Run), which Cloud Scheduler does not retry into a loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from modelstack_runtime.errors import (
    BadRequest,
    ConfigError,
    InternalError,
    ModelNotFound,
    PayloadTooLarge,
)
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV, EventsConfig, SourceConfig
from modelstack_runtime.events.rows import SUFFIXES

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane

__all__ = [
    "MAX_RESCORE_OBJECTS",
    "MAX_RESCORE_PAGES",
    "MAX_SCHEDULE_BODY_BYTES",
    "RESCORE_PAGE_KEYS",
    "handle_rescore",
    "listed_keys",
    "rescore",
    "schedule_action",
]

MAX_RESCORE_OBJECTS: Final = 10_000
"""Objects one scheduled rescore reads at most (a larger prefix: split it over schedules)."""
RESCORE_PAGE_KEYS: Final = 1000
"""Keys asked for per listing page (S3's and Cloud Storage's largest page)."""
MAX_RESCORE_PAGES: Final = 100
"""Listing pages one run reads at most, however few of their keys are objects to score."""
MAX_SCHEDULE_BODY_BYTES: Final = 64 * 1024
_KINDS: Final = ("schedule", "bucket")

logger = logging.getLogger("modelstack_runtime")


def handle_rescore(
    dataplane: DataPlane, event: Mapping[str, Any], *, config: EventsConfig, clients: Clients
) -> dict[str, Any]:
    """The EventBridge Scheduler input ``{"modelstack_rescore": {"source": name}}``."""
    name = str(event.get("modelstack_rescore", {}).get("source", ""))
    return rescore(dataplane, _source(config, name), clients=clients)


def rescore(dataplane: DataPlane, source: SourceConfig, *, clients: Clients) -> dict[str, Any]:
    """Score every object under the source's prefix; raise only after all were tried."""
    from modelstack_runtime.events.s3 import score_all  # loads onnxruntime

    if clients.objects is None:
        raise ConfigError("a schedule's rescore needs an object client")
    keys = listed_keys(clients.objects, source.bucket, source.prefix)
    answer = score_all(dataplane, [(source.bucket, k, source) for k in keys], clients=clients)
    return {"source": source.name, **answer}


def listed_keys(objects: Any, bucket: str, prefix: str) -> list[str]:
    """The readable keys under `prefix`, in bounded pages, at most MAX_RESCORE_OBJECTS."""
    keys: list[str] = []
    token: dict[str, str] = {}
    for _ in range(MAX_RESCORE_PAGES):
        page = objects.list_objects_v2(
            Bucket=bucket, Prefix=prefix, MaxKeys=RESCORE_PAGE_KEYS, **token
        )
        contents = page.get("Contents", [])[:RESCORE_PAGE_KEYS]
        keys.extend(o["Key"] for o in contents if str(o["Key"]).endswith(SUFFIXES))
        if len(keys) > MAX_RESCORE_OBJECTS or not page.get("IsTruncated"):
            break
        token = {"ContinuationToken": str(page["NextContinuationToken"])}
    else:
        logger.warning("rescoring what %d pages under %s held", MAX_RESCORE_PAGES, prefix)
    if len(keys) > MAX_RESCORE_OBJECTS:
        logger.warning("rescoring the first %d objects under %s only", MAX_RESCORE_OBJECTS, prefix)
    return keys[:MAX_RESCORE_OBJECTS]


def _source(config: EventsConfig, name: str) -> SourceConfig:
    source = config.named(name)
    if source is None or source.kind not in _KINDS or not source.bucket:
        known = [s.name for s in config.sources if s.kind == "schedule"] or "none"
        raise ModelNotFound(
            f"no schedule event source {name!r} here (configured in {EVENTS_CONFIG_ENV}: {known})"
        )
    return source


def _check_body(body: bytes) -> None:
    """Cloud Scheduler sends no body; a JSON object is accepted (and not needed)."""
    if len(body) > MAX_SCHEDULE_BODY_BYTES:
        raise PayloadTooLarge(
            f"a schedule's request is {len(body)} bytes; at most {MAX_SCHEDULE_BODY_BYTES}"
        )
    if not body.strip():
        return
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("a schedule's request body must be empty or a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadRequest("a schedule's request body must be empty or a JSON object")


def answer_schedule(
    dp: DataPlane, source_name: str, body: bytes, *, config: EventsConfig, clients: Clients
) -> tuple[HTTPStatus, bytes, dict[str, str]]:
    """Rescore the source's prefix; 200 when done, 4xx for a bad request, 5xx to retry."""
    source = _source(config, source_name)
    _check_body(body)
    try:
        answer = rescore(dp, source, clients=clients)
    except (OSError, ConfigError) as exc:
        raise InternalError(f"rescoring {source.name!r} failed: {exc}") from exc
    payload = json.dumps(answer, separators=(",", ":")).encode()
    return HTTPStatus.OK, payload, {"Content-Type": "application/json"}


def schedule_action(
    dp: DataPlane, params: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[HTTPStatus, bytes, dict[str, str]]:
    """``POST /_events/schedule/<source>``: one Cloud Scheduler run."""
    from modelstack_runtime.events.gcp_clients import gcp_clients

    try:
        config = EventsConfig.from_env()
    except ConfigError as exc:
        raise InternalError(str(exc)) from None
    clients = Clients(objects=gcp_clients().objects)
    return answer_schedule(dp, params["source"], body, config=config, clients=clients)
