"""Every option of each target provider, and the traffic split of each rollout step."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from offline_deploy import DIGITS, ECR_IMAGE, FIXTURES, GCP_IMAGE, IRIS, Deploy

from modelstack.manifest import load_manifest
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget

LAMBDA_FULL = FIXTURES / "lambda-full.yaml"
CLOUD_RUN_CPU = FIXTURES / "cloudrun-cpu.yaml"


def test_lambda_with_kms_tracing_and_a_public_url(deploy: Deploy) -> None:
    target = load_manifest(LAMBDA_FULL).targets["edge"]
    assert isinstance(target, AwsLambdaTarget) and target.kms_key_arn
    d = deploy(manifest=LAMBDA_FULL, image=ECR_IMAGE)
    types = Counter(r.type.split(":")[1] for r in d.resources)
    assert types["cloudwatch/metricAlarm"] == 0
    assert types["lambda/permission"] == 2
    assert types["appautoscaling/scheduledAction"] == 1

    fn = d.one("lambda/function:Function").inputs
    assert fn["architectures"] == ["arm64"]
    assert fn["memorySize"] == 2048 and fn["timeout"] == 60
    assert fn["ephemeralStorage"] == {"size": 1024}
    assert fn["environment"] == {"variables": {"LOG_LEVEL": "debug"}}
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["kmsKeyArn"] == target.kms_key_arn
    assert fn["tags"]["cost-center"] == "research"
    assert "reservedConcurrentExecutions" not in fn

    repo = d.one("ecr/repository:Repository").inputs
    assert repo["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": target.kms_key_arn}
    ]
    logs = d.one("logGroup:LogGroup").inputs
    assert logs["kmsKeyId"] == target.kms_key_arn and logs["retentionInDays"] == 90

    statements = {s["Sid"]: s for s in d.policy()["Statement"]}
    assert statements["DecryptWithTargetKey"]["Resource"] == [target.kms_key_arn]
    assert statements["DecryptWithTargetKey"]["Action"] == ["kms:Decrypt"]
    assert statements["WriteTraces"]["Resource"] == ["*"]  # X-Ray: no resource-level permissions

    permissions = {r.inputs["action"]: r.inputs for r in d.of_type("Permission")}
    assert permissions["lambda:InvokeFunctionUrl"]["functionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["invokedViaFunctionUrl"] is True
    assert all(p["qualifier"] == "live" and p["principal"] == "*" for p in permissions.values())
    assert d.one("FunctionUrl").inputs["authorizationType"] == "NONE"

    provisioned = d.one("ProvisionedConcurrencyConfig").inputs
    assert provisioned["provisionedConcurrentExecutions"] == 2 and provisioned["qualifier"] == "1"
    policy = d.one("appautoscaling/policy:Policy").inputs
    assert policy["targetTrackingScalingPolicyConfiguration"]["targetValue"] == 0.6


def test_public_cpu_cloud_run_with_its_own_service_account(deploy: Deploy) -> None:
    target = load_manifest(CLOUD_RUN_CPU).targets["web"]
    assert isinstance(target, CloudRunTarget)
    d = deploy(manifest=CLOUD_RUN_CPU, image=GCP_IMAGE)
    assert not d.of_type("serviceaccount/account:Account")
    service = d.one("cloudrunv2/service:Service").inputs
    template = service["template"]
    container = template["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1024Mi"}
    assert container["resources"]["cpuIdle"] is True
    assert container["envs"] == [{"name": "MODEL_NAME", "value": "iris"}]
    assert "nodeSelector" not in template and "gpuZonalRedundancyDisabled" not in template
    assert template["serviceAccount"] == target.service_account
    assert template["encryptionKey"] == target.kms_key
    assert template["timeout"] == "60s"
    assert service["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert service["deletionProtection"] is False
    members = sorted(r.inputs["member"] for r in d.of_type("ServiceIamMember"))
    assert members == ["allUsers", "group:ml-team@example.com"]
    repo = d.one("artifactregistry/repository:Repository").inputs
    assert repo["kmsKeyName"] == target.kms_key


@pytest.mark.parametrize(
    ("stable", "percent", "version", "weights"),
    [
        (None, 0, "1", {}),  # first deployment: the only version takes all traffic
        ("3", 0, "3", {}),  # candidate deployed, no traffic yet
        ("3", 10, "3", {"1": 0.1}),  # canary step
        ("3", 100, "1", {}),  # promoted
    ],
)
def test_lambda_rollout_steps(
    deploy: Deploy, stable: str | None, percent: int, version: str, weights: dict[str, float]
) -> None:
    d = deploy(manifest=IRIS, image=ECR_IMAGE, stable_version=stable, candidate_percent=percent)
    alias = d.one("lambda/alias:Alias").inputs
    assert alias["functionVersion"] == version
    assert ((alias.get("routingConfig") or {}).get("additionalVersionWeights") or {}) == weights
    assert d.one("ProvisionedConcurrencyConfig").inputs["qualifier"] == "1"
    assert d.outputs["candidate_version"] == "1"
    assert d.outputs["stable_version"] == (stable or "1")


def test_cloud_run_canary_traffic_and_memory_override(deploy: Deploy) -> None:
    d = deploy(
        manifest=DIGITS, image=GCP_IMAGE, stable_version="digits-gpu-old", candidate_percent=25,
        memory_mb=20480,
    )  # fmt: skip
    service = d.one("cloudrunv2/service:Service")
    revision = service.inputs["template"]["revision"]
    assert [(t["revision"], t["percent"], t["tag"]) for t in service.inputs["traffics"]] == [
        ("digits-gpu-old", 75, "stable"),
        (revision, 25, "candidate"),
    ]
    limits = service.inputs["template"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "20480Mi"
    assert set(service.hooks) == {"before_update"}
    assert d.outputs["stable_version"] == "digits-gpu-old"


def test_revision_name_follows_digest_and_settings(deploy: Deploy) -> None:
    first = deploy(manifest=DIGITS, image=GCP_IMAGE).outputs["candidate_version"]
    manifest = load_manifest(DIGITS)
    bumped = dataclasses.replace(
        manifest, metadata=dataclasses.replace(manifest.metadata, version="2.2.0")
    )
    new_version = deploy(manifest=bumped, image=GCP_IMAGE, lint=False).outputs
    again = deploy(manifest=DIGITS, image=GCP_IMAGE).outputs["candidate_version"]
    other_image = deploy(manifest=DIGITS, image=GCP_IMAGE.replace("ab", "cd")).outputs
    more_memory = deploy(manifest=DIGITS, image=GCP_IMAGE, memory_mb=32768).outputs
    assert first == again
    assert other_image["candidate_version"] != first
    assert more_memory["candidate_version"] != first
    assert new_version["candidate_version"] != first  # labels carry the version
    assert len(first) <= 63 and first.startswith("digits-gpu-")
