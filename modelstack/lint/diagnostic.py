"""The one record every lint finding becomes, whatever rule or output format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Diagnostic", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A finding at a 1-based position in a file."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    rule_id: str
    severity: Severity
    message: str
    path: str = ""
    """The dotted location in the manifest, such as targets.prod.memory_mb ('' for the file)."""

    def __str__(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return (
            f"{self.file}:{self.line}:{self.column}: {self.rule_id} {self.severity}: "
            f"{self.message}{where}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
