"""The result of pricing one way of serving: its monthly cost, line by line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["CostLine", "OptionCost"]


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass(frozen=True)
class OptionCost:
    option: str
    """An interface name: lambda-on-demand, lambda-provisioned, cloud-run-request-based,
    cloud-run-instance-based or reserved."""
    lines: tuple[CostLine, ...]
    free_tier_usd: float = 0.0
    """The free tier's credit, already taken off `monthly_usd` (0 with --no-free-tier)."""
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def noted(self, note: str) -> OptionCost:
        """The same option with `note` added to its notes."""
        return replace(self, notes=(*self.notes, note))

    @property
    def gross_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def monthly_usd(self) -> float:
        return max(0.0, self.gross_usd - self.free_tier_usd)

    def to_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "monthly_usd": round(self.monthly_usd, 2),
            "gross_usd": round(self.gross_usd, 4),
            "free_tier_usd": round(self.free_tier_usd, 4),
            "detail": self.detail,
            "lines": [
                {"item": c.item, "quantity": c.quantity, "unit": c.unit, "usd": round(c.usd, 4)}
                for c in self.lines
            ],
            "notes": list(self.notes),
        }
