"""The size limits on untrusted files: settings read when used, each documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modelstack.errors import UsageError
from modelstack.manifest.limits import ALL_LIMITS, MODEL_BYTES

ROOT = Path(__file__).resolve().parents[2]


def test_every_limit_is_documented_with_its_default() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    section = readme.split("## Security defaults", 1)[1].split("\n## ", 1)[0]
    for limit in ALL_LIMITS:
        row = next((line for line in section.splitlines() if f"`{limit.setting}`" in line), "")
        assert row, f"{limit.setting} is not in the README's Security defaults"
        default = row.split("|")[2].strip()
        scale = {"MiB": 2**20, "GiB": 2**30}
        number, _, unit = default.partition(" ")
        assert int(number.replace(",", "")) * scale.get(unit, 1) == limit.default


@given(st.integers(min_value=1, max_value=2**62))
def test_a_positive_setting_replaces_the_default(value: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_BYTES.setting, f"{value:_}")
        assert MODEL_BYTES.value() == value
        assert f"{value:,}" in MODEL_BYTES.hint()


@given(st.text(max_size=12).filter(lambda t: t.strip() and "\x00" not in t))
@example("1\x1f")  # str.strip() takes \x1f for white space, int() does not
def test_any_other_setting_is_a_usage_error_naming_the_variable(raw: str) -> None:
    try:
        valid = int(raw.replace("_", "")) >= 1
    except ValueError:
        valid = False
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_BYTES.setting, raw)
        if valid:
            assert MODEL_BYTES.value() == int(raw.replace("_", ""))
        else:
            with pytest.raises(UsageError, match=MODEL_BYTES.setting):
                MODEL_BYTES.value()


def test_an_empty_setting_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_BYTES.setting, " ")
    assert MODEL_BYTES.value() == MODEL_BYTES.default
