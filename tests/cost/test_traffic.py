"""Traffic profiles: patterns, counts files and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.cost.traffic import (
    MAX_COUNTS_FILE_BYTES,
    TrafficProfile,
    pattern_week,
    profile_from_spec,
    read_counts,
)
from modelstack.errors import CostError
from modelstack.manifest.traffic import TrafficSpec


@pytest.mark.parametrize("pattern", ["flat", "business-hours", "spiky"])
def test_every_pattern_carries_the_requests_asked_for(pattern: str) -> None:
    profile = TrafficProfile(hourly=pattern_week(pattern, 7_300_000))
    assert len(profile.hourly) == 168
    assert profile.requests_per_month == pytest.approx(7_300_000)


def test_business_hours_and_spiky_shapes() -> None:
    week = pattern_week("business-hours", 1_000_000)
    assert week[9] == pytest.approx(week[16]) and week[9] == pytest.approx(20 * week[8])
    assert week[5 * 24 + 10] == pytest.approx(week[8])  # Saturday is off hours
    spiky = pattern_week("spiky", 1_000_000, peak_factor=10)
    assert spiky[12] == pytest.approx(10 * spiky[11])
    assert TrafficProfile(hourly=spiky).peak_per_second == pytest.approx(spiky[12] / 3600)


def test_scaling_keeps_the_shape() -> None:
    profile = TrafficProfile(hourly=pattern_week("spiky", 1000))
    scaled = profile.scaled_to(2000)
    assert scaled.requests_per_month == pytest.approx(2000)
    assert scaled.hourly[12] / scaled.hourly[0] == pytest.approx(10)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "counts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_counts_with_and_without_a_header(tmp_path: Path) -> None:
    plain = read_counts(write(tmp_path, "".join(f"{i}\n" for i in range(168))))
    assert plain[167] == 167
    header = "hour,requests\n" + "".join(f"{i},{2 * i}\n" for i in range(168))
    assert read_counts(write(tmp_path, header))[10] == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n" * 167, "167 hourly counts; a week needs exactly 168"),
        ("1\n" * 100 + "-5\n" + "1\n" * 67, "counts.csv:101:1: a request count must be 0 or more"),
        ("1\n" * 3 + "many\n" + "1\n" * 164, "counts.csv:4:1: 'many' is not a request count"),
        ("hour,requests\n" + "0,1\n" * 5 + "5,x\n", "counts.csv:7:3: 'x' is not a request count"),
        ("when,count\n" + "0,1\n" * 168, "counts.csv:1:1: the header must be"),
        ("1,2,3\n" + "1\n" * 167, "counts.csv:1:1: expected 'requests' or 'hour,requests'"),
        ("nan\n" + "1\n" * 167, "counts.csv:1:1: a request count must be 0 or more, not nan"),
    ],
)
def test_bad_counts_files_say_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CostError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_counts(write(tmp_path, text), "counts.csv")


def test_an_oversize_counts_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "1\n" * (MAX_COUNTS_FILE_BYTES // 2 + 1))
    with pytest.raises(CostError, match="MAX_COUNTS_FILE_BYTES"):
        read_counts(path)


def test_a_counts_file_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    write(tmp_path, "1\n" * 168)
    spec = TrafficSpec(counts_file="../counts.csv")
    with pytest.raises(CostError, match=r"traffic.counts_file"):
        profile_from_spec(spec, bundle, "m.yaml: traffic")


def test_a_spec_needs_exactly_one_source_of_counts(tmp_path: Path) -> None:
    with pytest.raises(CostError, match=r"requests_per_month .* or counts_file"):
        profile_from_spec(TrafficSpec(), tmp_path, "m.yaml: traffic")
    both = TrafficSpec(requests_per_month=5, counts_file="c.csv")
    with pytest.raises(CostError, match="not both"):
        profile_from_spec(both, tmp_path, "m.yaml: traffic")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.,-e\n xa", max_size=12), max_size=200))
def test_the_counts_parser_accepts_a_week_or_says_why(lines: list[str]) -> None:
    from modelstack.cost.traffic import _parse_counts

    try:
        counts = _parse_counts("\n".join(lines), "f.csv")
    except CostError as exc:
        assert str(exc).startswith("f.csv")
    else:
        assert len(counts) == 168 and all(c >= 0 for c in counts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=168, max_size=168))
def test_real_counts_round_trip(counts: list[int]) -> None:
    from modelstack.cost.traffic import _parse_counts

    assert _parse_counts("\n".join(map(str, counts)), "f.csv") == tuple(map(float, counts))
