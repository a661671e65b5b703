"""Lint rules MS930-MS939: the clouds' limits on event sources, each reported once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.lint import Diagnostic
from modelstack.lint.engine import LintOptions, lint_source
from modelstack.manifest.source import parse_source

HEAD = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: tiny, version: 1.0.0}
model:
  path: model.onnx
  sha256: f0b3d4135ae9f16fa368eebdd648411a115e5540aeb33856d09688f2d7714e1a
targets:
  prod:
    provider: aws-lambda
    region: eu-west-1
    timeout_s: 30
"""
CLOUD_RUN = HEAD.replace(
    "provider: aws-lambda\n    region: eu-west-1\n    timeout_s: 30",
    "provider: gcp-cloud-run\n    project: my-project-1\n    region: us-central1",
)


def lint_text(text: str) -> list[Diagnostic]:
    options = LintOptions(ignore=("MS101",), model_checks=False)
    return lint_source(parse_source(text, "/nonexistent-bundle/modelstack.yaml"), options)


def queue(fields: str, output: str = "{queue: results}", name: str = "orders") -> str:
    return f"  - name: {name}\n    queue: {{{fields}}}\n    output: {output}\n"


def found(text: str) -> list[tuple[str, str, int]]:
    return [(d.rule_id, d.path, d.line) for d in lint_text(text)]


def test_a_valid_section_has_no_findings() -> None:
    text = HEAD + "events:\n" + queue("batch_size: 100, max_batching_window_s: 5")
    text += (
        "  - name: catalog\n    bucket: {bucket: my-images, prefix: incoming/}\n"
        "    output: {bucket: my-images, prefix: scored/}\n"
        "  - name: nightly\n    schedule:\n      cron: '0 3 * * 1-5'\n"
        "      rescore: {bucket: my-images, prefix: incoming/}\n"
        "    output: {bucket: my-images, prefix: rescored/}\n"
    )
    assert found(text) == []


@pytest.mark.parametrize(
    ("fields", "rule", "path", "says"),
    [
        ("fifo: true, batch_size: 11, max_batching_window_s: 0", "MS931",
         "events.0.queue.batch_size", "a FIFO queue allows (1-10)"),
        ("batch_size: 20000, max_batching_window_s: 1", "MS931",
         "events.0.queue.batch_size", "(1-10000)"),
        ("batch_size: 11", "MS932", "events.0.queue.batch_size", "at least 1"),
        ("batch_size: 11, max_batching_window_s: 0", "MS932",
         "events.0.queue.max_batching_window_s", "at least 1"),
        ("fifo: true, max_batching_window_s: 2", "MS932",
         "events.0.queue.max_batching_window_s", "FIFO queue takes no batching window"),
        ("visibility_timeout_s: 179", "MS933", "events.0.queue.visibility_timeout_s",
         "use at least 180"),
        ("max_receive_count: 0", "MS934", "events.0.queue.max_receive_count", "(1-1000)"),
        ("ack_deadline_s: 601", "MS935", "events.0.queue.ack_deadline_s", "(10-600)"),
    ],
)  # fmt: skip
def test_queue_limits(fields: str, rule: str, path: str, says: str) -> None:
    diagnostics = lint_text(HEAD + "events:\n" + queue(fields))
    assert [(d.rule_id, d.path) for d in diagnostics] == [(rule, path)]
    assert says in diagnostics[0].message
    assert diagnostics[0].line == 14  # the queue's line: the framework found the position


def test_visibility_of_six_times_the_timeout_is_enough() -> None:
    assert found(HEAD + "events:\n" + queue("visibility_timeout_s: 180")) == []


def test_receive_count_follows_pubsub_with_a_cloud_run_target() -> None:
    text = CLOUD_RUN + "events:\n" + queue("max_receive_count: 3")
    assert found(text) == [("MS934", "events.0.queue.max_receive_count", 14)]
    assert found(CLOUD_RUN + "events:\n" + queue("max_receive_count: 5")) == []


def test_names_must_be_unique() -> None:
    text = HEAD + "events:\n" + queue("") + queue("", "{queue: other}")
    assert found(text) == [("MS930", "events.1.name", 16)]


def test_an_output_that_feeds_its_input_is_a_loop() -> None:
    text = HEAD + "events:\n" + queue("", "{queue: orders}")
    assert found(text) == [("MS937", "events.0.output.queue", 15)]
    for out in ("incoming/", "incoming/scored/", ""):
        bucket = (
            "  - name: catalog\n    bucket: {bucket: my-images, prefix: incoming/}\n"
            f"    output: {{bucket: my-images, prefix: '{out}'}}\n"
        )
        assert found(HEAD + "events:\n" + bucket) == [("MS937", "events.0.output.prefix", 15)]
    other_bucket = (
        "  - name: catalog\n    bucket: {bucket: my-images, prefix: incoming/}\n"
        "    output: {bucket: my-results, prefix: incoming/}\n"
    )
    assert found(HEAD + "events:\n" + other_bucket) == []


def test_an_unknown_suffix_is_explained_once() -> None:
    text = HEAD + (
        "events:\n  - name: catalog\n    bucket: {bucket: my-images, suffix: .txt}\n"
        "    output: {bucket: my-images, prefix: scored/}\n"
    )
    assert found(text) == [("MS939", "events.0.bucket.suffix", 14)]


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("0 3 * *", "has 4 field(s)"),
        ("61 3 * * *", "minute '61' is outside 0-59"),
        ("0 3 * FOO *", "month 'FOO' is outside 1-12 or JAN-DEC"),
        ("0 5-3 * * *", "runs backwards"),
        ("0 3 1 * MON", "AWS schedules take one of them"),
    ],
)
def test_schedule_cron(cron: str, says: str) -> None:
    text = HEAD + (
        f"events:\n  - name: nightly\n    schedule:\n      cron: '{cron}'\n"
        "      rescore: {bucket: my-images}\n    output: {bucket: my-images, prefix: r/}\n"
    )
    diagnostics = lint_text(text)
    assert [(d.rule_id, d.path, d.line) for d in diagnostics] == [
        ("MS936", "events.0.schedule.cron", 15)
    ]
    assert says in diagnostics[0].message


@settings(max_examples=60, deadline=None)
@given(size=st.integers(-5, 20000), fifo=st.booleans(), window=st.integers(0, 300))
def test_batch_size_is_reported_by_the_rule_never_also_by_the_schema(
    size: int, fifo: bool, window: int
) -> None:
    fields = f"batch_size: {size}, fifo: {str(fifo).lower()}, max_batching_window_s: {window}"
    ids = [d.rule_id for d in lint_text(HEAD + "events:\n" + queue(fields))]
    high = 10 if fifo else 10000
    assert ("MS931" in ids) == (not 1 <= size <= high)
    assert "MS001" not in ids
