"""The local target's bucket notifications: what S3 sends a Lambda function, by listing.

S3-compatible servers such as moto keep no notification configuration that reaches a local
function, so the event process lists each bucket source's prefix on an interval
(`MODELSTACK_BUCKET_WATCH_S`, default 2 s) and invokes the function with a real S3 event
record (`ObjectCreated:Put`, the key URL-encoded as S3 encodes it) for each object it has not
seen: a key with an ETag not seen before, so an overwritten object is scored again. The seen
set is written atomically after every scored object, so a restarted process does not score
an object twice. A failed invocation leaves the object unseen; after `MAX_ATTEMPTS` failures
it is reported and marked seen, as S3's asynchronous invocation gives up after its retries.

Listing is bounded: `MAX_KEYS` keys a page and `MAX_PAGES` pages a scan; a larger prefix is
caught up over later scans (objects are listed in key order, new ones are scored first).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote_plus

from modelstack.atomic_write import write_atomically
from modelstack.events.spec import EventSource
from modelstack.providers.local.events_poller import Invoke

__all__ = [
    "DEFAULT_WATCH_S",
    "MAX_ATTEMPTS",
    "MAX_KEYS",
    "MAX_PAGES",
    "WATCH_ENV",
    "BucketWatcher",
    "SeenSet",
    "s3_event",
]

WATCH_ENV: Final = "MODELSTACK_BUCKET_WATCH_S"
DEFAULT_WATCH_S: Final = 2.0
MAX_KEYS: Final = 1000
MAX_PAGES: Final = 10
MAX_ATTEMPTS: Final = 3
MAX_SEEN: Final = 1_000_000
"""Objects one seen set remembers (past it the oldest are forgotten: a bound on its file)."""
MAX_SEEN_FILE_BYTES: Final = 256 * 1024 * 1024

logger = logging.getLogger("modelstack")


@dataclass
class SeenSet:
    """The (key, ETag) pairs already scored, kept in a JSON file beside the process's log."""

    path: Path
    entries: dict[str, str] = field(default_factory=dict)
    """ETag by key (insertion order = the order they were seen)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> SeenSet:
        """The set stored at `path`; an unreadable or oversize file starts a fresh set (and
        says so in the log), since a lost set only means objects are scored again."""
        try:
            if path.stat().st_size > MAX_SEEN_FILE_BYTES:
                raise ValueError(f"larger than {MAX_SEEN_FILE_BYTES} bytes")
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = raw["seen"]
            if not isinstance(entries, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
            ):
                raise ValueError("'seen' is not a mapping of key to ETag")
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s is unreadable (%s); every object counts as new", path, exc)
            return cls(path)
        return cls(path, dict(entries))

    def seen(self, key: str, etag: str) -> bool:
        with self._lock:
            return self.entries.get(key) == etag

    def add(self, key: str, etag: str) -> None:
        """Remember the object and write the set (atomically: old or new, never half)."""
        with self._lock:
            self.entries.pop(key, None)
            self.entries[key] = etag
            while len(self.entries) > MAX_SEEN:
                del self.entries[next(iter(self.entries))]
            data = json.dumps({"seen": self.entries}, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, data)


def s3_event(bucket: str, key: str, etag: str, size: int, region: str = "us-east-1") -> bytes:
    """One S3 `ObjectCreated:Put` notification record as S3 sends it to Lambda."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": now,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "modelstack-local",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag},
        },
    }
    return json.dumps({"Records": [record]}).encode()


class BucketWatcher:
    """Scores the new objects under one bucket source's prefix."""

    def __init__(self, s3: Any, source: EventSource, invoke: Invoke, seen: SeenSet) -> None:
        if source.bucket is None:
            raise ValueError(f"event source {source.name!r} is not a bucket source")
        self.s3 = s3
        self.source = source
        self.spec = source.bucket
        self.invoke = invoke
        self.seen = seen
        self.attempts: dict[tuple[str, str], int] = {}

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Scan every `interval_s` until `stop` is set."""
        while not stop.is_set():
            try:
                self.scan_once(stop)
            except Exception as exc:  # the server went away: try again next interval
                logger.warning("bucket %s: listing failed: %s", self.spec.bucket, exc)
            stop.wait(interval_s)

    def scan_once(self, stop: threading.Event | None = None) -> int:
        """Invoke the function for each new object; the number of objects scored."""
        scored = 0
        for key, etag, size in self._new_objects():
            if stop is not None and stop.is_set():
                break
            scored += self._score(key, etag, size)
        return scored

    def _new_objects(self) -> Iterator[tuple[str, str, int]]:
        output = self.source.output
        own_output = output.bucket == self.spec.bucket
        token: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            page = self.s3.list_objects_v2(
                Bucket=self.spec.bucket, Prefix=self.spec.prefix, MaxKeys=MAX_KEYS, **token
            )
            for item in page.get("Contents", []):
                key, etag = str(item["Key"]), str(item.get("ETag", ""))
                if not key.endswith(self.spec.suffix):
                    continue
                if own_output and output.prefix and key.startswith(output.prefix):
                    continue  # a result under the input prefix is not an input
                if not self.seen.seen(key, etag):
                    yield key, etag, int(item.get("Size", 0))
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": str(page["NextContinuationToken"])}

    def _score(self, key: str, etag: str, size: int) -> int:
        event = s3_event(self.spec.bucket, key, etag, size)
        try:
            reply, function_error = self.invoke(event)
        except Exception as exc:
            reply, function_error = f"{type(exc).__name__}: {exc}".encode(), True
        if function_error:
            tries = self.attempts.get((key, etag), 0) + 1
            self.attempts[(key, etag)] = tries
            text = reply[:1024].decode("utf-8", "replace")
            if tries < MAX_ATTEMPTS:
                logger.warning("s3://%s/%s failed (try %d): %s", self.spec.bucket, key, tries, text)
                return 0
            logger.error(
                "s3://%s/%s failed %d times and is given up: %s",
                self.spec.bucket,
                key,
                tries,
                text,
            )
        else:
            self._report_skipped(reply)
        self.attempts.pop((key, etag), None)
        self.seen.add(key, etag)
        return 0 if function_error else 1

    def _report_skipped(self, reply: bytes) -> None:
        try:
            answer = json.loads(reply)
            skipped = answer.get("skipped", []) if isinstance(answer, dict) else []
        except ValueError:
            return
        for item in skipped if isinstance(skipped, list) else []:
            if isinstance(item, dict):
                logger.warning(
                    "s3://%s/%s skipped: %s", item.get("bucket"), item.get("key"), item.get("error")
                )
