"""The local target's events wiring against a real moto server (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelstack.errors import UsageError
from modelstack.events.queues import ENDPOINT_ENV
from modelstack.providers.local.events_wiring import LocalEvents
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EventsConfig


def wiring(
    raw: list[dict[str, Any]], tmp_path: Path, base: str, flavour: str = "lambda"
) -> LocalEvents:
    made = LocalEvents.of(
        raw, base=base, function_name="m.local", flavour=flavour, port=8080, state_dir=tmp_path
    )
    assert made is not None
    return made


@pytest.fixture
def endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENDPOINT_ENV, moto_endpoint)
    return moto_endpoint


def sources(bucket: str, *, create: bool) -> list[dict[str, Any]]:
    return [
        {"name": "orders", "queue": {"visibility_timeout_s": 7, "max_receive_count": 4},
         "output": {"queue": f"{bucket}-results"}},
        {"name": "catalog", "bucket": {"bucket": bucket, "prefix": "in/", "create": create},
         "output": {"bucket": bucket, "prefix": "out/"}},
    ]  # fmt: skip


def test_provision_makes_queues_buckets_and_results_queue(
    endpoint: str, aws: Clients, tmp_path: Path
) -> None:
    events = wiring(sources("wired-bucket", create=True), tmp_path, "wired")
    events.provision()
    events.provision()  # again: a no-op
    sqs: Any = aws.queues
    url = sqs.get_queue_url(QueueName="wired-orders")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "7"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 4 and redrive["deadLetterTargetArn"].endswith(
        ":wired-orders-dlq"
    )
    sqs.get_queue_url(QueueName="wired-bucket-results")
    objects: Any = aws.objects
    objects.head_bucket(Bucket="wired-bucket")

    env = events.container_environment()
    config = EventsConfig.from_env(env)
    assert config.report_errors
    assert config.for_queue(attributes["QueueArn"]).name == "orders"  # type: ignore[union-attr]
    assert config.for_object("wired-bucket", "in/a.jsonl").name == "catalog"  # type: ignore[union-attr]
    assert env["AWS_ENDPOINT_URL"] == endpoint


def test_a_missing_bucket_is_named_with_the_fix(endpoint: str, tmp_path: Path) -> None:
    events = wiring(sources("absent-bucket", create=False), tmp_path, "absent")
    with pytest.raises(UsageError) as caught:
        events.provision()
    message = str(caught.value)
    assert "'absent-bucket', which does not exist" in message
    assert "create: true" in message and "s3 mb s3://absent-bucket" in message


def test_stop_deletes_only_empty_queues_and_says_what_remains(
    endpoint: str, aws: Clients, tmp_path: Path
) -> None:
    events = wiring(sources("kept-bucket", create=True), tmp_path, "kept")
    events.provision()
    sqs: Any = aws.queues
    url = sqs.get_queue_url(QueueName="kept-orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"x": [1, 2, 3]}')
    report = events.describe()
    assert report["alive"] is False and report["queues"] == [
        {"source": "orders", "depth": 1, "in_flight": 0, "dead_lettered": 0}
    ]
    notes = events.stop()
    assert notes == [
        "queues kept because they hold messages: kept-orders (1 messages)",
        "buckets kept with their objects: kept-bucket",
    ]
    left = [
        u.rsplit("/", 1)[-1] for u in sqs.list_queues(QueueNamePrefix="kept").get("QueueUrls", [])
    ]
    assert left == ["kept-orders"]


def test_http_flavour_gets_the_pubsub_environment(tmp_path: Path) -> None:
    raw = [{"name": "orders", "queue": {}, "output": {"queue": "res"}}]
    env = wiring(raw, tmp_path, "web", flavour="http").container_environment()
    assert json.loads(env["MODELSTACK_EVENTS"])["sources"][0]["queue"].endswith(
        "/topics/web-orders"
    )
    assert "PUBSUB_EMULATOR_HOST" in env


def test_the_watch_interval_setting_is_checked(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSTACK_BUCKET_WATCH_S", "often")
    events = wiring(sources("w-bucket", create=True), tmp_path, "watch")
    with pytest.raises(UsageError, match="MODELSTACK_BUCKET_WATCH_S='often'"):
        events.start()


def test_no_events_no_wiring(tmp_path: Path) -> None:
    assert LocalEvents.of(None, base="b", function_name="f", flavour="lambda", port=1,
                          state_dir=tmp_path) is None  # fmt: skip


def test_status_lines_show_the_process_and_depths() -> None:
    from modelstack.providers.local.events_status import events_lines

    queue = {"source": "orders", "depth": 3, "in_flight": 1, "dead_lettered": 2}
    report = {"pid": 42, "alive": False, "log": "/x/events.log", "queues": [queue]}
    assert events_lines(report) == [
        "  events     process pid 42, not running (the next `up` starts it); log /x/events.log",
        "             orders: 3 waiting, 1 in flight, 2 dead-lettered",
    ]
    assert events_lines(None) == []


def test_start_makes_lost_queues_again_then_runs_the_process(
    endpoint: str, aws: Clients, tmp_path: Path
) -> None:
    from modelstack.providers.local.events_process import running

    events = wiring(sources("again-bucket", create=True), tmp_path, "again")
    events.provision()
    sqs: Any = aws.queues
    for name in ("again-orders", "again-orders-dlq"):  # the server lost them (a restart)
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    try:
        events.start()
        pid = running(tmp_path)
        assert pid is not None
        sqs.get_queue_url(QueueName="again-orders")
        log = (tmp_path / "events.log").read_text()
        assert f"pid {pid} started: queue orders #0, queue orders #1, bucket catalog" in log
    finally:
        assert events.stop()[0] == "the event process stopped"
