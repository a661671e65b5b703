"""The full resource set of each example manifest, checked against the manifest's own values."""

from __future__ import annotations

import json
from collections import Counter

from offline_deploy import DIGEST, DIGITS, ECR_IMAGE, GCP_IMAGE, IRIS, Deploy

from modelstack.manifest import load_manifest
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget
from modelstack.pulumi.offline import MOCK_ACCOUNT

LAMBDA_TYPES = {
    "modelstack:index:ModelService": 1,
    "aws:ecr/repository:Repository": 1,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": 1,
    "aws:iam/role:Role": 1,
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:lambda/function:Function": 1,
    "aws:lambda/alias:Alias": 1,
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": 1,
    "aws:appautoscaling/target:Target": 1,
    "aws:appautoscaling/policy:Policy": 1,
    "aws:lambda/functionUrl:FunctionUrl": 1,
}


def test_iris_prod_lambda(deploy: Deploy) -> None:
    target = load_manifest(IRIS).targets["prod"]
    assert isinstance(target, AwsLambdaTarget) and target.provisioned_concurrency is not None
    pc = target.provisioned_concurrency
    d = deploy(manifest=str(IRIS), target="prod", image=ECR_IMAGE)

    expected = Counter(LAMBDA_TYPES)
    expected["aws:appautoscaling/scheduledAction:ScheduledAction"] = len(pc.schedules)
    expected["aws:cloudwatch/metricAlarm:MetricAlarm"] = 3  # errors, throttles, p99
    assert Counter(r.type for r in d.resources) == expected

    fn = d.one("lambda/function:Function").inputs
    assert fn["packageType"] == "Image"
    assert fn["imageUri"] == ECR_IMAGE
    assert fn["memorySize"] == target.memory_mb and isinstance(fn["memorySize"], int)
    assert fn["timeout"] == target.timeout_s
    assert fn["architectures"] == [target.architecture]
    assert fn["ephemeralStorage"] == {"size": target.ephemeral_storage_mb}
    assert fn["reservedConcurrentExecutions"] == target.reserved_concurrency
    assert fn["publish"] is True
    # The example's own numbers, written out: a wrong default in the loader cannot hide here.
    assert (fn["memorySize"], fn["timeout"], fn["reservedConcurrentExecutions"]) == (1024, 10, 20)
    assert fn["tags"]["team"] == "ml" and fn["tags"]["modelstack:target"] == "prod"
    assert "tracingConfig" not in fn

    logs = d.one("logGroup:LogGroup").inputs
    assert logs["retentionInDays"] == target.log_retention_days
    assert logs["name"] == f"/aws/lambda/{fn['name']}"
    assert fn["loggingConfig"]["logGroup"] == logs["name"]

    repo = d.one("ecr/repository:Repository").inputs
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    lifecycle = json.loads(d.one("LifecyclePolicy").inputs["policy"])
    assert lifecycle["rules"][0]["selection"]["countType"] == "imageCountMoreThan"

    # First deployment: the alias points at the new version, no weights.
    alias = d.one("lambda/alias:Alias")
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionVersion"] == "1"
    assert "routingConfig" not in alias.inputs or not alias.inputs["routingConfig"]
    assert set(alias.hooks) == {"before_create", "before_update"}

    provisioned = d.one("ProvisionedConcurrencyConfig").inputs
    assert provisioned["qualifier"] == "1"  # the version, not the alias
    assert provisioned["provisionedConcurrentExecutions"] == pc.min

    scaling = d.one("appautoscaling/target:Target").inputs
    assert scaling["resourceId"] == f"function:{fn['name']}:1"
    assert scaling["scalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert (scaling["minCapacity"], scaling["maxCapacity"]) == (pc.min, pc.max)
    policy = d.one("appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == pc.target_utilization
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
    }
    actions = {r.inputs["schedule"]: r.inputs for r in d.of_type("ScheduledAction")}
    for schedule in pc.schedules:
        action = actions[schedule.schedule]
        assert action["timezone"] == schedule.timezone
        assert action["scalableTargetAction"] == {
            "minCapacity": schedule.min,
            "maxCapacity": schedule.max,
        }
        assert action["resourceId"] == scaling["resourceId"]

    url = d.one("FunctionUrl").inputs
    assert url["authorizationType"] == target.function_url.auth == "AWS_IAM"
    assert url["qualifier"] == "live"
    assert not d.of_type("lambda/permission:Permission")

    alarms = {r.inputs["metricName"]: r.inputs for r in d.of_type("MetricAlarm")}
    assert alarms["Duration"]["extendedStatistic"] == "p99"
    assert alarms["Duration"]["threshold"] == target.alarms.p99_latency_ms
    assert set(alarms) == {"Errors", "Throttles", "Duration"}
    assert all(a["dimensions"]["Resource"] == f"{fn['name']}:live" for a in alarms.values())

    statements = d.policy()["Statement"]
    assert [s["Action"] for s in statements] == [["logs:CreateLogStream", "logs:PutLogEvents"]]
    region = target.region
    log_arn = f"arn:aws:logs:{region}:{MOCK_ACCOUNT}:log-group:/aws/lambda/{fn['name']}"
    assert statements[0]["Resource"] == [f"{log_arn}:*"]
    assert "managedPolicyArns" not in d.one("iam/role:Role").inputs

    assert d.outputs["image_digest"] == DIGEST
    assert d.outputs["candidate_address"] == {
        "provider": "aws-lambda",
        "function_name": fn["name"],
        "qualifier": "1",
        "region": region,
    }
    assert d.outputs["endpoint"].startswith("https://")
    assert d.outputs["resource_names"]["alias"] == "live"


def test_digits_gpu_cloud_run(deploy: Deploy) -> None:
    target = load_manifest(DIGITS).targets["gpu"]
    assert isinstance(target, CloudRunTarget) and target.gpu is not None
    d = deploy(manifest=str(DIGITS), target="gpu", image=GCP_IMAGE)

    assert Counter(r.type for r in d.resources) == Counter(
        {
            "modelstack:index:ModelService": 1,
            "gcp:artifactregistry/repository:Repository": 1,
            "gcp:serviceaccount/account:Account": 1,
            "gcp:cloudrunv2/service:Service": 1,
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": len(target.invokers),
        }
    )
    service = d.one("cloudrunv2/service:Service")
    inputs = service.inputs
    template = inputs["template"]
    container = template["containers"][0]
    assert container["image"] == GCP_IMAGE
    assert container["resources"]["limits"] == {
        "cpu": "4",
        "memory": target.memory,
        "nvidia.com/gpu": str(target.gpu.count),
    }
    assert container["resources"]["cpuIdle"] is False
    assert template["nodeSelector"] == {"accelerator": target.gpu.type}
    assert template["gpuZonalRedundancyDisabled"] is (not target.gpu.zonal_redundancy)
    probe = container["startupProbe"]
    assert probe["httpGet"]["path"] == "/v2/health/ready"
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 120
    assert template["scaling"] == {
        "minInstanceCount": target.min_instances,
        "maxInstanceCount": target.max_instances,
    }
    assert template["maxInstanceRequestConcurrency"] == target.concurrency
    assert template["revision"].startswith(f"{inputs['name']}-{DIGEST[7:17]}-")
    assert inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert inputs["deletionProtection"] is True
    assert inputs["labels"]["team"] == "vision"
    assert inputs["traffics"] == [
        {
            "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
            "revision": template["revision"],
            "percent": 100,
            "tag": "candidate",
        }
    ]
    account = d.one("serviceaccount/account:Account").inputs
    assert template["serviceAccount"].startswith(account["accountId"] + "@")
    members = {r.inputs["member"] for r in d.of_type("ServiceIamMember")}
    assert members == set(target.invokers)
    assert all(r.inputs["role"] == "roles/run.invoker" for r in d.of_type("ServiceIamMember"))
    repo = d.one("artifactregistry/repository:Repository").inputs
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert repo["format"] == "DOCKER"
    assert {p["action"] for p in repo["cleanupPolicies"]} == {"KEEP", "DELETE"}
    assert set(service.hooks) == {"after_create", "after_update"}
    assert d.outputs["candidate_version"] == template["revision"]
    assert d.outputs["candidate_address"]["url"].startswith("https://candidate---")
