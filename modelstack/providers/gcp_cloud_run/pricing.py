"""How a gcp-cloud-run target is priced: request-based, instance-based, and reserved.

The options are `cloud-run-request-based` (not for GPU services, which need instance-based
billing), `cloud-run-instance-based` (the declared one when CPU is always allocated; a GPU
service is also priced with zonal redundancy the other way, as a note) and `reserved` Compute
Engine VMs with the service's memory and accelerator. The tables are this package's `prices/`
files (services `gcp-cloud-run` and `gce`). A service runs at the CPU and memory it declares,
so `--measure` times that one size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from modelstack.cost.options import OptionCost
from modelstack.cost.prices import PriceTable, newest_table
from modelstack.cost.pricing import Priced, Pricer
from modelstack.cost.reserved import add_reserved
from modelstack.cost.traffic import TrafficProfile
from modelstack.providers.gcp_cloud_run import billing
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget

__all__ = ["CloudRunPricing", "cloud_run_prices", "gce_prices"]

_SERVICE: Final = "gcp:cloudrunv2/service:Service"


def cloud_run_prices(region: str, overrides: Sequence[PriceTable] = ()) -> PriceTable:
    return newest_table("gcp-cloud-run", region, overrides)


def gce_prices(region: str, overrides: Sequence[PriceTable] = ()) -> PriceTable:
    return newest_table("gce", region, overrides)


@dataclass(frozen=True)
class CloudRunPricing:
    """The `TargetPricing` of one gcp-cloud-run target."""

    target: CloudRunTarget

    @property
    def declared(self) -> str:
        always = self.target.cpu_always_allocated
        return "cloud-run-instance-based" if always else "cloud-run-request-based"

    @property
    def region(self) -> str:
        return self.target.region

    @property
    def size_mb(self) -> int | None:
        return None

    def pricer(
        self, duration_ms: float, overrides: Sequence[PriceTable], free_tier: bool
    ) -> Pricer:
        target, prices = self.target, cloud_run_prices(self.target.region, overrides)
        gpu = target.gpu.type if target.gpu else None
        zonal = bool(target.gpu and target.gpu.zonal_redundancy)

        def price(profile: TrafficProfile) -> Priced:
            priced = Priced([], [prices], [])
            if gpu is None:
                usage = billing.request_usage(target, profile, duration_ms)
                priced.options.append(
                    billing.price_request_based(usage, prices, free_tier=free_tier)
                )
            else:
                priced.notes.append(
                    "cloud-run-request-based: GPU services need instance-based billing"
                )
            usage = billing.instance_usage(target, profile, duration_ms)
            option = billing.price_instance_based(
                usage, prices, gpu=gpu, zonal_redundancy=zonal, free_tier=free_tier
            )
            if gpu is not None:
                other = billing.price_instance_based(
                    usage, prices, gpu=gpu, zonal_redundancy=not zonal, free_tier=free_tier
                )
                state = "on" if not zonal else "off"
                note = f"with GPU zonal redundancy {state}: ${other.monthly_usd:,.2f}"
                option = option.noted(note)
            priced.options.append(option)
            add_reserved(
                priced,
                lambda: gce_prices(target.region, overrides),
                profile,
                duration_ms,
                memory_gib=target.memory_mib / 1024.0,
                gpu=gpu,
            )
            return priced

        return price

    def measure_sizes(self, sizes: Sequence[int] | None) -> list[tuple[int, float]]:
        return [(self.target.memory_mib, float(self.target.cpu))]

    def measure_cost(self, overrides: Sequence[PriceTable]) -> Callable[[int, float], float]:
        """Not priced per size: a service is billed for its instances, not per request."""
        return lambda memory_mb, p50_ms: 0.0

    def by_resource(self, option: OptionCost) -> dict[str, float]:
        return {_SERVICE: option.monthly_usd}
