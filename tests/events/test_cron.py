"""Cron expressions: what check_cron accepts, and the EventBridge Scheduler form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.events.cron import CronError, aws_schedule_expression, check_cron


def field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda ab: f"{min(ab)}-{max(ab)}"
    )
    part = st.one_of(st.just("*"), value, span)
    stepped = st.tuples(part, st.none() | st.integers(1, high)).map(
        lambda p: p[0] if p[1] is None else f"{p[0]}/{p[1]}"
    )
    return st.lists(stepped, min_size=1, max_size=3).map(",".join)


CRONS = st.tuples(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7)).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(CRONS)
def test_every_well_formed_expression_is_accepted(expression: str) -> None:
    assert check_cron(expression) == tuple(expression.split())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_accepted_or_refused_with_a_cron_error(text: str) -> None:
    try:
        fields = check_cron(text)
    except CronError as exc:
        assert str(exc)
    else:
        assert len(fields) == 5


@pytest.mark.parametrize(
    ("cron", "aws"),
    [
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("*/15 9-17 * * 1-5", "cron(*/15 9-17 ? * MON-FRI *)"),
        ("0 0 * * 0", "cron(0 0 ? * SUN *)"),
        ("0 0 * * 7", "cron(0 0 ? * SUN *)"),
        ("0 0 * * 5-7", "cron(0 0 ? * FRI-SAT,SUN *)"),
        ("0 0 1 * *", "cron(0 0 1 * ? *)"),
        ("0 0 * JAN-MAR sat", "cron(0 0 ? JAN-MAR SAT *)"),
    ],
)
def test_the_eventbridge_form(cron: str, aws: str) -> None:
    assert aws_schedule_expression(cron) == aws


def test_both_day_fields_cannot_be_scheduled_on_aws() -> None:
    with pytest.raises(CronError, match="one of them"):
        aws_schedule_expression("0 0 1 * MON")
