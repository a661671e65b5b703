"""How an aws-lambda target is priced: on demand, with its provisioned concurrency, and reserved.

The options are `lambda-on-demand`, `lambda-provisioned` when the target has provisioned
concurrency (then it is the declared one), and `reserved` EC2 instances holding the function's
memory. The tables are this package's `prices/` files (services `aws-lambda` and `ec2`).
Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU and 10,240 MB
six, so `--measure` times `LAMBDA_SIZES_MB` and the target's own size, each at its share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from modelstack.cost.options import OptionCost
from modelstack.cost.prices import PriceTable, newest_table
from modelstack.cost.pricing import Priced, Pricer
from modelstack.cost.reserved import add_reserved
from modelstack.cost.traffic import TrafficProfile
from modelstack.providers.aws_lambda import billing
from modelstack.providers.aws_lambda.target import AwsLambdaTarget

__all__ = [
    "LAMBDA_PAYLOAD_BYTES",
    "LAMBDA_SIZES_MB",
    "MB_PER_VCPU",
    "LambdaPricing",
    "ec2_prices",
    "lambda_prices",
    "lambda_vcpus",
]

LAMBDA_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
MB_PER_VCPU: Final = 1769
MAX_LAMBDA_VCPUS: Final = 6.0
MAX_LAMBDA_MB: Final = 10240
_FIVE_VCPUS_MB: Final = 5 * MB_PER_VCPU
LAMBDA_SIZES_MB: Final = (512, 1024, 1769, 3538, 5308, 10240)
"""The memory sizes `modelstack cost --measure` times (with the target's own)."""
_FUNCTION: Final = "aws:lambda/function:Function"
_PROVISIONED: Final = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"


def lambda_prices(region: str, overrides: Sequence[PriceTable] = ()) -> PriceTable:
    return newest_table("aws-lambda", region, overrides)


def ec2_prices(region: str, overrides: Sequence[PriceTable] = ()) -> PriceTable:
    return newest_table("ec2", region, overrides)


def lambda_vcpus(memory_mb: int) -> float:
    """The vCPU share Lambda gives a function of `memory_mb` (5 at 8,846 MB, 6 at 10,240)."""
    if memory_mb <= _FIVE_VCPUS_MB:
        return memory_mb / MB_PER_VCPU
    top = MAX_LAMBDA_MB - _FIVE_VCPUS_MB
    return min(MAX_LAMBDA_VCPUS, 5.0 + (memory_mb - _FIVE_VCPUS_MB) / top)


@dataclass(frozen=True)
class LambdaPricing:
    """The `TargetPricing` of one aws-lambda target."""

    target: AwsLambdaTarget

    @property
    def declared(self) -> str:
        pc = self.target.provisioned_concurrency
        return "lambda-provisioned" if pc else "lambda-on-demand"

    @property
    def region(self) -> str:
        return self.target.region

    @property
    def size_mb(self) -> int | None:
        return self.target.memory_mb

    def pricer(
        self, duration_ms: float, overrides: Sequence[PriceTable], free_tier: bool
    ) -> Pricer:
        target, prices = self.target, lambda_prices(self.target.region, overrides)

        def price(profile: TrafficProfile) -> Priced:
            arch = target.architecture
            usage = billing.lambda_usage(target, profile, duration_ms)
            priced = Priced(
                [billing.price_on_demand(usage, prices, arch, free_tier=free_tier)], [prices], []
            )
            if profile.payload_bytes > LAMBDA_PAYLOAD_BYTES:
                priced.notes.append(
                    f"payload_bytes {profile.payload_bytes} exceeds Lambda's synchronous payload "
                    f"limit of {LAMBDA_PAYLOAD_BYTES} bytes"
                )
            if target.provisioned_concurrency is not None:
                pc, spill = billing.provisioned_usage(target, profile, duration_ms)
                option = billing.price_provisioned(pc, prices, arch)
                if spill > 0:
                    option = option.noted(f"{spill:.1%} of requests exceed provisioned concurrency")
                priced.options.append(option)
            add_reserved(
                priced,
                lambda: ec2_prices(target.region, overrides),
                profile,
                duration_ms,
                memory_gib=target.memory_mb / 1024.0,
                gpu=None,
            )
            return priced

        return price

    def measure_sizes(self, sizes: Sequence[int] | None) -> list[tuple[int, float]]:
        wanted = set(LAMBDA_SIZES_MB if sizes is None else sizes) | {self.target.memory_mb}
        return [(m, lambda_vcpus(m)) for m in sorted(wanted)]

    def measure_cost(self, overrides: Sequence[PriceTable]) -> Callable[[int, float], float]:
        prices = lambda_prices(self.target.region, overrides)
        request = prices.price("request")
        duration = prices.price(f"duration_{self.target.architecture}")

        def usd_per_million(memory_mb: int, p50_ms: float) -> float:
            seconds = math.ceil(p50_ms - 1e-9) / 1000.0
            return (request + seconds * memory_mb / 1024.0 * duration) * 1_000_000

        return usd_per_million

    def by_resource(self, option: OptionCost) -> dict[str, float]:
        """Provisioned concurrency on its config, the rest of the cost on the function."""
        pc = sum(c.usd for c in option.lines if c.item == "provisioned concurrency")
        by_type = {_FUNCTION: option.monthly_usd - pc}
        if pc:
            by_type[_PROVISIONED] = pc
        return by_type
