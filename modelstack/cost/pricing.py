"""What a provider answers when asked how one of its targets is priced (`Provider.prices`).

The cost model is provider-neutral: it turns a traffic profile into options, break-even points
and charts. Which options apply to a target (`lambda-on-demand`, `lambda-provisioned`,
`cloud-run-request-based`, `cloud-run-instance-based`, `reserved`), which of them the target
is declared as, where its price tables are, the memory sizes `--measure` times and the CPU each
implies, and which cloud resources incur the declared cost are the provider's answers, given
as a `TargetPricing` from `modelstack/providers/<provider>/pricing.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from modelstack.cost.options import OptionCost
from modelstack.cost.prices import PriceTable
from modelstack.cost.traffic import TrafficProfile
from modelstack.errors import CostError

if TYPE_CHECKING:
    from modelstack.manifest.model import Target

__all__ = ["Priced", "Pricer", "TargetPricing", "target_pricing"]


class Priced(NamedTuple):
    """Every option of a target for one traffic profile, the tables used, and notes."""

    options: list[OptionCost]
    tables: list[PriceTable]
    """The declared option's serverless table first (its date is the report's price date)."""
    notes: list[str]


Pricer = Callable[[TrafficProfile], Priced]
"""Prices every option of one target, at one latency, for a traffic profile."""


class TargetPricing(Protocol):
    """How one target is priced."""

    @property
    def declared(self) -> str:
        """The option the target is configured as (an `OptionCost.option` name)."""
        ...

    @property
    def region(self) -> str:
        """The region whose price tables apply."""
        ...

    @property
    def size_mb(self) -> int | None:
        """The memory size whose measurement is the target's; None: it is measured at one."""
        ...

    def pricer(
        self, duration_ms: float, overrides: Sequence[PriceTable], free_tier: bool
    ) -> Pricer:
        """A function pricing every option at `duration_ms` per request."""
        ...

    def measure_sizes(self, sizes: Sequence[int] | None) -> list[tuple[int, float]]:
        """(memory MB, vCPU share on the platform) of each size to time, ascending; `sizes`
        replaces the provider's default list where the platform lets memory vary."""
        ...

    def measure_cost(self, overrides: Sequence[PriceTable]) -> Callable[[int, float], float]:
        """USD per million requests at (memory MB, p50 ms), for the measurement table."""
        ...

    def by_resource(self, option: OptionCost) -> dict[str, float]:
        """The declared option's monthly USD by the cloud resource type that incurs it."""
        ...


def target_pricing(target: Target) -> TargetPricing:
    """The provider's pricing of `target`; CostError when its provider prices nothing."""
    from modelstack.providers import NotSupported, provider_for

    provider = provider_for(target)
    pricing = provider.prices(target)
    if isinstance(pricing, NotSupported):
        raise CostError(
            f"target '{target.name}' is a {provider.name} target, and the {provider.name} "
            "provider has no prices; choose another target with --target"
        )
    return pricing
