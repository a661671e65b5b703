"""The monthly cost of a target as declared, and of its alternatives, for a traffic profile.

An AWS Lambda target is priced on demand, with its provisioned concurrency (when it has some)
and against reserved EC2 instances; a Cloud Run target with request-based and instance-based
billing and against reserved Compute Engine VMs. The break-even is the monthly request count,
on the profile's weekly shape, from which reserved servers cost less than the declared option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from modelstack.cost import aws_lambda, cloud_run
from modelstack.cost.options import OptionCost
from modelstack.cost.prices import (
    PriceTable,
    cloud_run_prices,
    ec2_prices,
    gce_prices,
    lambda_prices,
)
from modelstack.cost.reserved import price_reserved
from modelstack.cost.traffic import TrafficProfile
from modelstack.errors import CostError
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget, LocalTarget, Target

__all__ = ["CURVE_POINTS", "Estimate", "break_even", "curve", "estimate_target"]

CURVE_POINTS: Final = tuple(10.0**e for e in range(3, 11))
"""Requests per month at which the chart shows each option (1 thousand to 10 billion)."""
LAMBDA_PAYLOAD_BYTES: Final = 6 * 1024 * 1024


@dataclass(frozen=True)
class Estimate:
    target: str
    provider: str
    region: str
    declared: str
    """The option the target is configured as."""
    options: tuple[OptionCost, ...]
    tables: tuple[PriceTable, ...]
    profile: TrafficProfile
    duration_ms: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def option(self, name: str) -> OptionCost | None:
        return next((o for o in self.options if o.option == name), None)


Pricer = Callable[[TrafficProfile], tuple[list[OptionCost], list[PriceTable], list[str]]]


def _lambda_pricer(
    target: AwsLambdaTarget, duration_ms: float, overrides: list[PriceTable], free_tier: bool
) -> Pricer:
    prices = lambda_prices(target.region, overrides)

    def price(profile: TrafficProfile) -> tuple[list[OptionCost], list[PriceTable], list[str]]:
        arch = target.architecture
        usage = aws_lambda.lambda_usage(target, profile, duration_ms)
        options = [aws_lambda.price_on_demand(usage, prices, arch, free_tier=free_tier)]
        tables, notes = [prices], []
        if profile.payload_bytes > LAMBDA_PAYLOAD_BYTES:
            notes.append(
                f"payload_bytes {profile.payload_bytes} exceeds Lambda's synchronous payload "
                f"limit of {LAMBDA_PAYLOAD_BYTES} bytes"
            )
        if target.provisioned_concurrency is not None:
            pc, spill = aws_lambda.provisioned_usage(target, profile, duration_ms)
            option = aws_lambda.price_provisioned(pc, prices, arch)
            if spill > 0:
                option = _noted(option, f"{spill:.1%} of requests exceed provisioned concurrency")
            options.append(option)
        try:
            vms = ec2_prices(target.region, overrides)
            memory = target.memory_mb / 1024.0
            options.append(price_reserved(vms, profile, duration_ms, memory_gib=memory, gpu=None))
            tables.append(vms)
        except CostError as exc:
            notes.append(f"reserved: {exc}")
        return options, tables, notes

    return price


def _cloud_run_pricer(
    target: CloudRunTarget, duration_ms: float, overrides: list[PriceTable], free_tier: bool
) -> Pricer:
    prices = cloud_run_prices(target.region, overrides)
    gpu = target.gpu.type if target.gpu else None
    zonal = bool(target.gpu and target.gpu.zonal_redundancy)

    def price(profile: TrafficProfile) -> tuple[list[OptionCost], list[PriceTable], list[str]]:
        options: list[OptionCost] = []
        tables, notes = [prices], []
        if gpu is None:
            usage = cloud_run.request_usage(target, profile, duration_ms)
            options.append(cloud_run.price_request_based(usage, prices, free_tier=free_tier))
        else:
            notes.append("cloud-run-request-based: GPU services need instance-based billing")
        usage = cloud_run.instance_usage(target, profile, duration_ms)
        option = cloud_run.price_instance_based(
            usage, prices, gpu=gpu, zonal_redundancy=zonal, free_tier=free_tier
        )
        if gpu is not None:
            other = cloud_run.price_instance_based(
                usage, prices, gpu=gpu, zonal_redundancy=not zonal, free_tier=free_tier
            )
            state = "on" if not zonal else "off"
            option = _noted(option, f"with GPU zonal redundancy {state}: ${other.monthly_usd:,.2f}")
        options.append(option)
        try:
            vms = gce_prices(target.region, overrides)
            memory = target.memory_mib / 1024.0
            options.append(price_reserved(vms, profile, duration_ms, memory_gib=memory, gpu=gpu))
            tables.append(vms)
        except CostError as exc:
            notes.append(f"reserved: {exc}")
        return options, tables, notes

    return price


def _noted(option: OptionCost, note: str) -> OptionCost:
    from dataclasses import replace

    return replace(option, notes=(*option.notes, note))


def pricer_for(
    target: Target, duration_ms: float, overrides: list[PriceTable], free_tier: bool
) -> tuple[Pricer, str]:
    """A function pricing every option for a profile, and the declared option's name."""
    if isinstance(target, AwsLambdaTarget):
        declared = "lambda-provisioned" if target.provisioned_concurrency else "lambda-on-demand"
        return _lambda_pricer(target, duration_ms, overrides, free_tier), declared
    if isinstance(target, CloudRunTarget):
        declared = (
            "cloud-run-instance-based" if target.cpu_always_allocated else "cloud-run-request-based"
        )
        return _cloud_run_pricer(target, duration_ms, overrides, free_tier), declared
    raise CostError(
        f"target '{target.name}' is a local target, which runs on this machine's Docker engine "
        "and has no price; choose an aws-lambda or gcp-cloud-run target with --target"
    )


def estimate_target(
    target: Target,
    profile: TrafficProfile,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> Estimate:
    """Price every option of `target` for `profile` (whose duration_ms must be set)."""
    if profile.duration_ms is None:
        raise CostError(
            "no latency to price with: run `modelstack cost --measure`, set traffic.duration_ms "
            "to a measured p50, or pass --duration-ms"
        )
    price, declared = pricer_for(target, profile.duration_ms, overrides or [], free_tier)
    options, tables, notes = price(profile)
    assert not isinstance(target, LocalTarget)  # pricer_for refused it
    return Estimate(
        target=target.name,
        provider=target.provider,
        region=target.region,
        declared=declared,
        options=tuple(options),
        tables=tuple(tables),
        profile=profile,
        duration_ms=profile.duration_ms,
        notes=tuple(notes),
    )


def curve(
    estimate: Estimate,
    target: Target,
    points: tuple[float, ...] = CURVE_POINTS,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> dict[str, list[float]]:
    """Each option's monthly cost at each request count, on the profile's weekly shape."""
    price, _ = pricer_for(target, estimate.duration_ms, overrides or [], free_tier)
    series: dict[str, list[float]] = {}
    for n in points:
        for option in price(estimate.profile.scaled_to(n))[0]:
            series.setdefault(option.option, []).append(option.monthly_usd)
    return series


def break_even(
    estimate: Estimate,
    target: Target,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> float | None:
    """Requests per month from which reserved costs less than the declared option, or None."""
    price, declared = pricer_for(target, estimate.duration_ms, overrides or [], free_tier)

    def reserved_cheaper(n: float) -> bool | None:
        costs = {o.option: o.monthly_usd for o in price(estimate.profile.scaled_to(n))[0]}
        if "reserved" not in costs:
            return None
        return costs["reserved"] < costs[declared]

    low = 1.0
    if reserved_cheaper(low):
        return 0.0
    high = low
    while high < 1e12:
        high *= 4
        answer = reserved_cheaper(high)
        if answer is None:
            return None
        if answer:
            break
        low = high
    else:
        return None
    for _ in range(60):
        middle = (low * high) ** 0.5
        if reserved_cheaper(middle):
            high = middle
        else:
            low = middle
        if high / low < 1.001:
            break
    return high
