"""The Cloud Storage JSON API client against a fake of that API on loopback (the cloud itself
cannot be reached from tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelstack_runtime.errors import PayloadTooLarge
from modelstack_runtime.events.gcp_clients import GcsObjects, gcp_clients
from modelstack_runtime.events.rows import RowLimits
from modelstack_runtime.events.s3 import read_object
from tests.events.gcp.fake_gcs import FakeGcs, running_fake_gcs


@pytest.fixture
def gcs() -> Iterator[str]:
    with running_fake_gcs() as address:
        yield address


def test_results_are_created_once_and_read_back(gcs: str) -> None:
    client = GcsObjects(gcs)
    assert not client.exists(bucket="out", key="scored/1.json")
    assert client.put_object(Bucket="out", Key="scored/1.json", Body=b"a", ContentType="x")
    assert not client.put_object(Bucket="out", Key="scored/1.json", Body=b"b", ContentType="x")
    assert client.exists(bucket="out", key="scored/1.json")
    assert FakeGcs.objects[("out", "scored/1.json")] == b"a"
    limits = RowLimits(max_object_bytes=10, max_rows=10)
    assert read_object(client, "out", "scored/1.json", limits=limits) == b"a"


def test_an_oversize_object_is_refused_from_its_metadata_before_its_body_is_read(gcs: str) -> None:
    FakeGcs.objects[("in", "incoming/big.jsonl")] = b"x" * 100
    with pytest.raises(PayloadTooLarge):
        read_object(GcsObjects(gcs), "in", "incoming/big.jsonl", limits=RowLimits(10, 10))
    assert FakeGcs.media_reads == []


def test_the_environment_picks_the_storage_host(gcs: str) -> None:
    clients = gcp_clients({"STORAGE_EMULATOR_HOST": gcs})
    assert isinstance(clients.objects, GcsObjects)
    assert clients.objects.base == f"http://{gcs}"
    assert not clients.objects.authorised
