"""Price tables: versioned JSON data files shipped in the package, never numbers in code.

Each file holds one table for one priced service (its `provider` key: `aws-lambda`, `ec2`,
`gcp-cloud-run`, `gce`), region and date, and every number in it names the page it comes from.
Serverless tables (`kind: serverless`) hold unit prices by name; reserved tables
(`kind: reserved`) list virtual machine types with their hourly on-demand price. A provider ships
its tables in the `prices/` folder of its package (`modelstack/providers/<provider>/prices/`)
and asks for them by service and region (`newest_table`): the newest one is used, and
`--prices FILE` puts tables of the same form (one object, or a list of them) in front of the
shipped ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import CostError

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = [
    "MAX_PRICE_AGE_DAYS",
    "MAX_PRICE_FILE_BYTES",
    "PriceTable",
    "VmType",
    "load_tables",
    "newest_table",
    "shipped_tables",
]

MAX_PRICE_AGE_DAYS: Final = 365
"""A shipped table older than this fails the test suite, so stale prices are noticed."""
MAX_PRICE_FILE_BYTES: Final = 1024 * 1024
"""A price file (shipped or --prices) larger than this is refused before it is read."""


@dataclass(frozen=True)
class VmType:
    type: str
    vcpu: int
    memory_gib: float
    usd_per_hour: float
    source: str
    gpu: str | None = None
    gpu_count: int = 0


@dataclass(frozen=True)
class PriceTable:
    kind: str
    service: str
    """The priced service, the file's `provider` key (aws-lambda, ec2, gcp-cloud-run, gce)."""
    region: str
    date: date
    origin: str
    """The file it was read from."""
    prices: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    free_tier: dict[str, Any] = field(default_factory=dict)
    instances: tuple[VmType, ...] = ()

    def price(self, name: str) -> float:
        """The unit price called `name`, or a CostError that says which table lacks it."""
        if name not in self.prices:
            raise CostError(
                f"{self.origin}: the {self.service} price table for {self.region} has no "
                f"'{name}' price; add it (with its source) or pass --prices FILE with it"
            )
        return self.prices[name]

    def vm(self, name: str) -> VmType:
        for vm in self.instances:
            if vm.type == name:
                return vm
        known = ", ".join(v.type for v in self.instances)
        raise CostError(
            f"{self.origin}: unknown instance type '{name}' in {self.service} {self.region}; "
            f"listed: {known}"
        )


def _read_json(path: Traversable | Path, origin: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PRICE_FILE_BYTES + 1)
    except OSError as exc:
        raise CostError(f"{origin}: cannot read the price file: {exc.strerror or exc}") from None
    if len(raw) > MAX_PRICE_FILE_BYTES:
        raise CostError(
            f"{origin}: a price file may hold at most {MAX_PRICE_FILE_BYTES} bytes "
            "(MAX_PRICE_FILE_BYTES); split it into one file per provider and region"
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise CostError(f"{origin}{where}: not a JSON price table: {exc}") from None


def _number(value: Any, origin: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CostError(f"{origin}: {what} must be a finite number, not {value!r}")
    if value < 0:
        raise CostError(f"{origin}: {what} is negative ({value}); prices are never negative")
    return float(value)


def _text(d: dict[str, Any], key: str, origin: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise CostError(f"{origin}: '{key}' must be a non-empty string")
    return value


def _table(d: Any, origin: str) -> PriceTable:
    if not isinstance(d, dict):
        raise CostError(f"{origin}: a price table is a JSON object")
    kind = _text(d, "kind", origin)
    try:
        day = date.fromisoformat(_text(d, "date", origin))
    except ValueError:
        raise CostError(f"{origin}: 'date' must be YYYY-MM-DD, not {d['date']!r}") from None
    service, region = _text(d, "provider", origin), _text(d, "region", origin)
    if kind == "reserved":
        return PriceTable(kind, service, region, day, origin, instances=_vms(d, origin))
    if kind != "serverless":
        raise CostError(f"{origin}: 'kind' must be serverless or reserved, not {kind!r}")
    prices: dict[str, float] = {}
    sources: dict[str, str] = {}
    entries = d.get("prices")
    if not isinstance(entries, dict) or not entries:
        raise CostError(f"{origin}: 'prices' must map price names to {{usd, per, source}}")
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise CostError(f"{origin}: price '{name}' must be an object with usd and source")
        prices[name] = _number(entry.get("usd"), origin, f"price '{name}'.usd")
        sources[name] = _text(entry, "source", f"{origin}: price '{name}'")
    free = d.get("free_tier", {})
    if not isinstance(free, dict):
        raise CostError(f"{origin}: 'free_tier' must be an object")
    return PriceTable(
        kind, service, region, day, origin, prices=prices, sources=sources, free_tier=free
    )


def _vms(d: dict[str, Any], origin: str) -> tuple[VmType, ...]:
    items = d.get("instances")
    if not isinstance(items, list) or not items:
        raise CostError(f"{origin}: 'instances' must list the VM types")
    vms = []
    for i, vm in enumerate(items):
        where = f"{origin}: instances[{i}]"
        if not isinstance(vm, dict):
            raise CostError(f"{where} must be an object")
        vms.append(
            VmType(
                type=_text(vm, "type", where),
                vcpu=int(_number(vm.get("vcpu"), where, "vcpu")),
                memory_gib=_number(vm.get("memory_gib"), where, "memory_gib"),
                usd_per_hour=_number(vm.get("usd_per_hour"), where, "usd_per_hour"),
                source=_text(vm, "source", where),
                gpu=vm.get("gpu") or None,
                gpu_count=int(_number(vm.get("gpu_count", 0), where, "gpu_count")),
            )
        )
    return tuple(vms)


def load_tables(path: str) -> list[PriceTable]:
    """The tables of a --prices file: one table object or a list of them."""
    data = _read_json(Path(path), path)
    items = data if isinstance(data, list) else [data]
    return [
        _table(item, f"{path}[{i}]" if isinstance(data, list) else path)
        for i, item in enumerate(items)
    ]


@cache
def _shipped() -> tuple[PriceTable, ...]:
    """Every table in a provider's `prices/` folder (found by path, so it works from a wheel)."""
    providers = files("modelstack").joinpath("providers")
    tables = []
    for package in sorted(providers.iterdir(), key=lambda e: e.name):
        folder = package.joinpath("prices")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                tables.append(_table(_read_json(entry, entry.name), entry.name))
    return tuple(tables)


def shipped_tables(service: str) -> list[PriceTable]:
    """Every shipped table of `service` (e.g. "aws-lambda", "ec2")."""
    return [t for t in _shipped() if t.service == service]


def newest_table(service: str, region: str, overrides: Sequence[PriceTable] = ()) -> PriceTable:
    """The newest `service` table for `region`: from `overrides` when one matches, else shipped."""
    own = [t for t in overrides if t.service == service and t.region == region]
    if own:
        return max(own, key=lambda t: t.date)
    shipped = shipped_tables(service)
    match = [t for t in shipped if t.region == region]
    if not match:
        regions = ", ".join(sorted({t.region for t in shipped}))
        raise CostError(
            f"no {service} price table for region '{region}' (shipped: {regions}); pass "
            f"--prices FILE with a table for {region}"
        )
    return max(match, key=lambda t: t.date)
