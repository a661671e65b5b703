"""AWS-shaped events on the local target, end to end: `up` wires them, `destroy` unwires.

Real parts only: `modelstack up` runs the tiny model's Lambda-flavour image (two containers)
on the Docker engine, moto (`scripts/docker-services`, 127.0.0.1:5002) holds the queues and
the bucket, and the event process that `up` starts polls and watches them, invoking the
function through the router's Invoke API. One deployment serves the whole module.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import docker
import numpy as np
import pytest
from bundles import write_bundle

from modelstack.cli import main
from modelstack.events.queues import ENDPOINT_ENV, LOCAL_ENDPOINT
from modelstack.image.containers import free_port
from modelstack.providers.local.bucket_watcher import WATCH_ENV
from modelstack.providers.local.events_process import running

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
WAIT_S = 150.0
VISIBILITY_S = 4
RECEIVES = 2
EVENTS = """\
events:
  - name: orders
    queue: {{batch_size: 10, max_concurrency: 2, visibility_timeout_s: {visibility},
             max_receive_count: {receives}}}
    output: {{bucket: {bucket}, prefix: results/}}
  - name: catalog
    bucket: {{bucket: {bucket}, prefix: incoming/, suffix: .jsonl, create: true}}
    output: {{bucket: {bucket}, prefix: scored/}}
"""


@dataclass(frozen=True)
class Deployed:
    manifest: Path
    name: str
    bucket: str
    port: int
    state_dir: Path
    sqs: Any
    s3: Any

    def queue_url(self, suffix: str = "") -> str:
        name = f"{self.name}-local-orders{suffix}"
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def send(self, bodies: list[str]) -> dict[str, str]:
        """Message id -> body."""
        ids: dict[str, str] = {}
        url = self.queue_url()
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
            for ok in self.sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]:
                ids[ok["MessageId"]] = chunk[int(ok["Id"])]
        return ids

    def counts(self, suffix: str = "") -> tuple[int, int]:
        """(visible, in flight) messages of the source queue (or its DLQ); cheaper for moto
        than listing the results."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        got = self.sqs.get_queue_attributes(QueueUrl=self.queue_url(suffix), AttributeNames=names)
        return int(got["Attributes"][names[0]]), int(got["Attributes"][names[1]])

    def containers(self) -> list[Any]:
        client = docker.from_env()
        try:
            found = client.containers.list(filters={"label": "dev.modelstack.target"})
            return [c for c in found if c.name.startswith(f"modelstack-{self.name}-local-")]
        finally:
            client.close()


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(100):
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not got:
            break
        found.extend(got)
    return found


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    name = f"edev{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-bucket"
    port = free_port()
    manifest = write_bundle(
        tmp_path_factory.mktemp("events") / name, name=name, port=port, flavour="lambda", replicas=2
    )
    events = EVENTS.format(visibility=VISIBILITY_S, receives=RECEIVES, bucket=bucket)
    manifest.write_text(manifest.read_text() + events)
    saved = os.environ.get(WATCH_ENV)
    os.environ[WATCH_ENV] = "0.5"
    aws = {"endpoint_url": os.environ.get(ENDPOINT_ENV, LOCAL_ENDPOINT), "region_name": "us-east-1",
           "aws_access_key_id": "local", "aws_secret_access_key": "local"}  # fmt: skip
    try:
        assert main(["up", str(manifest), "--target", "local", *BUILD_FLAGS]) == 0
        yield Deployed(
            manifest,
            name,
            bucket,
            port,
            manifest.parent / ".modelstack" / "local" / "local",
            boto3.client("sqs", **aws),
            boto3.client("s3", **aws),
        )
    finally:
        main(["destroy", str(manifest), "--target", "local", "--yes"])
        if saved is None:
            os.environ.pop(WATCH_ENV, None)
        else:
            os.environ[WATCH_ENV] = saved


def row(i: int) -> list[float]:
    return [float(i % 3 == 0) * 3, float(i % 3 == 1) * 3, float(i % 3 == 2) * 3, 0.5]


def test_up_makes_the_queues_the_bucket_and_one_event_process(deployed: Deployed) -> None:
    attributes = deployed.sqs.get_queue_attributes(
        QueueUrl=deployed.queue_url(), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == str(VISIBILITY_S)
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == RECEIVES
    assert redrive["deadLetterTargetArn"].endswith(f"{deployed.name}-local-orders-dlq")
    deployed.s3.head_bucket(Bucket=deployed.bucket)  # `create: true` made it
    pid = running(deployed.state_dir)
    assert pid is not None and os.getsid(pid) == pid  # detached: it outlived `up`
    assert f"pid {pid} started" in (deployed.state_dir / "events.log").read_text()


def test_a_thousand_messages_with_one_percent_poison(deployed: Deployed) -> None:
    poison = json.dumps({"features": [1.0, 2.0]})  # valid JSON, not the model's input
    bodies = [poison if i % 100 == 42 else json.dumps({"features": row(i)}) for i in range(1000)]
    ids = deployed.send(bodies)
    assert len(ids) == 1000
    good = {mid for mid, body in ids.items() if body != poison}
    assert len(good) == 990
    dlq = deployed.queue_url("-dlq")
    wait_for(lambda: deployed.counts() == (0, 0) and deployed.counts("-dlq")[0] >= 10, "all")
    time.sleep(VISIBILITY_S + 1)  # a message scored twice or dead-lettered late shows by now
    keys = deployed.keys("results/")
    assert sorted(keys) == sorted(f"results/{mid}.json" for mid in good)  # one each, no more
    dead = drain(deployed.sqs, dlq)
    assert [m["Body"] for m in dead] == [poison] * 10
    for message in dead:
        error = message["MessageAttributes"]["error"]["StringValue"]
        assert "features" in error and "400" in error
    sample = sorted(good)[:5]
    for mid in sample:
        result = json.loads(
            deployed.s3.get_object(Bucket=deployed.bucket, Key=f"results/{mid}.json")["Body"].read()
        )
        features = json.loads(ids[mid])["features"]
        label = {o["name"]: o["data"] for o in result["outputs"]}["label"]
        assert label == [int(np.argmax(features[:3]))]
    assert drain(deployed.sqs, deployed.queue_url()) == []  # nothing left, nothing lost
    deployed.sqs.purge_queue(QueueUrl=dlq)  # looked at: the later tests start from empty


def test_a_worker_killed_mid_batch_loses_nothing(deployed: Deployed) -> None:
    before = set(deployed.keys("results/"))  # the earlier tests' results
    ids = deployed.send([json.dumps({"features": row(i)}) for i in range(200)])
    wait_for(lambda: deployed.counts()[1] > 0, "a batch in flight", 60)
    containers = deployed.containers()
    assert len(containers) == 2  # two pollers keep both busy: the killed one holds a batch
    killed = containers[0]
    killed.reload()
    os.kill(int(killed.attrs["State"]["Pid"]), signal.SIGKILL)
    want = {f"results/{mid}.json" for mid in ids}
    wait_for(lambda: deployed.counts() == (0, 0), "every message scored")
    time.sleep(VISIBILITY_S + 1)
    dead = drain(deployed.sqs, deployed.queue_url("-dlq"))
    assert [(m["Body"], m.get("MessageAttributes")) for m in dead] == []
    assert set(deployed.keys("results/")) - before == want  # none twice, none extra
    killed.reload()  # the engine's restart policy brought it back
    assert killed.status == "running" and killed.attrs["RestartCount"] >= 1


def test_fifty_objects_through_the_bucket_watcher(deployed: Deployed) -> None:
    rng = np.random.default_rng(7)
    expected: dict[str, list[int]] = {}
    for index in range(50):
        key = f"incoming/part-{index:02d} x.jsonl"  # a space: the record encodes the key
        if index == 17:
            deployed.s3.put_object(Bucket=deployed.bucket, Key=key, Body=b'{"features": [1]}\n')
            continue
        rows = rng.random((1000, 4)).astype(np.float32)
        body = "".join(json.dumps({"features": r.tolist()}) + "\n" for r in rows)
        deployed.s3.put_object(Bucket=deployed.bucket, Key=key, Body=body.encode())
        expected[key] = [int(i) for i in np.argmax(rows[:, :3], axis=1)]
    want = {"scored/" + k.removeprefix("incoming/") for k in expected}
    wait_for(lambda: want <= set(deployed.keys("scored/")), "49 objects scored")
    assert set(deployed.keys("scored/")) == want  # the malformed one has no result
    for key, labels in expected.items():
        out = "scored/" + key.removeprefix("incoming/")
        body = deployed.s3.get_object(Bucket=deployed.bucket, Key=out)["Body"].read()
        results = [json.loads(line) for line in body.splitlines()]
        assert [r["id"] for r in results] == [f"{key}#{i}" for i in range(1000)]
        assert [{o["name"]: o["data"] for o in r["outputs"]}["label"][0] for r in results] == labels
    log = (deployed.state_dir / "events.log").read_text()
    assert "incoming/part-17 x.jsonl skipped" in log


def test_up_again_reuses_the_process_then_status_and_destroy(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = running(deployed.state_dir)
    containers = sorted(c.id for c in deployed.containers())
    assert main(["up", str(deployed.manifest), "--target", "local", *BUILD_FLAGS]) == 0
    assert running(deployed.state_dir) == pid
    assert sorted(c.id for c in deployed.containers()) == containers  # nothing redeployed
    capsys.readouterr()
    assert main(["status", str(deployed.manifest), "--target", "local", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["events"]
    assert report["pid"] == pid and report["alive"] is True
    assert report["queues"] == [
        {"source": "orders", "depth": 0, "in_flight": 0, "dead_lettered": 0}
    ]
    deployed.send([json.dumps({"features": [1.0, 2.0]})])  # poison: never deleted by scoring
    assert main(["destroy", str(deployed.manifest), "--target", "local", "--yes"]) == 0
    err = capsys.readouterr().err
    assert running(deployed.state_dir) is None
    assert "the event process stopped" in err
    assert f"{deployed.name}-local-orders (1 messages)" in err
    assert f"buckets kept with their objects: {deployed.bucket}" in err
    dlq = f"{deployed.name}-local-orders-dlq"
    listed = deployed.sqs.list_queues(QueueNamePrefix=deployed.name).get("QueueUrls", [])
    names = [url.rsplit("/", 1)[-1] for url in listed]
    assert names == [f"{deployed.name}-local-orders"] and dlq not in names  # the empty DLQ went
