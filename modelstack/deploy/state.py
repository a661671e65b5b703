"""Deploy state and history under `.modelstack/` beside the manifest.

The state file says which release is stable, which is the candidate and how traffic is split.
It is written atomically (temporary file, fsync, rename), so a process killed at any moment
leaves either the old state or the new one, never a torn file. A lock file keeps two `up`
runs on one target from interleaving. The history is an append-only JSON-lines audit log.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modelstack.deploy.release import Release
from modelstack.errors import DeployStateError, UnsafeFileError, UsageError
from modelstack.manifest.files import describe_mode, read_regular
from modelstack.manifest.limits import HISTORY_BYTES, STATE_BYTES, Limit

__all__ = ["DeployState", "StateStore", "actor", "read_history"]

STATE_DIR = ".modelstack"


@dataclass(frozen=True)
class DeployState:
    """Where one target stands."""

    stable: Release | None = None
    candidate: Release | None = None
    candidate_percent: int = 0
    step: str = "idle"
    """The step in progress ('idle' between runs); anything else after a crash means resume."""
    next_version: int = 1
    endpoint: str = ""
    last_smoke: list[dict[str, Any]] = field(default_factory=list)
    previous: list[Release] = field(default_factory=list)
    """Earlier stable releases, newest first, for `rollback --to`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable.to_dict() if self.stable else None,
            "candidate": self.candidate.to_dict() if self.candidate else None,
            "candidate_percent": self.candidate_percent,
            "step": self.step,
            "next_version": self.next_version,
            "endpoint": self.endpoint,
            "last_smoke": self.last_smoke,
            "previous": [r.to_dict() for r in self.previous],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployState:
        def release(value: Any) -> Release | None:
            return Release.from_dict(value) if value else None

        return cls(
            stable=release(data.get("stable")),
            candidate=release(data.get("candidate")),
            candidate_percent=int(data.get("candidate_percent", 0)),
            step=str(data.get("step", "idle")),
            next_version=int(data.get("next_version", 1)),
            endpoint=str(data.get("endpoint", "")),
            last_smoke=list(data.get("last_smoke", [])),
            previous=[Release.from_dict(r) for r in data.get("previous", [])],
        )

    def with_(self, **changes: Any) -> DeployState:
        return replace(self, **changes)


def read_history(bundle: Path) -> list[dict[str, Any]]:
    """Every entry of the bundle's audit log, oldest first.

    A line that is not a JSON object (a torn write, a hand edit) is skipped; the others are
    all kept. The file must be a regular file within MODELSTACK_MAX_HISTORY_BYTES.
    """
    path = bundle / STATE_DIR / "history.jsonl"
    if not os.path.lexists(path):
        return []
    text = _read_state_file(path, HISTORY_BYTES, "deploy history")
    entries = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def _read_state_file(path: Path, limit: Limit, what: str) -> str:
    """The text of a state or history file; DeployStateError, saying how to fix it, if the
    path is not a readable regular file within its limit."""
    try:
        return read_regular(path, limit).decode("utf-8", errors="replace")
    except UnsafeFileError as exc:
        fix = (
            f"move it out of the way (modelstack writes {path.name} itself)"
            if exc.kind == UnsafeFileError.NOT_REGULAR
            else "check the file's permissions"
            if exc.kind == UnsafeFileError.UNREADABLE
            else "archive it and start a new one"
        )
        raise DeployStateError(f"the {what} {path} cannot be used: {exc.reason}; {fix}") from None


def actor() -> str:
    """Who is deploying: the CI actor when there is one, else the local user."""
    for variable in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class StateStore:
    """The state and history files of one target of one manifest."""

    def __init__(self, bundle: Path, target: str, stack: str | None = None) -> None:
        if stack is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", stack):
            raise UsageError(f"invalid stack name {stack!r}: use letters, digits, '.', '_' and '-'")
        self.root = bundle / STATE_DIR
        name = target if stack is None else f"{target}.{stack}"
        self.state_path = self.root / "state" / f"{name}.json"
        self.lock_path = self.root / "state" / f"{name}.lock"
        self.history_path = self.root / "history.jsonl"
        self.target = target

    def load(self) -> DeployState:
        if not os.path.lexists(self.state_path):
            return DeployState()
        text = _read_state_file(self.state_path, STATE_BYTES, "deploy state")
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, found {type(data).__name__}")
            return DeployState.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise DeployStateError(
                f"the deploy state {self.state_path} is unreadable ({exc}); it was not "
                "written by modelstack or was edited by hand. Restore it from history.jsonl "
                "or remove it and run `modelstack up` to redeploy."
            ) from None

    def save(self, state: DeployState) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(self.state_path):
            self.load()  # refuses a damaged file rather than replacing it unseen
        temporary = self.state_path.with_suffix(f".tmp.{os.getpid()}")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(state.to_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)

    def record(self, event: dict[str, Any]) -> None:
        """Append one event to the audit log (who, what, when, digest, result)."""
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "actor": actor(),
            "target": self.target,
            **event,
        }
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.history_path, flags, 0o644)
        except OSError as exc:
            raise DeployStateError(
                f"cannot append to the deploy history {self.history_path} ({exc.strerror}); "
                "move it out of the way (modelstack writes history.jsonl itself)"
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise DeployStateError(
                    f"the deploy history {self.history_path} is {describe_mode(info.st_mode)}, "
                    "not a regular file; move it out of the way (modelstack writes "
                    "history.jsonl itself)"
                )
            if info.st_size and os.pread(fd, 1, info.st_size - 1) != b"\n":
                line = b"\n" + line  # a torn last line must not swallow this entry
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def history(self) -> list[dict[str, Any]]:
        """This target's entries of the audit log."""
        return [e for e in read_history(self.root.parent) if e.get("target") == self.target]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the target's lock; a second `up` on the same target is refused, not queued."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(
                    f"another modelstack command is deploying target '{self.target}' "
                    f"(lock: {self.lock_path}); wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
