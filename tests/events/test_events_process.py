"""The local event process's lifecycle: start, reuse, replace, stop; stale pid files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelstack.errors import InfrastructureError
from modelstack.providers.local import events_process
from modelstack.providers.local.events_process import (
    CONFIG_FILE,
    LOG_FILE,
    PID_FILE,
    RUNNER_MODULE,
    ensure_running,
    running,
    stop,
)


def config(moto_endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": "http://127.0.0.1:9",
        "function_name": "tiny.local",
        "aws_endpoint": moto_endpoint,
        "base": "tiny-local",
        "sources": [],
        "seen_dir": "seen",
        **extra,
    }


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    stop(tmp_path)  # never leave a process behind


def test_start_reuse_replace_and_stop(state_dir: Path, moto_endpoint: str) -> None:
    first = ensure_running(state_dir, config(moto_endpoint))
    assert not first.reused and alive(first.pid) and running(state_dir) == first.pid
    assert first.pid != os.getpid()
    assert os.getsid(first.pid) == first.pid  # its own session: it outlives its starter
    assert f"pid {first.pid} started" in (state_dir / LOG_FILE).read_text()

    again = ensure_running(state_dir, config(moto_endpoint))
    assert again.reused and again.pid == first.pid

    other = ensure_running(state_dir, config(moto_endpoint, watch_s=5.0))  # sources changed
    assert not other.reused and other.pid != first.pid
    assert not alive(first.pid) and alive(other.pid)

    assert stop(state_dir) == other.pid
    assert not alive(other.pid) and running(state_dir) is None
    assert not (state_dir / PID_FILE).exists()
    assert f"pid {other.pid} stopped" in (state_dir / LOG_FILE).read_text()


def test_a_dead_process_is_started_again(state_dir: Path, moto_endpoint: str) -> None:
    first = ensure_running(state_dir, config(moto_endpoint))
    os.kill(first.pid, 9)
    deadline = time.monotonic() + 10
    while alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running(state_dir) is None
    second = ensure_running(state_dir, config(moto_endpoint))
    assert not second.reused and alive(second.pid)


def test_a_stale_pid_of_another_program_is_left_alone(state_dir: Path, moto_endpoint: str) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (state_dir / PID_FILE).write_text(str(other.pid))
        (state_dir / CONFIG_FILE).write_text("{}")
        assert running(state_dir) is None  # a reused pid is not ours
        assert stop(state_dir) is None
        started = ensure_running(state_dir, config(moto_endpoint))
        assert started.pid != other.pid and other.poll() is None  # never signalled
    finally:
        other.kill()
        other.wait()
    assert stop(state_dir) == started.pid  # ours, started above: stopped, not left running
    (state_dir / PID_FILE).write_text("not a pid")
    assert running(state_dir) is None


def test_one_that_ignores_sigterm_is_killed(state_dir: Path, moto_endpoint: str) -> None:
    config_path = state_dir / CONFIG_FILE
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
         "-m", RUNNER_MODULE, "--config", str(config_path)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        (state_dir / PID_FILE).write_text(str(stubborn.pid))
        assert running(state_dir) == stubborn.pid
        assert stop(state_dir, timeout_s=0.5) == stubborn.pid
        assert stubborn.wait(timeout=10) == -9
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_a_runner_that_cannot_start_says_where_its_log_is(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_process, "RUNNER_MODULE", "modelstack.no_such_module")
    with pytest.raises(InfrastructureError, match=r"events\.log"):
        ensure_running(state_dir, {"sources": []})
