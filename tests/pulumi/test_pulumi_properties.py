"""Properties that hold for every target setting (hypothesis generates the settings)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offline_deploy import (
    DIGITS,
    ECR_IMAGE,
    GCP_IMAGE,
    IRIS,
    Deployment,
    deploy_offline,
)

from modelstack.manifest import load_manifest
from modelstack.manifest.model import (
    Alarms,
    AwsLambdaTarget,
    CloudRunTarget,
    FunctionUrl,
    GpuSpec,
    ProvisionedConcurrency,
    Schedule,
)
from modelstack.providers.aws_lambda.policies import WILDCARD_EXCEPTIONS
from modelstack.pulumi.offline import RecordingMonitor

IRIS_MANIFEST = load_manifest(IRIS)
DIGITS_MANIFEST = load_manifest(DIGITS)
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

kms_keys = st.none() | st.just("arn:aws:kms:eu-west-1:123456789012:key/abcd")
schedules = st.lists(
    st.builds(
        Schedule,
        name=st.sampled_from(["business-hours", "nights", "weekend"]),
        schedule=st.just("cron(0 8 ? * MON-FRI *)"),
        min=st.integers(0, 3),
        max=st.integers(3, 6),
    ),
    max_size=2,
    unique_by=lambda s: s.name,
)
provisioned = st.none() | st.builds(
    ProvisionedConcurrency,
    min=st.integers(0, 5),
    max=st.integers(5, 10),
    target_utilization=st.sampled_from([0.5, 0.7, 0.9]),
    attach_to=st.sampled_from(["version", "alias"]),
    schedules=schedules.map(tuple),
)
lambda_targets = st.builds(
    AwsLambdaTarget,
    name=st.just("t"),
    region=st.sampled_from(["eu-west-1", "us-east-1"]),
    memory_mb=st.integers(128, 10240),
    timeout_s=st.integers(1, 900),
    architecture=st.sampled_from(["x86_64", "arm64"]),
    reserved_concurrency=st.none() | st.integers(10, 100),
    provisioned_concurrency=provisioned,
    function_url=st.builds(
        FunctionUrl, enabled=st.booleans(), auth=st.sampled_from(["AWS_IAM", "NONE"])
    ),
    kms_key_arn=kms_keys,
    tracing=st.booleans(),
    alarms=st.builds(
        Alarms,
        errors=st.booleans(),
        throttles=st.booleans(),
        p99_latency_ms=st.none() | st.floats(1, 5000),
    ),
)
rollouts = st.tuples(st.none() | st.sampled_from(["3", "41"]), st.integers(0, 100))


def deploy_target(
    monitor: RecordingMonitor, manifest: Any, target: Any, **fields: Any
) -> Deployment:
    manifest = dataclasses.replace(manifest, targets={"t": target})
    return deploy_offline(monitor, manifest=manifest, target="t", lint=False, **fields)


def assert_children_parented(d: Deployment) -> None:
    assert d.root.parent.endswith("pulumi:pulumi:Stack::modelstack-tests-test")
    assert d.children
    for child in d.children:
        assert child.parent == d.root.urn, f"{child.name} is not a child of the component"


def assert_policy_scoped(d: Deployment, target: AwsLambdaTarget) -> None:
    log_group = d.one("logGroup:LogGroup").inputs["name"]
    for statement in d.policy()["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        assert all("*" not in action for action in actions), actions
        if "*" in resources:
            # X-Ray has no resource-level permissions: AWS requires "*" (see aws_policies).
            assert set(actions) <= WILDCARD_EXCEPTIONS and target.tracing
            continue
        for resource in resources:
            if resource.startswith("arn:aws:logs:"):
                assert resource.endswith(f":log-group:{log_group}:*"), resource
            else:
                assert resource == target.kms_key_arn, resource
    actions = {a for s in d.policy()["Statement"] for a in s["Action"]}
    assert ("kms:Decrypt" in actions) == bool(target.kms_key_arn)
    assert ("xray:PutTraceSegments" in actions) == target.tracing
    role = d.one("iam/role:Role").inputs
    assert not role.get("managedPolicyArns")
    assume = json.loads(role["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in assume] == [{"Service": "lambda.amazonaws.com"}]


@PROPERTY_SETTINGS
@given(target=lambda_targets, rollout=rollouts)
def test_lambda_properties(
    monitor: RecordingMonitor, target: AwsLambdaTarget, rollout: tuple[str | None, int]
) -> None:
    stable, percent = rollout
    pc = target.provisioned_concurrency
    weighted = stable is not None and 0 < percent < 100
    if pc is not None and pc.attach_to == "alias" and weighted:
        return  # refused before any resource exists (test_pulumi_bad_input)
    d = deploy_target(
        monitor, IRIS_MANIFEST, target, image=ECR_IMAGE, stable_version=stable,
        candidate_percent=percent,
    )  # fmt: skip
    assert_children_parented(d)
    assert_policy_scoped(d, target)

    fn = d.one("lambda/function:Function").inputs
    assert fn["memorySize"] == target.memory_mb and fn["timeout"] == target.timeout_s
    assert fn["imageUri"] == ECR_IMAGE and fn["publish"] is True

    alias = d.one("lambda/alias:Alias").inputs
    weights = (alias.get("routingConfig") or {}).get("additionalVersionWeights") or {}
    assert bool(weights) == weighted
    if weighted:
        assert alias["functionVersion"] == stable
        assert weights == {"1": round(percent / 100, 2)}
    for config in d.of_type("ProvisionedConcurrencyConfig"):
        # Never on a weighted alias: on the candidate version, or on an unweighted alias.
        if config.inputs["qualifier"] == "live":
            assert not weights
        else:
            assert config.inputs["qualifier"] == "1"
    assert len(d.of_type("ProvisionedConcurrencyConfig")) == (pc is not None)
    assert len(d.of_type("ScheduledAction")) == (len(pc.schedules) if pc else 0)

    permissions = d.of_type("lambda/permission:Permission")
    public = target.function_url.enabled and target.function_url.auth == "NONE"
    assert bool(permissions) == public
    assert len(d.of_type("FunctionUrl")) == int(target.function_url.enabled)
    for url in d.of_type("FunctionUrl"):
        assert url.inputs["authorizationType"] == target.function_url.auth
        assert url.inputs["qualifier"] == "live"


cloud_run_targets = st.builds(
    CloudRunTarget,
    name=st.just("t"),
    project=st.just("proj-123456"),
    region=st.sampled_from(["us-central1", "europe-west4"]),
    cpu=st.sampled_from([1, 2, 4, 8]),
    memory=st.sampled_from(["512Mi", "2Gi", "16Gi", "32Gi"]),
    gpu=st.none() | st.builds(GpuSpec, type=st.just("nvidia-l4"), zonal_redundancy=st.booleans()),
    cpu_always_allocated=st.booleans(),
    min_instances=st.integers(0, 2),
    max_instances=st.integers(2, 5),
    concurrency=st.integers(1, 80),
    ingress=st.sampled_from(["internal", "internal-and-cloud-load-balancing", "all"]),
    public=st.booleans(),
    invokers=st.lists(
        st.sampled_from(["user:a@example.com", "group:ml@example.com"]), unique=True
    ).map(tuple),
    deletion_protection=st.booleans(),
)


@PROPERTY_SETTINGS
@given(target=cloud_run_targets, rollout=rollouts)
def test_cloud_run_properties(
    monitor: RecordingMonitor, target: CloudRunTarget, rollout: tuple[str | None, int]
) -> None:
    stable, percent = rollout
    d = deploy_target(
        monitor, DIGITS_MANIFEST, target, image=GCP_IMAGE, stable_version=stable,
        candidate_percent=percent,
    )  # fmt: skip
    assert_children_parented(d)
    service = d.one("cloudrunv2/service:Service").inputs
    template = service["template"]
    resources = template["containers"][0]["resources"]
    if target.gpu is not None:
        assert resources["limits"]["nvidia.com/gpu"] == "1"
        assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
        assert template["gpuZonalRedundancyDisabled"] is (not target.gpu.zonal_redundancy)
        assert resources["cpuIdle"] is False
    else:
        assert "nvidia.com/gpu" not in resources["limits"]
        assert "nodeSelector" not in template
        assert resources["cpuIdle"] is (not target.cpu_always_allocated)
    assert service["deletionProtection"] is target.deletion_protection

    members = [r.inputs["member"] for r in d.of_type("ServiceIamMember")]
    assert ("allUsers" in members) == target.public
    assert sorted(m for m in members if m != "allUsers") == sorted(target.invokers)
    assert not any(m == "allAuthenticatedUsers" for m in members)

    traffic = service["traffics"]
    assert sum(t["percent"] for t in traffic) == 100
    candidate = [t for t in traffic if t["tag"] == "candidate"]
    assert candidate and candidate[0]["revision"] == template["revision"]
    if stable is not None:
        assert candidate[0]["percent"] == percent
