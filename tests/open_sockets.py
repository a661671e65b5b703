"""Which of this machine's TCP connections are still open, read from /proc/net/tcp: for tests
that check a connection was closed at once rather than left to the garbage collector."""

from __future__ import annotations

from pathlib import Path

__all__ = ["client_sockets_to"]

_OPEN_STATES = ("01", "08")  # ESTABLISHED, CLOSE_WAIT (closed by the peer only)


def client_sockets_to(port: int) -> int:
    """Sockets still open towards 127.0.0.1:`port` (this machine's, any process)."""
    remote = f"0100007F:{port:04X}"
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(row[2] == remote and row[3] in _OPEN_STATES for row in rows)
