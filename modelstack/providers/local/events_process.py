"""The local target's event process: one detached process per target that delivers its events.

`ensure_running` starts `python -m modelstack.providers.local.events_runner`, which detaches
into its own session (it outlives the `modelstack up` that started it), with its pid in
`events.pid`, its configuration in `events.json` and its log in `events.log`, all in the
target's state
directory under `.modelstack/`. A live process started with the same configuration is reused;
a dead one, one whose pid now belongs to another program, or one started for other sources is
replaced. `stop` sends SIGTERM and, after `STOP_TIMEOUT_S`, SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelstack.atomic_write import write_atomically
from modelstack.errors import InfrastructureError
from modelstack.polling import poll_until

__all__ = [
    "CONFIG_FILE",
    "LOG_FILE",
    "PID_FILE",
    "RUNNER_MODULE",
    "STOP_TIMEOUT_S",
    "EventProcess",
    "ensure_running",
    "running",
    "stop",
]

RUNNER_MODULE: Final = "modelstack.providers.local.events_runner"
PID_FILE: Final = "events.pid"
CONFIG_FILE: Final = "events.json"
LOG_FILE: Final = "events.log"
STOP_TIMEOUT_S: Final = 10.0
START_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class EventProcess:
    pid: int
    log: Path
    reused: bool = False


def running(state_dir: Path) -> int | None:
    """The pid of this target's event process, if `events.pid` names a live one (a reused pid
    that now belongs to another program does not count)."""
    try:
        pid = int((state_dir / PID_FILE).read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    if status.rsplit(")", 1)[-1].split()[0] == "Z":
        return None  # exited, not yet reaped by its parent
    config = str(state_dir / CONFIG_FILE).encode()
    return pid if RUNNER_MODULE.encode() in command and config in command else None


def ensure_running(state_dir: Path, config: dict[str, Any]) -> EventProcess:
    """The live process for `config`: the running one if it has that configuration, else a
    new one (any other is stopped first)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = state_dir / CONFIG_FILE
    log = state_dir / LOG_FILE
    pid = running(state_dir)
    if pid is not None and _stored(config_path) == config:
        return EventProcess(pid, log, reused=True)
    stop(state_dir)
    write_atomically(config_path, json.dumps(config, indent=2, sort_keys=True))
    pid_path = state_dir / PID_FILE
    pid_path.unlink(missing_ok=True)
    pid_flag = ("--pid-file", str(pid_path))
    with log.open("ab") as out:
        launcher = subprocess.run(
            [sys.executable, "-m", RUNNER_MODULE, "--config", str(config_path), *pid_flag],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    pid = running(state_dir) if launcher.returncode == 0 else None
    if pid is None or not poll_until(lambda: _ready(log, pid, state_dir), START_TIMEOUT_S, 0.05):
        raise InfrastructureError(f"the event process did not start; see {log}")
    if running(state_dir) is None:
        raise InfrastructureError(f"the event process exited as it started; see {log}")
    return EventProcess(pid, log)


def stop(state_dir: Path, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the process (SIGTERM, then SIGKILL after `timeout_s`); the pid that was stopped."""
    pid = running(state_dir)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        if not poll_until(lambda: running(state_dir) != pid, timeout_s, 0.05):
            _signal(pid, signal.SIGKILL)
            poll_until(lambda: running(state_dir) != pid, timeout_s, 0.05)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    return pid


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _stored(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _ready(log: Path, pid: int, state_dir: Path) -> bool:
    """The runner logs `pid N started` once its threads run; an early exit ends the wait."""
    if running(state_dir) != pid:
        return True
    try:
        return f"pid {pid} started".encode() in log.read_bytes()[-65536:]
    except OSError:
        return False
