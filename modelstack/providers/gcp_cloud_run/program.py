"""The resources of a gcp-cloud-run target (pulumi_gcp).

Artifact Registry repository -> a dedicated service account (unless the manifest names one) ->
Cloud Run v2 service whose revision name is derived from the image digest, with the stable
revision and the candidate (tag `candidate`) in its traffic list, guarded by the smoke gate ->
invoker IAM (private unless the manifest says `public: true`).

The image may be a plain reference or an Output (an image built in the same program). The
revision name, and what is derived from it (the traffic list, the candidate's address, the
gate's target), are plain strings for a plain image and Outputs computed from the resolved
digest for an Output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
import pulumi_gcp as gcp

from modelstack.errors import SmokeTestError
from modelstack.providers.gcp_cloud_run.events import build_events
from modelstack.providers.gcp_cloud_run.monitoring import monitoring_resources
from modelstack.providers.gcp_cloud_run.routing_grants import cloud_run_routing_grants
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
from modelstack.pulumi.gate import smoke_gate
from modelstack.pulumi.image import ImageRef
from modelstack.pulumi.naming import fit, gcp_labels, revision_name, service_account_id
from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
from modelstack.pulumi.traffic import CANDIDATE_TAG, cloud_run_traffic

__all__ = [
    "CONTAINER_PORT",
    "INGRESS",
    "READY_PATH",
    "build_cloud_run",
    "candidate_url",
    "gate_binding",
]

CONTAINER_PORT = 8080
READY_PATH = "/v2/health/ready"
"""The Open Inference Protocol readiness route: ready once the model is loaded."""

INGRESS = {
    "internal": "INGRESS_TRAFFIC_INTERNAL_ONLY",
    "internal-and-cloud-load-balancing": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
    "all": "INGRESS_TRAFFIC_ALL",
}

_T = TypeVar("_T")
_U = TypeVar("_U")

_PROBE_PERIOD_S = 10
_PROBE_FAILURES = {False: 12, True: 24}
"""Startup budget (period x failures): 120 s on CPU, 240 s (Cloud Run's most) on GPU, where
loading the model onto the device and the CUDA initialisation take longer."""


def _then(value: _T | pulumi.Output[_T], derive: Callable[[_T], _U]) -> _U | pulumi.Output[_U]:
    """`derive(value)` for a plain value, an Output of it for an Output."""
    if isinstance(value, pulumi.Output):
        return value.apply(derive)
    return derive(value)


async def _resolved(value: str | pulumi.Output[str]) -> str:
    """A plain value, or an Output's value (resolved before its resource's hooks run)."""
    if isinstance(value, pulumi.Output):
        return str(await value.future())
    return value


def _cpu(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


def candidate_url(outputs: Mapping[str, Any] | None) -> str | None:
    """The `candidate` tag's URL in a Cloud Run service's outputs (engine names)."""
    if not outputs:
        return None
    for status in outputs.get("trafficStatuses") or outputs.get("traffic_statuses") or []:
        if status.get("tag") == CANDIDATE_TAG and status.get("uri"):
            return str(status["uri"])
    uri = outputs.get("uri")
    if uri and "://" in uri:
        scheme, host = uri.split("://", 1)
        return f"{scheme}://{CANDIDATE_TAG}---{host}"
    return None


def _template(
    spec: ServiceSpec, service_account: Any, sa_key: str, labels: dict[str, str]
) -> dict[str, Any]:
    """The revision template; its name hashes every setting, so a change makes a new name."""
    target = spec.target
    assert isinstance(target, CloudRunTarget)
    memory = f"{spec.memory_mb}Mi" if spec.memory_mb else target.memory
    limits = {"cpu": _cpu(target.cpu), "memory": memory}
    gpu = target.gpu
    if gpu is not None:
        limits["nvidia.com/gpu"] = str(gpu.count)
    container: dict[str, Any] = {
        "image": spec.image_input,
        "ports": {"container_port": CONTAINER_PORT},
        "resources": {
            "limits": limits,
            # GPU instances must keep CPU allocated; otherwise follow the manifest.
            "cpu_idle": gpu is None and not target.cpu_always_allocated,
            "startup_cpu_boost": True,
        },
        "startup_probe": {
            "http_get": {"path": READY_PATH, "port": CONTAINER_PORT},
            "initial_delay_seconds": 0,
            "period_seconds": _PROBE_PERIOD_S,
            "timeout_seconds": 5,
            "failure_threshold": _PROBE_FAILURES[gpu is not None],
        },
        "envs": [{"name": k, "value": v} for k, v in sorted(target.environment.items())],
    }
    template: dict[str, Any] = {
        "service_account": service_account,
        "timeout": f"{target.timeout_s}s",
        "max_instance_request_concurrency": target.concurrency,
        "scaling": {
            "min_instance_count": target.min_instances,
            "max_instance_count": target.max_instances,
        },
        "encryption_key": target.kms_key,
        "labels": labels,
        "containers": [container],
    }
    if gpu is not None:
        template["node_selector"] = {"accelerator": gpu.type}
        template["gpu_zonal_redundancy_disabled"] = not gpu.zonal_redundancy
        template["execution_environment"] = "EXECUTION_ENVIRONMENT_GEN2"
    settings = {**template, "service_account": sa_key}

    def name(image: ImageRef) -> str:
        resolved = {**settings, "containers": [{**container, "image": str(image)}]}
        text = json.dumps(resolved, sort_keys=True)
        return revision_name(fit(spec.base, 49), image.hex, text)

    template["revision"] = spec.from_image(name)
    return template


def _with_environment(template: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`template` with `extra` (values may be Outputs) added to its container's environment.

    Left out of the revision name's hash: the tiers' addresses follow from the tiers, which
    the image's own routing config (in its digest) already names."""
    if not extra:
        return template
    (container,) = template["containers"]
    envs = [*container["envs"], *({"name": k, "value": v} for k, v in sorted(extra.items()))]
    return {**template, "containers": [{**container, "envs": envs}]}


def gate_binding(spec: ServiceSpec, service_name: str, revision: str | pulumi.Output[str]) -> Any:
    """Hooks on the service: after a no-traffic deploy, or before traffic shifts."""
    target = spec.target
    assert isinstance(target, CloudRunTarget)
    static = {
        "provider": "gcp-cloud-run",
        "service": service_name,
        "tag": CANDIDATE_TAG,
        "project": target.project,
        "region": target.region,
    }

    async def deployed(args: pulumi.ResourceHookArgs) -> dict[str, Any]:
        return {
            **static,
            "revision": await _resolved(revision),
            "url": candidate_url(args.new_outputs),
        }

    async def before_shift(args: pulumi.ResourceHookArgs) -> dict[str, Any]:
        candidate = await _resolved(revision)
        old_revision = ((args.old_inputs or {}).get("template") or {}).get("revision")
        if old_revision != candidate:
            raise SmokeTestError(
                f"smoke gate: revision {candidate} has not been deployed yet, so it cannot take "
                f"{spec.candidate_percent}% of the traffic untested; deploy it first with "
                "candidate_percent=0 (the gate tests it then), and shift traffic afterwards"
            )
        return {**static, "revision": candidate, "url": candidate_url(args.old_outputs)}

    shifting = spec.stable_version is not None and spec.candidate_percent > 0
    if shifting:
        gate = smoke_gate(spec.manifest, spec.target_name, before_shift, spec.smoke_runner)
        return pulumi.ResourceHookBinding(before_update=[gate])
    gate = smoke_gate(spec.manifest, spec.target_name, deployed, spec.smoke_runner)
    return pulumi.ResourceHookBinding(after_create=[gate], after_update=[gate])


def _candidate_address(service_name: str, revision: str, statuses: Any) -> dict[str, Any]:
    """The candidate's address from the service's resolved traffic statuses."""
    tagged = [{"tag": s.tag, "uri": s.uri} for s in statuses or []]
    return {
        "provider": "gcp-cloud-run",
        "service": service_name,
        "revision": revision,
        "tag": CANDIDATE_TAG,
        "url": candidate_url({"trafficStatuses": tagged}),
    }


def build_cloud_run(parent: pulumi.Resource, name: str, spec: ServiceSpec) -> ServiceOutputs:
    """Register the target's resources as children of `parent`."""
    target = spec.target
    assert isinstance(target, CloudRunTarget)
    labels = gcp_labels(spec.manifest, spec.target_name)
    child = pulumi.ResourceOptions(parent=parent)

    repo = gcp.artifactregistry.Repository(
        f"{name}-repo",
        repository_id=fit(spec.base, 63),
        description=f"Images of {spec.manifest.name}",
        format="DOCKER",
        docker_config={"immutable_tags": True},
        cleanup_policy_dry_run=False,
        cleanup_policies=[
            {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": 20}},
            {"id": "delete-old", "action": "DELETE", "condition": {"older_than": "7776000s"}},
        ],
        kms_key_name=target.kms_key,
        labels=labels,
        project=target.project,
        location=target.region,
        opts=child,
    )
    if spec.registry_only:
        return ServiceOutputs.registry_only(repo.registry_uri, repo.repository_id)
    if target.service_account:
        service_account: Any = target.service_account
        sa_key = target.service_account
    else:
        sa_key = service_account_id(spec.base)
        account = gcp.serviceaccount.Account(
            f"{name}-sa",
            account_id=sa_key,
            display_name=f"Cloud Run runtime of {spec.manifest.name} ({spec.target_name})",
            project=target.project,
            opts=child,
        )
        service_account = account.email
    routing_env = cloud_run_routing_grants(parent, name, spec, service_account)

    service_name = fit(spec.base, 49)
    template = _with_environment(_template(spec, service_account, sa_key, labels), routing_env)
    revision = template["revision"]
    service = gcp.cloudrunv2.Service(
        f"{name}-service",
        name=service_name,
        ingress=INGRESS[target.ingress],
        deletion_protection=(
            target.deletion_protection
            if spec.deletion_protection is None
            else spec.deletion_protection
        ),
        labels=labels,
        template=gcp.cloudrunv2.ServiceTemplateArgs(**template),
        traffics=_then(
            revision,
            lambda candidate: [
                gcp.cloudrunv2.ServiceTrafficArgs(**entry)
                for entry in cloud_run_traffic(
                    candidate, spec.stable_version, spec.candidate_percent
                )
            ],
        ),
        opts=pulumi.ResourceOptions(
            parent=parent,
            hooks=gate_binding(spec, service_name, revision) if spec.smoke_gate else None,
        ),
        project=target.project,
        location=target.region,
    )
    members = (["allUsers"] if target.public else []) + list(target.invokers)
    for member in members:
        slug = fit(re.sub(r"[^a-z0-9]+", "-", member.lower()).strip("-"), 40)
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-invoker-{slug}",
            name=service.name,
            role="roles/run.invoker",
            member=member,
            project=target.project,
            location=target.region,
            opts=child,
        )
    build_events(parent, name, spec, service=service, runtime_account=service_account)
    monitoring_resources(parent, name, spec, service_name)
    candidate_address = service.traffic_statuses.apply(
        lambda statuses: _then(
            revision, lambda candidate: _candidate_address(service_name, candidate, statuses)
        )
    )
    return ServiceOutputs(
        endpoint=service.uri,
        candidate_address=candidate_address,
        candidate_version=revision,
        stable_version=spec.stable_version or revision,
        registry=repo.registry_uri,
        resource_names={
            "service": service.name,
            "revision": revision,
            "repository": repo.repository_id,
            "service_account": service_account,
        },
    )
