"""`modelstack plan`: the resources a target would create, computed offline.

The target's Pulumi program (the ModelService component) runs under Pulumi's mocks: no engine,
no plugins, no credentials, nothing deployed. Values that only the cloud computes (ARNs, version
numbers, URLs) are placeholders in the output.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from modelstack.errors import UsageError

__all__ = ["FORMATS", "KEY_PROPERTIES", "plan"]

FORMATS = ("table", "json", "markdown")

KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "aws:ecr/repository:Repository": (
        "name",
        "imageTagMutability",
        "imageScanningConfiguration.scanOnPush",
        "encryptionConfigurations",
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("repository",),
    "aws:iam/role:Role": ("name", "managedPolicyArns"),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays", "kmsKeyId"),
    "aws:lambda/function:Function": (
        "name",
        "packageType",
        "imageUri",
        "memorySize",
        "timeout",
        "architectures",
        "ephemeralStorage.size",
        "reservedConcurrentExecutions",
        "tracingConfig.mode",
        "publish",
    ),
    "aws:lambda/alias:Alias": (
        "name",
        "functionVersion",
        "routingConfig.additionalVersionWeights",
    ),
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": (
        "qualifier",
        "provisionedConcurrentExecutions",
    ),
    "aws:appautoscaling/target:Target": (
        "resourceId",
        "scalableDimension",
        "minCapacity",
        "maxCapacity",
    ),
    "aws:appautoscaling/policy:Policy": (
        "policyType",
        "targetTrackingScalingPolicyConfiguration.targetValue",
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification"
        ".predefinedMetricType",
    ),
    "aws:appautoscaling/scheduledAction:ScheduledAction": (
        "schedule",
        "timezone",
        "scalableTargetAction.minCapacity",
        "scalableTargetAction.maxCapacity",
    ),
    "aws:lambda/functionUrl:FunctionUrl": ("qualifier", "authorizationType"),
    "aws:lambda/permission:Permission": ("action", "principal", "qualifier"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "metricName",
        "statistic",
        "extendedStatistic",
        "threshold",
        "dimensions.Resource",
    ),
    "gcp:artifactregistry/repository:Repository": (
        "repositoryId",
        "format",
        "dockerConfig.immutableTags",
        "kmsKeyName",
    ),
    "gcp:serviceaccount/account:Account": ("accountId",),
    "gcp:cloudrunv2/service:Service": (
        "name",
        "ingress",
        "deletionProtection",
        "template.revision",
        "template.containers.0.image",
        "template.containers.0.resources.limits",
        "template.containers.0.resources.cpuIdle",
        "template.nodeSelector.accelerator",
        "template.gpuZonalRedundancyDisabled",
        "template.scaling",
        "template.serviceAccount",
        "template.maxInstanceRequestConcurrency",
        "traffics",
    ),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("role", "member"),
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": ("workloadIdentityPoolId", "project"),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": (
        "aws.accountId",
        "attributeCondition",
    ),
    "gcp:serviceaccount/iAMMember:IAMMember": ("role", "member"),
}
"""Per resource type, the inputs (engine names, dotted paths) shown by `plan`."""


def _lookup(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _policy_actions(policy: Any) -> Any:
    """An IAM policy document shown as its statements' actions and resources."""
    try:
        document = json.loads(policy)
    except (TypeError, ValueError):
        return policy
    return [
        {"actions": s.get("Action"), "resources": s.get("Resource")}
        for s in document.get("Statement", [])
    ]


def key_properties(type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs of one resource that `plan` shows (missing and empty ones left out)."""
    shown: dict[str, Any] = {}
    for path in KEY_PROPERTIES.get(type_, ()):
        value = _lookup(inputs, path)
        if path == "policy":
            value = _policy_actions(value)
        if value not in (None, [], {}, ""):
            shown[path] = value
    return shown


def _report(
    manifest_path: str, spec: Any, placeholder: bool, resources: list[Any]
) -> dict[str, Any]:
    ordered = sorted(resources, key=lambda r: (r.custom, r.name, r.type))
    return {
        "manifest": manifest_path,
        "target": spec.target_name,
        "provider": spec.target.provider,
        "region": spec.target.region,
        "image": str(spec.image),
        "image_is_placeholder": placeholder,
        "offline": True,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "parent": r.parent_name,
                "properties": key_properties(r.type, r.inputs),
                "hooks": r.hooks,
                "inputs": r.inputs,
            }
            for r in ordered
        ],
    }


def _label(path: str) -> str:
    """A short column label: the last name in the path, or the last two when it is short."""
    names = [p for p in path.split(".") if not p.isdigit()]
    return names[-1] if len(names[-1]) > 5 or len(names) == 1 else ".".join(names[-2:])


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _add_estimate(report: dict[str, Any], estimate: Any) -> None:
    """Monthly USD on each priced resource, and the total, for the declared traffic."""
    if estimate is None:
        return
    if isinstance(estimate, str):
        report["estimate"] = {"note": estimate}
        return
    for r in report["resources"]:
        value = estimate.by_type.get(r["type"])
        r["monthly_usd"] = None if value is None else round(value, 2)
    report["estimate"] = estimate.summary


def _money(value: Any) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _estimate_line(report: dict[str, Any]) -> str:
    estimate = report.get("estimate")
    if estimate is None:
        return ""
    if "note" in estimate:
        return str(estimate["note"]) + "\n"
    return (
        f"estimated monthly total: {_money(estimate['monthly_usd'])} as {estimate['option']} "
        f"for {estimate['requests_per_month']:,} requests of {estimate['duration_ms']:g} ms "
        f"(prices of {estimate['price_date']}; `modelstack cost` compares the alternatives)\n"
    )


def _print_markdown(report: dict[str, Any], out: TextIO) -> None:
    priced = "monthly_usd" in (report["resources"] or [{}])[0]
    out.write(f"### Plan: {report['target']} ({report['provider']}, {report['region']})\n\n")
    out.write(
        "| type | name | monthly |\n|---|---|---:|\n" if priced else "| type | name |\n|---|---|\n"
    )
    for r in report["resources"]:
        cells = [f"`{r['type']}`", f"`{r['name']}`"]
        cells += [_money(r["monthly_usd"])] if priced else []
        out.write("| " + " | ".join(cells) + " |\n")
    out.write(f"\n{len(report['resources'])} resources would be created.\n")
    line = _estimate_line(report)
    if line:
        out.write("\n" + line)


def _print_table(report: dict[str, Any], out: TextIO) -> None:
    image = report["image"]
    if report["image_is_placeholder"]:
        image += "  (PLACEHOLDER: pass --image <repository>@sha256:<digest>)"
    out.write(
        f"Plan for {report['manifest']}, target {report['target']} "
        f"({report['provider']}, {report['region']}); computed offline, nothing deployed.\n"
        f"image: {image}\n"
        "Values the cloud computes (ARNs, versions, URLs) are placeholders.\n\n"
    )
    priced = "estimate" in report and "note" not in report["estimate"]
    rows = [("TYPE", "NAME", "MONTHLY" if priced else "", "KEY PROPERTIES")]
    for r in report["resources"]:
        cells = [f"{_label(k)}={_cell(v)}" for k, v in r["properties"].items()]
        cells += [f"smoke-gate={'+'.join(sorted(r['hooks']))}"] if r["hooks"] else []
        money = _money(r.get("monthly_usd")) if priced else ""
        rows.append((r["type"], r["name"], money, "  ".join(cells)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for type_, name, money, props in rows:
        middle = f"{money:>{widths[2]}}  " if priced else ""
        out.write(f"{type_:<{widths[0]}}  {name:<{widths[1]}}  {middle}{props}".rstrip() + "\n")
    out.write(f"\n{len(report['resources'])} resources would be created.\n")
    out.write(_estimate_line(report))


def plan(
    manifest: str,
    target: str | None,
    fmt: str = "table",
    image: str | None = None,
    *,
    out: TextIO | None = None,
) -> int:
    """Print the resources `target` of `manifest` would create (table or JSON); return 0."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    from modelstack.pulumi.extras import require_sdk
    from modelstack.pulumi.image import placeholder_image
    from modelstack.pulumi.naming import base_name
    from modelstack.pulumi.spec import load_checked_manifest, select_target

    loaded = load_checked_manifest(manifest)
    target_name, chosen = select_target(loaded, target)
    require_sdk(chosen.provider)

    from modelstack.pulumi.args import ModelServiceArgs
    from modelstack.pulumi.component import ModelService
    from modelstack.pulumi.offline import run_offline

    base = base_name(loaded, target_name)
    reference = image or str(placeholder_image(f"placeholder.invalid/{base}"))
    holder: dict[str, Any] = {}

    def program() -> None:
        args = ModelServiceArgs(
            manifest=loaded, image=reference, target=target_name, lint=False, smoke_gate=True
        )
        holder["service"] = ModelService(base, args)

    resources, _ = run_offline(program, stack="plan")
    report = _report(manifest, holder["service"].spec, image is None, resources)
    from modelstack.cost.plan_estimate import plan_estimate

    _add_estimate(report, plan_estimate(loaded, chosen))
    stream = out or sys.stdout
    if fmt == "json":
        stream.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    elif fmt == "markdown":
        _print_markdown(report, stream)
    else:
        _print_table(report, stream)
    return 0
