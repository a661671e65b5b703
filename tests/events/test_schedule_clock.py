"""Schedules on the local target: cron matching, the clock's firing, and `--trigger`."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.events import parse_events
from modelstack.events.cron import cron_matches
from modelstack.image.containers import free_port
from modelstack.providers.local.schedule_clock import ScheduleClock, rescore_event

UTC = timezone.utc
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(0, 59), st.integers(0, 23))
def test_a_fixed_time_fires_in_exactly_its_minute(when: datetime, minute: int, hour: int) -> None:
    expected = when.minute == minute and when.hour == hour
    assert cron_matches(f"{minute} {hour} * * *", when) is expected


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(1, 59))
def test_a_step_fires_on_its_multiples(when: datetime, step: int) -> None:
    assert cron_matches(f"*/{step} * * * *", when) is (when.minute % step == 0)
    assert cron_matches("* * * * *", when)


@pytest.mark.parametrize(
    ("expression", "when", "fires"),
    [
        ("0 0 * * SUN", datetime(2026, 12, 6, 0, 0, tzinfo=UTC), True),  # a Sunday
        ("0 0 * * 7", datetime(2026, 12, 6, 0, 0, tzinfo=UTC), True),  # 7 is Sunday too
        ("0 0 * * 1-5", datetime(2026, 12, 6, 0, 0, tzinfo=UTC), False),
        ("0 0 * * 1-5", datetime(2026, 12, 7, 0, 0, tzinfo=UTC), True),
        ("0 0 1 * MON", datetime(2026, 12, 7, 0, 0, tzinfo=UTC), True),  # either day field
        ("0 0 1 * MON", datetime(2026, 12, 8, 0, 0, tzinfo=UTC), False),
        ("30 9 * JAN,DEC *", datetime(2026, 12, 2, 9, 30, tzinfo=UTC), True),
        ("30 9 * FEB-NOV *", datetime(2026, 12, 2, 9, 30, tzinfo=UTC), False),
        ("5/20 * * * *", datetime(2026, 12, 2, 9, 45, tzinfo=UTC), True),
        ("0 3 * * *", datetime(2026, 12, 2, 4, 0, tzinfo=timezone(timedelta(hours=1))), True),
    ],
)
def test_cron_fields(expression: str, when: datetime, fires: bool) -> None:
    assert cron_matches(expression, when) is fires


def test_the_clock_fires_each_due_minute_once_and_not_its_first() -> None:
    (nightly, every) = parse_events(
        [
            {"name": "nightly", "schedule": {"cron": "0 3 * * *", "rescore": {"bucket": "b"}},
             "output": {"bucket": "b", "prefix": "r/"}},
            {"name": "often", "schedule": {"cron": "*/2 * * * *", "rescore": {"bucket": "b"}},
             "output": {"bucket": "b", "prefix": "r/"}},
        ]
    )  # fmt: skip
    clock_at = [datetime(2026, 12, 2, 3, 0, 10, tzinfo=UTC)]
    calls: list[dict[str, Any]] = []

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        calls.append(json.loads(payload))
        return b'{"objects": [], "skipped": []}', False

    clock = ScheduleClock([nightly, every], invoke, now=lambda: clock_at[0])
    assert clock.tick() == []  # started at 03:00: a restart must not fire it twice
    fired = []
    for seconds in (30, 60, 70, 120, 180, 24 * 3600 - 10):
        clock_at[0] = datetime(2026, 12, 2, 3, 0, 10, tzinfo=UTC) + timedelta(seconds=seconds)
        fired.append(clock.tick())
    assert fired == [[], [], [], ["often"], [], ["nightly", "often"]]
    assert calls[-2] == json.loads(rescore_event("nightly"))
    assert calls[-2] == {"modelstack_rescore": {"source": "nightly"}}


MANIFEST = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {{name: tiny, version: "1"}}
model: {{path: model.onnx, sha256: "{sha}"}}
targets:
  local: {{provider: local, flavour: {flavour}, port: {port}}}
events:
  - name: nightly
    schedule: {{cron: "0 3 * * *", rescore: {{bucket: bkt, prefix: in/}}}}
    output: {{bucket: bkt, prefix: r/}}
  - name: orders
    queue: {{batch_size: 1}}
    output: {{bucket: bkt, prefix: o/}}
"""


@pytest.mark.parametrize(
    ("flavour", "args", "message"),
    [
        ("lambda", ["--source", "orders", "--trigger"], "is a queue; --trigger fires a schedule"),
        ("http", ["--source", "nightly", "--trigger"], "local Lambda-flavour target"),
        ("lambda", ["--source", "nightly", "--trigger", "--redrive"], "--trigger runs alone"),
        ("lambda", ["--source", "nightly", "--trigger"], "does not answer on 127.0.0.1:"),
    ],
)
def test_trigger_refuses_what_it_cannot_fire(
    tmp_path: Path,
    flavour: str,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = tmp_path / "modelstack.yaml"
    manifest.write_text(
        MANIFEST.format(flavour=flavour, port=free_port(), sha=hashlib.sha256(b"").hexdigest())
    )
    (tmp_path / "model.onnx").write_bytes(b"")
    code = main(["events", str(manifest), *args])
    assert code in (2, 3)
    assert message in capsys.readouterr().err
