"""Push progress as layers and bytes: a live line on a terminal, plain lines elsewhere.

The engine reports each layer's state (`Preparing`, `Waiting`, `Pushing` with byte counts,
`Pushed`, `Layer already exists`, `Mounted from <repository>`). A terminal gets one line
rewritten in place; a pipe or CI log gets one line per finished layer and a total, never
carriage returns or escape codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from modelstack.image.terminal import is_terminal

__all__ = ["PushMeter"]

_DONE: Final = {"Pushed": "pushed", "Layer already exists": "already in the registry"}
_MOUNTED: Final = "Mounted from "
"""A layer the registry copied from another of its repositories: nothing to send."""
_REDRAW_S: Final = 0.2


def _mib(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


@dataclass
class PushMeter:
    """Feed it every entry of the engine's push stream; `finish()` prints the total."""

    stream: TextIO
    live: bool | None = None
    _sent: dict[str, int] = field(default_factory=dict)
    _sizes: dict[str, int] = field(default_factory=dict)
    _done: dict[str, str] = field(default_factory=dict)
    _drawn: float = 0.0

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = is_terminal(self.stream)

    def feed(self, entry: dict[str, Any]) -> None:
        layer, status = entry.get("id"), entry.get("status")
        if not isinstance(layer, str) or not isinstance(status, str):
            return
        detail = entry.get("progressDetail") or {}
        if status == "Pushing" and isinstance(detail, dict):
            if isinstance(detail.get("total"), int) and detail["total"] > 0:
                self._sizes[layer] = detail["total"]
            if isinstance(detail.get("current"), int):
                self._sent[layer] = detail["current"]
        elif status in _DONE or status.startswith(_MOUNTED):
            self._done[layer] = _DONE.get(status, "already in the registry")
            if layer in self._sizes:
                self._sent[layer] = self._sizes[layer]
            if not self.live:
                self._write(f"layer {layer} {self._done[layer]}; {self._totals()}\n")
        elif status in ("Preparing", "Waiting"):
            self._sent.setdefault(layer, 0)
        self._redraw()

    def finish(self) -> None:
        """End the live line (if any) and print the total."""
        if self.live and self._drawn:
            self._write("\r\x1b[2K")
        self._write(f"pushed: {self._totals()}\n")

    def _totals(self) -> str:
        layers = len(set(self._sent) | set(self._done))
        existing = sum(1 for how in self._done.values() if how != "pushed")
        sent, total = sum(self._sent.values()), sum(self._sizes.values())
        return (
            f"{len(self._done)}/{layers} layers ({existing} already in the registry), "
            f"{_mib(sent)} of {_mib(total)} sent"
        )

    def _redraw(self) -> None:
        now = time.monotonic()
        if not self.live or now - self._drawn < _REDRAW_S:
            return
        self._drawn = now
        self._write(f"\r\x1b[2Kpushing: {self._totals()}")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
