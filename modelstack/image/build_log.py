"""The log of one image build: the full text in a file, one line per step for people.

The engine streams the build's raw output (`Step 3/14 : RUN ...`, then whatever the step
prints, colour codes included). `BuildLog` keeps all of it, without escape sequences, in
`.modelstack/logs/build-<time>-<tag>.log` beside the manifest (the newest
`MODELSTACK_BUILD_LOGS_KEPT` files are kept), reports each finished step with its duration,
streams the raw text only when asked (`--verbose`), and gives the tail for an error message.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Final, TextIO

from modelstack.errors import UsageError
from modelstack.image.terminal import is_terminal, strip_ansi

__all__ = [
    "BUILD_LOGS_KEPT",
    "KEPT_ENV",
    "LOGS_DIR",
    "TAIL_LINES",
    "BuildLog",
    "logs_kept",
]

LOGS_DIR: Final = Path(".modelstack") / "logs"
BUILD_LOGS_KEPT: Final = 20
"""How many build logs are kept per folder by default; older ones are deleted."""
KEPT_ENV: Final = "MODELSTACK_BUILD_LOGS_KEPT"
TAIL_LINES: Final = 30
_STEP: Final = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_SHOWN: Final = 60


def logs_kept() -> int:
    """The number of build logs to keep: $MODELSTACK_BUILD_LOGS_KEPT, else BUILD_LOGS_KEPT."""
    raw = os.environ.get(KEPT_ENV, "").strip()
    if not raw:
        return BUILD_LOGS_KEPT
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"${KEPT_ENV} is {raw!r}; set it to a whole number of logs, at least 1")
    return int(raw)


class BuildLog:
    """Receives the engine's build stream; see the module docstring."""

    def __init__(
        self,
        directory: Path | None,
        tag: str,
        *,
        report: Callable[[str], None] | None = None,
        verbose: TextIO | None = None,
    ) -> None:
        self.path: Path | None = None
        self._file: IO[str] | None = None
        if directory is not None:
            self.path = _new_log_path(directory, tag)
            self._file = self.path.open("w", encoding="utf-8")
        self._report = report
        self._verbose = verbose
        self._raw = verbose is not None and is_terminal(verbose)
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._step: str | None = None
        self._cached = False
        self._started = time.perf_counter()
        self._partial = ""

    def feed(self, text: str) -> None:
        """One chunk of the engine's stream."""
        clean = strip_ansi(text)
        if self._file is not None:
            self._file.write(clean)
        if self._verbose is not None:
            self._verbose.write(text if self._raw else clean)
            self._verbose.flush()
        lines = (self._partial + clean).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def tail(self) -> list[str]:
        """The last TAIL_LINES non-empty lines, without escape sequences."""
        return [*self._tail, *([self._partial] if self._partial.strip() else [])]

    @property
    def step(self) -> str | None:
        """The step running now (or last), such as `5/14 RUN pip install ...`."""
        return self._step

    def close(self, *, ok: bool) -> None:
        """Report the last step (when the build succeeded), close and prune old logs."""
        if ok:
            self._finish_step()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            _prune(self.path.parent, logs_kept())

    def _line(self, line: str) -> None:
        if line.strip():
            self._tail.append(line)
        match = _STEP.match(line)
        if match:
            self._finish_step()
            self._step = f"{match[1]}/{match[2]} {' '.join(match[3].split())}"
            self._started, self._cached = time.perf_counter(), False
        elif line.strip() == "---> Using cache":
            self._cached = True

    def _finish_step(self) -> None:
        if self._step is None or self._report is None:
            return
        seconds = time.perf_counter() - self._started
        text = self._step if len(self._step) <= _SHOWN else self._step[: _SHOWN - 3] + "..."
        how = "cached" if self._cached else f"{seconds:.1f} s"
        self._report(f"step {text} ({how})")
        self._step = None


def _new_log_path(directory: Path, tag: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", tag.rsplit("/", 1)[-1])
    return directory / f"build-{stamp}-{name}.log"


def _prune(directory: Path, keep: int) -> None:
    logs = sorted(directory.glob("build-*.log"), key=lambda p: p.name, reverse=True)
    for old in logs[keep:]:
        old.unlink(missing_ok=True)
