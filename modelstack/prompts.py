"""Asking the person at the terminal before acting on real infrastructure."""

from __future__ import annotations

import os
import sys

from modelstack.errors import UsageError

__all__ = ["confirm"]


def confirm(action: str, yes: bool, *, skip: bool = False) -> None:
    """Ask "ACTION? [y/N]"; never ask when --yes is given, and refuse when CI is set or
    nobody is at a terminal to answer."""
    if yes or skip:
        return
    if os.environ.get("CI") or not sys.stdin.isatty():
        raise UsageError(f"refusing to {action} without confirmation; pass --yes")
    answer = input(f"{action}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("cancelled")
