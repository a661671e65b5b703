"""Reserved servers: the cheapest listed VM type that holds the model, sized for the peak.

A VM type qualifies when it has at least the target's memory and, for a GPU target, the same
accelerator. Each vCPU (or each GPU, on GPU types) serves one request at a time at the measured
latency; enough instances run all month that the peak hour keeps them at most
`target_utilization` busy (at least one).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from modelstack.cost.options import CostLine, OptionCost
from modelstack.cost.prices import PriceTable, VmType
from modelstack.cost.pricing import Priced
from modelstack.cost.traffic import HOURS_PER_MONTH, TrafficProfile
from modelstack.errors import CostError

__all__ = ["add_reserved", "instances_needed", "price_reserved"]


def instances_needed(vm: VmType, profile: TrafficProfile, duration_ms: float) -> int:
    slots = vm.gpu_count if vm.gpu else vm.vcpu
    per_instance = slots / (duration_ms / 1000.0)
    return max(
        1, math.ceil(profile.peak_per_second / (per_instance * profile.target_utilization) - 1e-9)
    )


def price_reserved(
    table: PriceTable,
    profile: TrafficProfile,
    duration_ms: float,
    *,
    memory_gib: float,
    gpu: str | None,
) -> OptionCost:
    fits = [vm for vm in table.instances if vm.memory_gib >= memory_gib and vm.gpu == gpu]
    if not fits:
        need = f"{memory_gib:g} GiB" + (f" and a {gpu} GPU" if gpu else " without a GPU")
        raise CostError(
            f"no {table.service} VM type in {table.origin} has {need}; add one with --prices FILE"
        )
    best = min(
        fits, key=lambda vm: (instances_needed(vm, profile, duration_ms) * vm.usd_per_hour, vm.type)
    )
    count = instances_needed(best, profile, duration_ms)
    hours = count * HOURS_PER_MONTH
    line = CostLine(f"{best.type} x{count}", hours, "instance-hours", hours * best.usd_per_hour)
    return OptionCost(
        "reserved",
        (line,),
        detail=f"{table.service} {best.type} x{count} ({best.vcpu} vCPU, {best.memory_gib:g} GiB"
        + (f", {best.gpu_count}x {best.gpu}" if best.gpu else "")
        + f") at {profile.target_utilization:.0%} peak utilisation",
    )


def add_reserved(
    priced: Priced,
    table: Callable[[], PriceTable],
    profile: TrafficProfile,
    duration_ms: float,
    *,
    memory_gib: float,
    gpu: str | None,
) -> None:
    """Add the reserved option and its table to `priced`, or a note saying why there is none."""
    try:
        vms = table()
        option = price_reserved(vms, profile, duration_ms, memory_gib=memory_gib, gpu=gpu)
        priced.options.append(option)
        priced.tables.append(vms)
    except CostError as exc:
        priced.notes.append(f"reserved: {exc}")
