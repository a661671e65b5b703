"""Benchmark of the event paths: SQS batches against one invocation per message, and bucket
rows against raw ``session.run`` over the same rows.

In one run, on loopback only:

* messages/s through the local SQS path (moto's server on a free 127.0.0.1 port, the local
  poller, the Lambda handler called in-process, results written to a moto bucket) with
  ``batch_size`` 10 against ``batch_size`` 1 (one invocation per message), same handler, same
  queue settings. The handler runs in this process, not in the Lambda-flavour container:
  the figures compare batching, not container start-up;
* rows/s of a ``.jsonl`` object scored by the S3 adapter (read, score in ``rows_per_batch``
  rows, write one result per row) against raw ``session.run`` over the same rows in the same
  batches.

Usage: ``python bench/bench_events.py [--messages N] [--rows N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "events"))

from event_model import scaled_model  # noqa: E402

from modelstack.providers.local.events_poller import PollerSettings, QueuePoller  # noqa: E402
from modelstack_runtime import load_config  # noqa: E402
from modelstack_runtime.dataplane import DataPlane, load_dataplane  # noqa: E402
from modelstack_runtime.events import handle_batch_event  # noqa: E402
from modelstack_runtime.events.clients import Clients  # noqa: E402
from modelstack_runtime.events.config import EventsConfig  # noqa: E402
from modelstack_runtime.lambda_handler import LambdaAdapter  # noqa: E402


def dataplane(tmp: Path) -> DataPlane:
    import onnx

    onnx.save(scaled_model(), str(tmp / "model.onnx"))
    config = {"model_name": "scaled", "model_version": "1", "model_path": "model.onnx"}
    (tmp / "runtime.json").write_text(json.dumps(config))
    return load_dataplane(load_config(tmp / "runtime.json"))


def queue_run(dp: DataPlane, aws: Clients, batch_size: int, messages: int, run: int) -> float:
    sqs: Any = aws.queues
    name = f"bench-{batch_size}-{run}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    body = json.dumps({"x": [1.0, 2.0, 3.0]})
    for start in range(0, messages, 10):
        entries = [{"Id": str(i), "MessageBody": body} for i in range(min(10, messages - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    config = EventsConfig.from_dict(
        {
            "sources": [
                {
                    "name": "bench",
                    "kind": "queue",
                    "queue": arn,
                    "output": {"bucket": "bench-results", "prefix": f"{name}/"},
                }
            ]
        }
    )
    handler = LambdaAdapter(dp)

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        answer = handle_batch_event(
            handler.dataplane, json.loads(payload), config=config, clients=aws
        )
        return json.dumps(answer).encode(), False

    poller = QueuePoller(sqs, PollerSettings(url, arn, dlq, batch_size=batch_size), invoke)
    started = time.perf_counter()
    done = 0
    while done < messages and time.perf_counter() - started < 600:
        done += poller.run(threading.Event(), max_batches=1, max_s=30).succeeded
    return done / (time.perf_counter() - started)


def rows_run(dp: DataPlane, aws: Clients, rows: int, rows_per_batch: int) -> tuple[float, float]:
    objects: Any = aws.objects
    x = np.random.default_rng(0).random((rows, 3), dtype=np.float32)
    data = "".join(json.dumps({"x": r.tolist()}) + "\n" for r in x).encode()
    objects.put_object(Bucket="bench-results", Key="in/rows.jsonl", Body=data)
    config = EventsConfig.from_dict(
        {
            "sources": [
                {
                    "name": "rows",
                    "kind": "bucket",
                    "bucket": "bench-results",
                    "prefix": "in/",
                    "rows_per_batch": rows_per_batch,
                    "output": {"bucket": "bench-results", "prefix": "out/"},
                }
            ]
        }
    )
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "s3": {"bucket": {"name": "bench-results"}, "object": {"key": "in/rows.jsonl"}},
            }
        ]
    }
    started = time.perf_counter()
    handle_batch_event(dp, event, config=config, clients=aws)
    adapter = rows / (time.perf_counter() - started)
    model = dp.model
    assert model is not None
    started = time.perf_counter()
    for start in range(0, rows, rows_per_batch):
        model.session.run(None, {"x": x[start : start + rows_per_batch]})
    raw = rows / (time.perf_counter() - started)
    return adapter, raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    logging.getLogger("modelstack_runtime").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    import boto3

    aws = Clients(objects=boto3.client("s3"), queues=boto3.client("sqs"))
    aws.objects.create_bucket(Bucket="bench-results")  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dp = dataplane(Path(tmp))
            single = queue_run(dp, aws, 1, args.messages, 0)
            batched = queue_run(dp, aws, 10, args.messages, 1)
            adapter, raw = rows_run(dp, aws, args.rows, 256)
    finally:
        server.stop()
    print(f"{'path':<44} {'per second':>12} {'ratio':>8}")
    print(f"{'SQS, one invocation per message (baseline)':<44} {single:>12.1f} {1.0:>8.2f}")
    print(f"{'SQS, batches of 10':<44} {batched:>12.1f} {batched / single:>8.2f}")
    print(f"{'raw session.run, 256 rows a call (baseline)':<44} {raw:>12.0f} {1.0:>8.2f}")
    label = "S3 adapter, .jsonl object, 256 rows a batch"
    print(f"{label:<44} {adapter:>12.0f} {adapter / raw:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
