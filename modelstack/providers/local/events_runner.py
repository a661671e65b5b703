"""The event process of a local Lambda-flavour target (`python -m ... --config events.json`).

It runs, until SIGTERM: `max_concurrency` queue pollers per queue source (capped at
`MAX_POLLERS`), a bucket watcher per bucket source and one schedule clock, each in a thread,
all invoking the function through the router's Invoke API. Its log is the target's
`events.log`. The configuration is what `events_wiring` writes: the router's endpoint, the
function's name, the SQS/S3 server, the seen-set path and the manifest's `events:` list.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from modelstack.events.names import dlq_name, queue_name
from modelstack.events.spec import EventSource, parse_events
from modelstack.providers.local.bucket_watcher import BucketWatcher, SeenSet
from modelstack.providers.local.events_poller import PollerSettings, QueuePoller
from modelstack.providers.local.local_invoke import invoker
from modelstack.providers.local.router import _detach as detach
from modelstack.providers.local.schedule_clock import ScheduleClock

__all__ = ["MAX_POLLERS", "main"]

MAX_POLLERS: Final = 8
RETRY_S: Final = 2.0
REPORT_S: Final = 30.0
"""How often each poller writes what it did to the log."""

logger = logging.getLogger("modelstack")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelstack-events")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the process's pid here")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text(encoding="utf-8"))
    if args.pid_file is not None:
        detach(args.pid_file)  # before any thread starts: threads do not survive a fork
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=run, name=name) for name, run in _workers(config, stop)]
    for thread in threads:
        thread.start()
    logger.info("pid %d started: %s", os.getpid(), ", ".join(t.name for t in threads) or "-")
    sys.stdout.flush()
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    logger.info("pid %d stopped", os.getpid())
    return 0


def _workers(config: dict[str, Any], stop: threading.Event) -> list[tuple[str, Callable[[], None]]]:
    import boto3

    sources = parse_events(config["sources"])
    aws = {
        "region_name": config.get("region", "us-east-1"),
        "endpoint_url": config["aws_endpoint"],
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    invoke = invoker(config["endpoint"], config["function_name"])
    workers: list[tuple[str, Callable[[], None]]] = []
    for source in sources:
        if source.queue is not None:
            settings = _poller_settings(boto3.client("sqs", **aws), config["base"], source)
            for index in range(min(MAX_POLLERS, source.queue.max_concurrency)):
                poller = QueuePoller(boto3.client("sqs", **aws), settings, invoke)
                workers.append((f"queue {source.name} #{index}", _forever(poller, stop)))
        if source.bucket is not None:
            seen = SeenSet.load(Path(config["seen_dir"]) / f"{source.name}.seen.json")
            watcher = BucketWatcher(boto3.client("s3", **aws), source, invoke, seen)
            interval = float(config.get("watch_s", 2.0))
            workers.append((f"bucket {source.name}", _watching(watcher, stop, interval)))
    if any(s.schedule is not None for s in sources):
        clock = ScheduleClock(sources, invoke)
        workers.append(("schedules", lambda: clock.run(stop)))
    return workers


def _poller_settings(sqs: Any, base: str, source: EventSource) -> PollerSettings:
    assert source.queue is not None
    url = sqs.get_queue_url(QueueName=queue_name(base, source))["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=dlq_name(base, source))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return PollerSettings(
        queue_url=url,
        queue_arn=arn["QueueArn"],
        dlq_url=dlq,
        batch_size=source.queue.batch_size,
        max_batching_window_s=source.queue.max_batching_window_s,
        max_receive_count=source.queue.max_receive_count,
    )


def _watching(watcher: BucketWatcher, stop: threading.Event, interval: float) -> Callable[[], None]:
    return lambda: watcher.run(stop, interval)


def _forever(poller: QueuePoller, stop: threading.Event) -> Callable[[], None]:
    """Poll until stopped; a failure of the queue server is logged and retried."""

    def run() -> None:
        while not stop.is_set():
            try:
                result = poller.run(stop, max_s=REPORT_S)
                if result.received:
                    logger.info(
                        "queue %s: %d received, %d succeeded, %d failed, %d dead-lettered%s",
                        poller.settings.queue_url.rsplit("/", 1)[-1],
                        result.received,
                        result.succeeded,
                        result.failed,
                        result.dead_lettered,
                        f" ({result.errors[0]})" if result.errors else "",
                    )
            except Exception as exc:
                logger.warning("queue %s: %s", poller.settings.queue_url, exc)
                stop.wait(RETRY_S)

    return run


if __name__ == "__main__":
    sys.exit(main())
