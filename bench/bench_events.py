"""Benchmark of the event paths: SQS batches against one invocation per message, and bucket
rows against raw ``session.run`` and a hand-written job over the same rows.

In one run, on loopback only, against moto's SQS/S3 server in its own process on a free
127.0.0.1 port (as the cloud's services are not in the function's process):

* messages/s through the local SQS path (the local poller, the Lambda handler called
  in-process, the tiny ``y = x @ W`` test model) with ``batch_size`` 10 against
  ``batch_size`` 1 (one invocation per message), same handler, same queue settings, for a
  bucket output (one PUT per message, concurrent in a batch) and a results queue
  (``SendMessageBatch``), the source queue kept ``SOURCE_DEPTH`` messages deep. The handler
  runs in this process, not in the Lambda-flavour container: the figures compare batching,
  not container start-up;
* rows/s of a ``.jsonl`` object (and of the same rows as one ``.npz``) through the S3
  adapter's whole path (get the object, parse,
  score ``rows_per_batch`` rows a call, encode one result per row, put one object) against
  (a) raw ``session.run`` over the same rows already in arrays, in the same batches, and
  (b) a hand-written job doing the same work with boto3, numpy and ``session.run``, for the
  digits-mlp example model (FP32 [-1, 64] -> two 1024-unit layers -> label and 10
  probabilities) and the tiny test model. Each figure is the median of ``--rounds`` rounds.

Usage: ``python bench/bench_events.py [--messages N] [--rows N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
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

DIGITS = REPO / "examples" / "digits-mlp" / "model.onnx"
BUCKET = "bench-results"
ROWS_PER_BATCH = 256


def dataplane(tmp: Path, name: str) -> DataPlane:
    """The test model (`scaled`) or a copy of the digits-mlp example model (`digits`)."""
    folder = tmp / name
    folder.mkdir()
    if name == "digits":
        shutil.copyfile(DIGITS, folder / "model.onnx")
    else:
        import onnx

        onnx.save(scaled_model(), str(folder / "model.onnx"))
    config = {"model_name": name, "model_version": "1", "model_path": "model.onnx"}
    (folder / "runtime.json").write_text(json.dumps(config))
    return load_dataplane(load_config(folder / "runtime.json"))


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process on a free loopback port, once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            opener.open(f"{endpoint}/moto-api/", timeout=1).close()
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto's server did not start within 30 s")


SOURCE_DEPTH = 10
"""Messages kept waiting in the source queue while the poller runs (topped up between its
batches, outside the timing; the results queue is emptied there too, as its consumer would).
moto walks every message of a queue for each message it receives or sends (its queue
attributes, measured: a SendMessageBatch of 10 costs 14 ms into an empty queue, 81 ms into one
holding 350), a cost real SQS does not have and that would hide what batching saves."""


def drain(sqs: Any, url: str, max_calls: int = 100) -> None:
    """Receive and delete what `url` holds, at most `max_calls` receives."""
    for _ in range(max_calls):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def queue_run(
    dp: DataPlane, aws: Clients, batch_size: int, messages: int, run: str, output: str
) -> float:
    """Messages/s through the poller and handler, results to a bucket or a results queue."""
    sqs: Any = aws.queues
    name = f"bench-{run}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    body = json.dumps({"x": [1.0, 2.0, 3.0]})
    results = None
    if output == "queue":
        results = sqs.create_queue(QueueName=f"{name}-out")["QueueUrl"]
        target = {"queue_url": results}
    else:
        target = {"bucket": BUCKET, "prefix": f"{name}/"}
    source = {"name": "bench", "kind": "queue", "queue": arn, "output": target}
    config = EventsConfig.from_dict({"sources": [source]})
    handler = LambdaAdapter(dp)

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        answer = handle_batch_event(
            handler.dataplane, json.loads(payload), config=config, clients=aws
        )
        return json.dumps(answer).encode(), False

    poller = QueuePoller(sqs, PollerSettings(url, arn, dlq, batch_size=batch_size), invoke)
    started = time.perf_counter()
    done = sent = 0
    polling = 0.0
    while done < messages and time.perf_counter() - started < 600:
        while sent - done < SOURCE_DEPTH and sent < messages:  # top up, outside the timing
            entries = [{"Id": str(i), "MessageBody": body} for i in range(min(10, messages - sent))]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            sent += len(entries)
        if results is not None:  # a consumer keeps the results queue short, as in production
            drain(sqs, results)
        began = time.perf_counter()
        done += poller.run(threading.Event(), max_batches=1, max_s=30).succeeded
        polling += time.perf_counter() - began
    return done / polling


def handler_run(
    dp: DataPlane, aws: Clients, batch_size: int, messages: int, output: str
) -> tuple[float, float]:
    """Messages/s of the handler alone (SQS events of `batch_size` records, no poller), and
    messages per CPU second of this process (the function's own cost, moto's left out)."""
    sqs: Any = aws.queues
    arn = "arn:aws:sqs:us-east-1:123456789012:bench-handler"
    results = None
    if output == "queue":
        results = sqs.create_queue(QueueName=f"bench-handler-{batch_size}-out")["QueueUrl"]
        target = {"queue_url": results}
    else:
        target = {"bucket": BUCKET, "prefix": f"handler-{batch_size}/"}
    source = {"name": "bench", "kind": "queue", "queue": arn, "output": target}
    config = EventsConfig.from_dict({"sources": [source]})
    body = json.dumps({"x": [1.0, 2.0, 3.0]})
    record = {"body": body, "eventSource": "aws:sqs", "eventSourceARN": arn}
    events = [
        {
            "Records": [
                {"messageId": f"m-{start + i}", **record}
                for i in range(min(batch_size, messages - start))
            ]
        }
        for start in range(0, messages, batch_size)
    ]
    wall = cpu = 0.0
    for event in events:
        if results is not None:  # keep it short (see SOURCE_DEPTH)
            drain(sqs, results)
        began, began_cpu = time.perf_counter(), time.process_time()
        answer = handle_batch_event(dp, event, config=config, clients=aws)
        wall += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        assert not answer["batchItemFailures"], answer
    return messages / wall, messages / cpu


def row_data(name: str, rows: int) -> tuple[str, np.ndarray, bytes]:
    """The input's name, its rows, and the same rows as a `.jsonl` object."""
    rng = np.random.default_rng(0)
    if name == "digits":  # pixel intensities 0-16, scaled as the model was trained
        x = (rng.integers(0, 17, (rows, 64)) / 16.0).astype(np.float32)
        input_name = "pixels"
    else:
        x = rng.random((rows, 3), dtype=np.float32)
        input_name = "x"
    data = "".join(json.dumps({input_name: r}) + "\n" for r in x.tolist()).encode()
    return input_name, x, data


def hand_written(s3: Any, session: Any, key: str, out_key: str, input_name: str) -> None:
    """The job a user would write: boto3, json, numpy and session.run, the same results."""
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    records = [json.loads(line) for line in body.splitlines() if line.strip()]
    x = np.array([record[input_name] for record in records], dtype=np.float32)
    names = [output.name for output in session.get_outputs()]
    types = {"float32": "FP32", "int64": "INT64"}
    lines = []
    for start in range(0, len(x), ROWS_PER_BATCH):
        outputs = session.run(None, {input_name: x[start : start + ROWS_PER_BATCH]})
        for i in range(len(outputs[0])):
            entries = [
                {
                    "name": n,
                    "datatype": types[str(o.dtype)],
                    "shape": [1, *o.shape[1:]],
                    "data": o[i : i + 1].ravel().tolist(),
                }
                for n, o in zip(names, outputs, strict=True)
            ]
            result = {"model_name": "m", "model_version": "1", "id": f"{key}#{start + i}"}
            lines.append(json.dumps({**result, "outputs": entries}, separators=(",", ":")))
    s3.put_object(Bucket=BUCKET, Key=out_key, Body=("\n".join(lines) + "\n").encode())


def rows_run(dp: DataPlane, aws: Clients, rows: int, rounds: int) -> dict[str, float]:
    """Rows/s of the adapter, raw session.run and the hand-written job (medians)."""
    objects: Any = aws.objects
    model = dp.model
    assert model is not None
    input_name, x, data = row_data(model.name, rows)
    key = f"in/{model.name}.jsonl"
    objects.put_object(Bucket=BUCKET, Key=key, Body=data)
    source = {
        "name": "rows",
        "kind": "bucket",
        "bucket": BUCKET,
        "prefix": "in/",
        "rows_per_batch": ROWS_PER_BATCH,
        "output": {"bucket": BUCKET, "prefix": "out/"},
    }
    config = EventsConfig.from_dict({"sources": [source]})
    packed = io.BytesIO()
    np.savez(packed, **{input_name: x})  # type: ignore[arg-type]
    npz_key = f"in/{model.name}.npz"
    objects.put_object(Bucket=BUCKET, Key=npz_key, Body=packed.getvalue())

    def event(object_key: str) -> dict[str, Any]:
        s3 = {"bucket": {"name": BUCKET}, "object": {"key": object_key}}
        return {"Records": [{"eventSource": "aws:s3", "s3": s3}]}

    def adapter() -> None:
        handle_batch_event(dp, event(key), config=config, clients=aws)

    def adapter_npz() -> None:
        handle_batch_event(dp, event(npz_key), config=config, clients=aws)

    def raw() -> None:
        for start in range(0, rows, ROWS_PER_BATCH):
            model.session.run(None, {input_name: x[start : start + ROWS_PER_BATCH]})

    def job() -> None:
        hand_written(objects, model.session, key, f"job/{model.name}.jsonl", input_name)

    runs: dict[str, Callable[[], None]] = {
        "adapter": adapter,
        "adapter_npz": adapter_npz,
        "raw": raw,
        "job": job,
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):  # interleaved, so a busy moment costs each path alike
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: rows / statistics.median(spent) for name, spent in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("modelstack_runtime").setLevel(logging.ERROR)
    process, endpoint = moto_process()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    import boto3

    aws = Clients(objects=boto3.client("s3"), queues=boto3.client("sqs"))
    aws.objects.create_bucket(Bucket=BUCKET)  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tiny = dataplane(Path(tmp), "scaled")
            queue: dict[tuple[str, str, int], float] = {}
            for output in ("bucket", "queue"):
                for size in (1, 10):
                    run = f"{output}-{size}"
                    rate = queue_run(tiny, aws, size, args.messages, run, output)
                    queue["poller", output, size] = rate
                    rate, per_cpu = handler_run(tiny, aws, size, args.messages, output)
                    queue["handler", output, size] = rate
                    queue["handler CPU", output, size] = per_cpu
            buckets = {
                name: rows_run(dp, aws, args.rows, args.rounds)
                for name, dp in (("digits", dataplane(Path(tmp), "digits")), ("scaled", tiny))
            }
    finally:
        process.terminate()
        process.wait(timeout=10)
    print_table(queue, buckets, args)
    return 0


def print_table(
    queue: dict[tuple[str, str, int], float],
    buckets: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> None:
    print(f"{args.messages} messages per queue run; {args.rows} rows, {args.rounds} rounds")
    print()
    print(f"| {'path':<66} | {'per second':>12} | {'ratio':>7} |")
    print(f"|{'-' * 68}|{'-' * 14}|{'-' * 9}|")
    for path in ("poller", "handler", "handler CPU"):
        for output, label in (("bucket", "bucket output"), ("queue", "results queue")):
            single, batched = queue[path, output, 1], queue[path, output, 10]
            what = "msgs per CPU s" if path == "handler CPU" else f"msgs/s via {path}"
            print(f"| {f'SQS {what}, 1 per invocation, {label} (baseline)':<66} | "
                  f"{single:>12.1f} | {1.0:>7.2f} |")  # fmt: skip
            print(f"| {f'SQS {what}, batches of 10, {label}':<66} | "
                  f"{batched:>12.1f} | {batched / single:>7.2f} |")  # fmt: skip
    for name, rates in buckets.items():
        raw, job, adapter = rates["raw"], rates["job"], rates["adapter"]
        print(f"| {f'{name}: rows, raw session.run in arrays (baseline a)':<66} | "
              f"{raw:>12.0f} | {1.0:>7.3f} |")  # fmt: skip
        print(f"| {f'{name}: rows, hand-written boto3+numpy job (baseline b)':<66} | "
              f"{job:>12.0f} | {job / raw:>7.3f} |")  # fmt: skip
        print(f"| {f'{name}: rows, S3 adapter, whole path, vs a':<66} | "
              f"{adapter:>12.0f} | {adapter / raw:>7.3f} |")  # fmt: skip
        print(f"| {f'{name}: rows, S3 adapter, whole path, vs b':<66} | "
              f"{adapter:>12.0f} | {adapter / job:>7.3f} |")  # fmt: skip
        npz = rates["adapter_npz"]
        print(f"| {f'{name}: rows, S3 adapter, whole path, one .npz object, vs a':<66} | "
              f"{npz:>12.0f} | {npz / raw:>7.3f} |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
