"""Progress of a multi-step command: lines for people on stderr, a summary for machines."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Progress", "StepRecord"]


@dataclass
class StepRecord:
    name: str
    status: str = "running"
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Progress:
    """Collects step records and prints each as it happens (unless quiet)."""

    quiet: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    steps: list[StepRecord] = field(default_factory=list)
    _started: float = 0.0

    def start(self, name: str) -> None:
        self.steps.append(StepRecord(name))
        self._started = time.perf_counter()
        self._print(f"==> {name}")

    def done(self, detail: str = "", status: str = "ok") -> None:
        step = self.steps[-1]
        step.status, step.detail = status, detail
        step.seconds = time.perf_counter() - self._started
        suffix = f": {detail}" if detail else ""
        self._print(f"    {status} ({step.seconds:.1f} s){suffix}")

    def skip(self, name: str, reason: str) -> None:
        self.steps.append(StepRecord(name, "skipped", reason))
        self._print(f"==> {name}: skipped ({reason})")

    def fail(self, detail: str) -> None:
        self.done(detail, status="failed")

    def abort(self, reason: str) -> None:
        """Mark the step still running (if any) as failed: an error left it unfinished."""
        if self.steps and self.steps[-1].status == "running":
            self.fail(reason.splitlines()[0] if reason else "failed")

    def note(self, message: str) -> None:
        self._print(f"    {message}")

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"step": s.name, "status": s.status, "detail": s.detail, "seconds": round(s.seconds, 3)}
            for s in self.steps
        ]

    def _print(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.stream, flush=True)
