"""`modelstack events` against a real moto server standing in for the local target's SQS/S3."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from modelstack.cli import main
from modelstack.events.queues import ENDPOINT_ENV

UNIQUE = itertools.count()
MANIFEST = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: iris, version: 1.0.0}
model:
  path: model.onnx
  sha256: 9ea86fb53c2fa87900721eff8c341756ac782f5377a38b6e6e3f9fe2cc194f89
targets:
  dev: {provider: local}
events:
  - name: orders-NAME
    queue: {batch_size: 10}
    output: {queue: results-NAME}
  - name: catalog
    bucket: {bucket: BUCKET, prefix: incoming/}
    output: {bucket: BUCKET, prefix: scored/}
"""


@pytest.fixture
def manifest(
    tmp_path: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv(ENDPOINT_ENV, moto_endpoint)
    suffix = f"q{next(UNIQUE)}"  # each test its own queues and bucket on the shared server
    path = tmp_path / "modelstack.yaml"
    path.write_text(
        MANIFEST.replace("NAME", suffix).replace("BUCKET", f"cmd-{suffix}"), encoding="utf-8"
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["events", *argv])
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, out, err


def orders(manifest: Path) -> str:
    return next(
        line.split(": ")[1].strip()
        for line in manifest.read_text().splitlines()
        if "orders-" in line
    )


def test_send_count_tail_and_redrive(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"x": [i, 0, 1]}) + "\n" for i in range(25)))
    name = orders(manifest)
    code, out, _ = run(
        capsys, str(manifest), "--source", name, "--send", str(requests), "--format", "json"
    )
    assert (code, out) == (0, {"source": name, "sent": 25})
    code, out, _ = run(capsys, str(manifest), "--format", "json")
    assert code == 0
    assert out["queues"] == [
        {
            "source": name,
            "queue": f"iris-dev-{name}",
            "depth": 25,
            "in_flight": 0,
            "dead_lettered": 0,
        }
    ]
    import boto3

    endpoint = os.environ[ENDPOINT_ENV]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    dlq = sqs.get_queue_url(QueueName=f"iris-dev-{name}-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"x": [9, 9, 9]}')
    code, out, _ = run(capsys, str(manifest), "--source", name, "--redrive", "--format", "json")
    assert (code, out) == (0, {"source": name, "redriven": 1})
    code, out, _ = run(capsys, str(manifest), "--format", "json")
    assert (out["queues"][0]["depth"], out["queues"][0]["dead_lettered"]) == (26, 0)
    code, text, _ = run(capsys, str(manifest))
    assert code == 0 and f"iris-dev-{name}" in text and "in-flight" in text


def test_send_uploads_under_a_bucket_prefix_and_tail_lists_results(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "day1.jsonl"
    rows.write_text('{"x": [1, 2, 3]}\n')
    code, out, _ = run(
        capsys, str(manifest), "--source", "catalog", "--send", str(rows), "--format", "json"
    )
    assert (code, out) == (0, {"source": "catalog", "key": "incoming/day1.jsonl"})
    code, out, _ = run(
        capsys, str(manifest), "--source", "catalog", "--tail", "5", "--format", "json"
    )
    assert (code, out) == (0, {"source": "catalog", "results": []})


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--tail", "0"], "--tail takes 1-100"),
        (["--source", "nope", "--tail", "1"], "no event source named 'nope'"),
        (["--tail", "1"], "pick one with --source"),
        (["--source", "catalog", "--redrive"], "is a bucket, not a queue"),
        (["--redrive", "--tail", "1"], "each run alone"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    manifest: Path, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(manifest), *argv)
    assert code == 2 and says in err


def test_a_bad_send_file_names_the_line(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": [1, 2, 3]}\n[1, 2]\n')
    code, _, err = run(capsys, str(manifest), "--source", orders(manifest), "--send", str(bad))
    assert code == 2 and f"{bad}:2: not a JSON object" in err
