"""The `modelstack events` subcommand's arguments."""

from __future__ import annotations

import argparse

__all__ = ["events_parser"]


def events_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "events",
        help="queue depth, in-flight and dead-lettered counts of the event sources; send, "
        "tail and redrive",
        description="Without an action: each queue source's depth, in-flight and "
        "dead-lettered counts. --send FILE sends a .jsonl of requests to a queue source (or "
        "uploads FILE under a bucket source's prefix), --tail N shows the newest results, "
        "--redrive moves dead-lettered messages back to their queue, --trigger fires a "
        "schedule source of a local target now. The local target uses "
        "the SQS/S3 server at MODELSTACK_EVENTS_ENDPOINT (default http://127.0.0.1:5002).",
        epilog="exit codes: 0 ok, 2 usage error, 3 the queues could not be reached",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", help="target name (default: the only target)")
    p.add_argument("--source", help="event source name (default: the only source)")
    p.add_argument("--send", metavar="FILE", help="send FILE's lines (or upload FILE)")
    p.add_argument("--tail", type=int, metavar="N", help="show the newest N results (1-100)")
    p.add_argument("--redrive", action="store_true", help="move dead-lettered messages back")
    p.add_argument(
        "--trigger", action="store_true", help="fire a schedule source now (local target)"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
