"""The build log and push meter: what people see, what CI logs get, what is kept on disk."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack.errors import UsageError
from modelstack.image.build_log import BUILD_LOGS_KEPT, KEPT_ENV, TAIL_LINES, BuildLog, logs_kept
from modelstack.image.push_meter import PushMeter
from modelstack.image.terminal import is_terminal, strip_ansi

STREAM = [
    "Step 1/3 : FROM base\n",
    " ---> 1234abcd\n",
    "Step 2/3 : RUN pip install -r requirements.txt\n",
    " ---> Using cache\n",
    " ---> 5678ef01\n",
    "Step 3/3 : RUN echo \x1b[31mred\x1b[0m  &&   true\n",
    " ---> Running in 9abc\n",
    "\x1b[1mbold",
    " output\x1b[0m\n",
    "Successfully built 0def\n",
]


class FakeTerminal(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_one_line_per_step_with_its_duration_or_cached(tmp_path: Path) -> None:
    lines: list[str] = []
    log = BuildLog(tmp_path, "modelstack/iris:abc", report=lines.append)
    for chunk in STREAM:
        log.feed(chunk)
    log.close(ok=True)
    assert [line.split(" (")[0] for line in lines] == [
        "step 1/3 FROM base",
        "step 2/3 RUN pip install -r requirements.txt",
        "step 3/3 RUN echo red && true",  # whitespace collapsed
    ]
    assert lines[1].endswith("(cached)")
    assert lines[0].endswith(" s)") and lines[2].endswith(" s)")
    assert not any("\x1b" in line for line in lines)


def test_the_full_log_is_kept_without_escape_codes(tmp_path: Path) -> None:
    log = BuildLog(tmp_path, "modelstack/iris:abc")
    for chunk in STREAM:
        log.feed(chunk)
    log.close(ok=True)
    assert log.path is not None and log.path.parent == tmp_path
    assert log.path.name.startswith("build-") and log.path.name.endswith("-iris-abc.log")
    text = log.path.read_text()
    assert text == strip_ansi("".join(STREAM))
    assert "bold output" in text


def test_verbose_streams_raw_text_to_a_terminal_and_clean_text_elsewhere(tmp_path: Path) -> None:
    pipe, terminal = io.StringIO(), FakeTerminal()
    for out in (pipe, terminal):
        log = BuildLog(None, "t", verbose=out)
        for chunk in STREAM:
            log.feed(chunk)
        log.close(ok=True)
    assert "\x1b" not in pipe.getvalue()
    assert pipe.getvalue() == strip_ansi("".join(STREAM))
    assert terminal.getvalue() == "".join(STREAM)


def test_the_tail_is_bounded_and_names_the_failing_step() -> None:
    log = BuildLog(None, "t")
    log.feed("Step 1/1 : RUN make\n")
    for i in range(TAIL_LINES * 2):
        log.feed(f"line {i}\n")
    log.feed("no newline at the end")
    assert log.step == "1/1 RUN make"
    tail = log.tail()
    assert tail[-1] == "no newline at the end"
    assert tail[-2] == f"line {TAIL_LINES * 2 - 1}"
    assert len(tail) == TAIL_LINES + 1


def test_only_the_newest_logs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEPT_ENV, "2")
    paths = []
    for i in range(4):
        log = BuildLog(tmp_path, f"modelstack/iris:{i}")
        log.feed(f"build {i}\n")
        log.close(ok=True)
        paths.append(log.path)
    kept = sorted(tmp_path.glob("build-*.log"))
    assert kept == sorted(p for p in paths[-2:] if p is not None)


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_a_bad_logs_kept_setting_is_a_usage_error_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEPT_ENV, value)
    with pytest.raises(UsageError, match=KEPT_ENV):
        logs_kept()


def test_logs_kept_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEPT_ENV, raising=False)
    assert logs_kept() == BUILD_LOGS_KEPT


_CSI = st.builds(
    lambda params, final: f"\x1b[{params}{final}",
    st.text(alphabet="0123456789;?", max_size=8),
    st.sampled_from("mKHJABCDGfhlsu"),
)
_PLAIN = st.text(alphabet=st.characters(blacklist_characters="\x1b"), max_size=20)


@given(st.lists(st.one_of(_CSI, _PLAIN), max_size=20))
def test_strip_ansi_removes_every_escape_and_keeps_the_text(parts: list[str]) -> None:
    text = "".join(parts)
    clean = strip_ansi(text)
    assert "\x1b" not in clean
    assert clean == "".join(p for p in parts if not p.startswith("\x1b"))
    assert strip_ansi(clean) == clean


def test_is_terminal() -> None:
    assert is_terminal(FakeTerminal()) is True
    assert is_terminal(io.StringIO()) is False


PUSH = [
    {"status": "The push refers to repository [127.0.0.1:5000/iris]"},
    {"status": "Preparing", "id": "aaa", "progressDetail": {}},
    {"status": "Preparing", "id": "bbb", "progressDetail": {}},
    {"status": "Layer already exists", "id": "bbb", "progressDetail": {}},
    {"status": "Preparing", "id": "ccc", "progressDetail": {}},
    {"status": "Mounted from other/iris", "id": "ccc", "progressDetail": {}},
    {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 1 << 20, "total": 3 << 20}},
    {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 3 << 20, "total": 3 << 20}},
    {"status": "Pushed", "id": "aaa", "progressDetail": {}},
    {"status": "t: digest: sha256:00 size: 1"},
]


def test_push_progress_in_ci_is_plain_lines_of_layers_and_bytes() -> None:
    out = io.StringIO()
    meter = PushMeter(out)
    for entry in PUSH:
        meter.feed(entry)
    meter.finish()
    lines = out.getvalue().splitlines()
    assert lines == [
        "layer bbb already in the registry; 1/2 layers (1 already in the registry), "
        "0.0 MiB of 0.0 MiB sent",
        "layer ccc already in the registry; 2/3 layers (2 already in the registry), "
        "0.0 MiB of 0.0 MiB sent",
        "layer aaa pushed; 3/3 layers (2 already in the registry), 3.0 MiB of 3.0 MiB sent",
        "pushed: 3/3 layers (2 already in the registry), 3.0 MiB of 3.0 MiB sent",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_push_progress_on_a_terminal_is_one_live_line() -> None:
    out = FakeTerminal()
    meter = PushMeter(out)
    for entry in PUSH:
        meter.feed(entry)
    meter.finish()
    text = out.getvalue()
    assert text.startswith("\r\x1b[2Kpushing: ")
    assert text.endswith(
        "pushed: 3/3 layers (2 already in the registry), 3.0 MiB of 3.0 MiB sent\n"
    )
    assert text.count("\n") == 1
