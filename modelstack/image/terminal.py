"""What may reach a terminal or a CI log: escape sequences only where a terminal reads them."""

from __future__ import annotations

import re
from typing import Final, TextIO

__all__ = ["is_terminal", "strip_ansi"]

_ESCAPES: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # the other two-character escapes
)


def strip_ansi(text: str) -> str:
    """`text` without ANSI escape sequences (colour codes and the like)."""
    return _ESCAPES.sub("", text)


def is_terminal(stream: TextIO) -> bool:
    """True when `stream` is an interactive terminal (not a pipe, a file or a CI log)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False
