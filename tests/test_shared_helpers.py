"""The shared helpers that replaced per-module copies: atomic writes, polling, signals, version."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
import tomllib

import modelstack
import modelstack_runtime
from modelstack._distribution import DISTRIBUTION, installed_version
from modelstack.atomic_write import write_atomically
from modelstack.polling import poll_until
from modelstack.signals import interrupts_as_keyboard, shielded
from modelstack_runtime.dataplane import SERVER_VERSION

ROOT = Path(__file__).resolve().parent.parent


def test_write_atomically_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomically(path, "first\n")
    assert path.read_text() == "first\n"
    path.chmod(0o640)
    write_atomically(path, b"second\r\n")
    assert path.read_bytes() == b"second\r\n"  # bytes as given, no newline translation
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_write_atomically_leaves_the_old_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "routes.json"
    path.write_text("old")

    def broken(src: object, dst: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk went away"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["routes.json"]  # no temporary left


class FakeClock:
    """A clock that advances only when the poll loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_until_stops_when_the_condition_holds() -> None:
    clock, answers = FakeClock(), iter([False, False, True])
    assert poll_until(lambda: next(answers), 10, 0.5, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [0.5, 0.5]


def test_poll_until_gives_up_at_the_timeout_after_a_last_look() -> None:
    clock, calls = FakeClock(), []
    assert not poll_until(lambda: calls.append(1), 1.0, 0.3, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == pytest.approx([0.3, 0.3, 0.3, 0.1])  # never sleeps past the timeout
    assert len(calls) == 5  # the first look, one after each sleep


def test_poll_until_lets_the_predicate_end_the_wait() -> None:
    def dead() -> bool:
        raise RuntimeError("the container exited")

    with pytest.raises(RuntimeError, match="exited"):
        poll_until(dead, 10, 0.1, clock=FakeClock(), sleep=lambda s: None)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_termination_signals_act_as_ctrl_c_and_are_restored(signum: int) -> None:
    before = signal.getsignal(signum)
    name = signal.Signals(signum).name
    with pytest.raises(KeyboardInterrupt, match=name), interrupts_as_keyboard():
        os.kill(os.getpid(), signum)
        signal.sigtimedwait([], 0)  # let the handler run
    assert signal.getsignal(signum) is before


def test_shielded_blocks_ignore_termination() -> None:
    with interrupts_as_keyboard(), shielded():
        os.kill(os.getpid(), signal.SIGTERM)  # no KeyboardInterrupt while rolling back


def test_one_version_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert modelstack.__version__ == installed_version() == project["version"]
    # The runtime ships into images without the distribution's metadata: its one literal
    # must follow pyproject's, and the server reports that one.
    assert modelstack_runtime.__version__ == SERVER_VERSION == project["version"]
