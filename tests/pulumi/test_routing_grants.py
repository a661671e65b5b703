"""The grants a routed entry gets for its tiers, under Pulumi's mocks: the exact resources and
policy documents for each kind of hop (Lambda to Lambda, Cloud Run to Cloud Run, Lambda to
Cloud Run through Workload Identity Federation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from example_copies import copy_example
from offline_deploy import DIGITS, ECR_IMAGE, GCP_IMAGE, IRIS

from modelstack.errors import ManifestError
from modelstack.manifest import load_manifest
from modelstack.providers.aws_lambda import routing_grants as lambda_grants
from modelstack.providers.gcp_cloud_run import routing_grants as run_grants
from modelstack.providers.routing_grants import CloudTier
from modelstack.pulumi import ModelServiceArgs
from modelstack.pulumi.offline import MOCK_ACCOUNT, MOCK_PROJECT_NUMBER, RecordingMonitor
from modelstack.pulumi.spec import ServiceSpec, resolve

ROLE_ARN = f"arn:aws:iam::{MOCK_ACCOUNT}:role/iris-prod-exec"


def renamed_copy(example: str, name: str, destination: Path) -> Path:
    """A copy of an example whose model is called `name` (so its resources are named anew)."""
    copy_example(example, destination)
    manifest = destination / "modelstack.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = load_manifest(manifest).name
    manifest.write_text(text.replace(f"name: {old}\n", f"name: {name}\n", 1), encoding="utf-8")
    return manifest


def tier(path: Path, target: str, name: str = "large") -> CloudTier:
    manifest = load_manifest(path)
    return CloudTier(name, manifest, target, manifest.targets[target], 1500)


def run(monitor: RecordingMonitor, program: Any) -> tuple[list[Any], Any]:
    """Run `program(parent)` under the mocks; the registrations (parent and role left out)
    and what it returned, resolved."""
    monitor.clear()
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def body() -> pulumi.Output[Any]:
        parent = pulumi.ComponentResource("test:index:Entry", "entry")
        result = pulumi.Output.from_input(program(parent))
        return result.apply(lambda value: holder.update(value=value))

    body()
    recorded = [r for r in monitor.recorded if r.name not in ("entry", "entry-role")]
    return recorded, holder.get("value")


def lambda_entry() -> ServiceSpec:
    return resolve(ModelServiceArgs(manifest=IRIS, image=ECR_IMAGE, smoke_gate=False))


def role(parent: pulumi.Resource) -> aws.iam.Role:
    return aws.iam.Role(
        "entry-role", name="iris-prod-exec", assume_role_policy="{}",
        opts=pulumi.ResourceOptions(parent=parent),
    )  # fmt: skip


def test_a_lambda_tier_gets_invoke_on_exactly_its_alias(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    large = tier(renamed_copy("iris", "iris-large", tmp_path / "large"), "prod")
    spec = lambda_entry()
    recorded, env = run(
        monitor, lambda p: lambda_grants.grant_tiers(p, "svc", spec, role(p), (large,))
    )
    assert [(r.type, r.name) for r in recorded] == [
        ("aws:iam/rolePolicy:RolePolicy", "svc-routing-policy")
    ]
    policy = recorded[0].inputs
    assert policy["name"] == "modelstack-routing"
    assert json.loads(policy["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeRoutingTiers",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [
                    f"arn:aws:lambda:eu-west-1:{MOCK_ACCOUNT}:function:iris-large-prod:live"
                ],
            }
        ],
    }
    assert json.loads(env[lambda_grants.TIERS_ENV]) == {
        "large": {
            "kind": "aws-lambda",
            "model_name": "iris-large",
            "function_name": "iris-large-prod",
            "qualifier": "live",
            "region": "eu-west-1",
            "timeout_ms": 1500,
        }
    }


def test_a_cloud_run_tier_gets_run_invoker_for_the_entrys_account(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    gpu = tier(DIGITS, "gpu", name="gpu")
    entry = renamed_copy("digits-gpu", "digits-small", tmp_path / "small")
    spec = resolve(ModelServiceArgs(manifest=entry, image=GCP_IMAGE, smoke_gate=False))
    account = "digits-small-gpu-run@vision-prod-4821.iam.gserviceaccount.com"
    recorded, _ = run(monitor, lambda p: run_grants.grant_tiers(p, "svc", spec, account, (gpu,)))
    assert [(r.type, r.name) for r in recorded] == [
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "svc-routing-gpu-invoker")
    ]
    assert recorded[0].inputs == {
        "name": "digits-gpu",
        "role": "roles/run.invoker",
        "member": f"serviceAccount:{account}",
        "project": "vision-prod-4821",
        "location": "us-central1",
    }


def test_a_cloud_run_tier_of_a_lambda_entry_is_federated(monitor: RecordingMonitor) -> None:
    gpu = tier(DIGITS, "gpu", name="gpu")
    spec = lambda_entry()
    recorded, env = run(
        monitor, lambda p: lambda_grants.grant_tiers(p, "svc", spec, role(p), (gpu,))
    )
    by_type = {r.type.split(":")[1]: r.inputs for r in recorded}
    assert len(recorded) == len(by_type) == 5
    assert sorted(by_type) == [
        "cloudrunv2/serviceIamMember",
        "iam/workloadIdentityPool",
        "iam/workloadIdentityPoolProvider",
        "serviceaccount/account",
        "serviceaccount/iAMMember",
    ]
    pool = by_type["iam/workloadIdentityPool"]
    assert pool["workloadIdentityPoolId"] == "ms-iris-prod-gpu"
    assert pool["project"] == "vision-prod-4821"
    provider = by_type["iam/workloadIdentityPoolProvider"]
    assert provider["workloadIdentityPoolId"] == "ms-iris-prod-gpu"
    assert provider["aws"] == {"accountId": MOCK_ACCOUNT}
    assert provider["attributeCondition"] == (
        f"assertion.arn.startsWith('arn:aws:sts::{MOCK_ACCOUNT}:assumed-role/iris-prod-exec/')"
    )
    role_of = "assertion.arn.extract('assumed-role/{role}/')"
    assert provider["attributeMapping"] == {
        "google.subject": role_of,
        "attribute.aws_role": role_of,
    }
    email = "iris-prod-to-gpu@vision-prod-4821.iam.gserviceaccount.com"
    assert by_type["serviceaccount/account"]["accountId"] == "iris-prod-to-gpu"
    pool_name = (
        f"projects/{MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/ms-iris-prod-gpu"
    )
    assert by_type["serviceaccount/iAMMember"] == {
        "serviceAccountId": f"projects/vision-prod-4821/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": f"principalSet://iam.googleapis.com/{pool_name}/attribute.aws_role/iris-prod-exec",
    }
    assert by_type["cloudrunv2/serviceIamMember"] == {
        "name": "digits-gpu",
        "role": "roles/run.invoker",
        "member": f"serviceAccount:{email}",
        "project": "vision-prod-4821",
        "location": "us-central1",
    }
    address = json.loads(env[lambda_grants.TIERS_ENV])["gpu"]
    assert address["kind"] == "cloud-run-federated" and address["model_name"] == "digits"
    assert address["url"] == f"https://digits-gpu-{MOCK_PROJECT_NUMBER}.us-central1.run.app"
    assert address["service_account"] == email
    config = address["credential_config"]
    assert config["audience"] == f"//iam.googleapis.com/{pool_name}/providers/aws-lambda"
    assert config["subject_token_type"] == "urn:ietf:params:aws:token-type:aws4_request"
    assert config["credential_source"]["environment_id"] == "aws1"
    assert "service_account_impersonation_url" not in config  # the federated token mints it


def test_a_local_tier_of_a_cloud_entry_is_refused(monitor: RecordingMonitor) -> None:
    local = tier(IRIS, "local")
    spec = lambda_entry()
    with pytest.raises(ManifestError, match="'large' is a local target"):
        run(monitor, lambda p: lambda_grants.grant_tiers(p, "svc", spec, role(p), (local,)))


def test_an_entry_without_routing_gets_no_grants(deploy: Any) -> None:
    d = deploy(manifest=IRIS, image=ECR_IMAGE)
    assert [r.name for r in d.of_type("RolePolicy")] == ["svc-role-policy"]
    environment = d.one("lambda/function:Function").inputs.get("environment") or {}
    assert lambda_grants.TIERS_ENV not in environment.get("variables", {})


def routed_entry(tmp_path: Path, tiers: str) -> Path:
    """A copy of examples/iris routed to `tiers` (YAML under routing.tiers)."""
    manifest = copy_example("iris", tmp_path / "entry") / "modelstack.yaml"
    escalate = "  escalate:\n" + "".join(
        f"    - {{to: {name}, output: probabilities, when: {{max_prob_below: 0.8}}}}\n"
        for name in ("large", "gpu")
        if f"{name}:" in tiers
    )
    with manifest.open("a", encoding="utf-8") as out:
        out.write(f"routing:\n  tiers:\n{tiers}{escalate}")
    return manifest


def test_plan_of_a_routed_lambda_entry_grants_both_tiers(deploy: Any, tmp_path: Path) -> None:
    renamed_copy("iris", "iris-large", tmp_path / "large")
    tiers = (
        "    large: {to: ../large/modelstack.yaml#prod, timeout_ms: 1500}\n"
        f"    gpu: {{to: {DIGITS}#gpu}}\n"
    )
    d = deploy(manifest=routed_entry(tmp_path, tiers), image=ECR_IMAGE)
    routing = next(r for r in d.of_type("RolePolicy") if r.name == "svc-routing-policy")
    assert json.loads(routing.inputs["policy"])["Statement"][0]["Resource"] == [
        f"arn:aws:lambda:eu-west-1:{MOCK_ACCOUNT}:function:iris-large-prod:live"
    ]
    assert routing.parent_name == "svc"
    assert len(d.of_type("WorkloadIdentityPoolProvider")) == 1
    variables = d.one("lambda/function:Function").inputs["environment"]["variables"]
    tiers_env = json.loads(variables[lambda_grants.TIERS_ENV])
    assert sorted(tiers_env) == ["gpu", "large"]
    assert tiers_env["large"]["timeout_ms"] == 1500 and tiers_env["gpu"]["timeout_ms"] == 2000


def test_plan_of_a_routed_cloud_run_entry_grants_run_invoker(deploy: Any, tmp_path: Path) -> None:
    entry = renamed_copy("digits-gpu", "digits-small", tmp_path / "small")
    with entry.open("a", encoding="utf-8") as out:
        out.write(
            f"routing:\n  tiers:\n    gpu: {{to: {DIGITS}#gpu}}\n  escalate:\n"
            "    - {to: gpu, output: probabilities, when: {max_prob_below: 0.8}}\n"
        )
    d = deploy(manifest=entry, image=GCP_IMAGE)
    member = next(r for r in d.of_type("ServiceIamMember") if "routing" in r.name)
    assert member.inputs["name"] == "digits-gpu"
    assert member.inputs["member"] == (
        "serviceAccount:digits-small-gpu-run@vision-prod-4821.iam.gserviceaccount.com"
    )


def test_a_routed_cloud_run_entry_finds_its_tier_at_the_tiers_own_service_url(
    deploy: Any, tmp_path: Path
) -> None:
    entry = renamed_copy("digits-gpu", "digits-small", tmp_path / "small")
    with entry.open("a", encoding="utf-8") as out:
        out.write(
            f"routing:\n  tiers:\n    gpu: {{to: {DIGITS}#gpu, timeout_ms: 3000}}\n  escalate:\n"
            "    - {to: gpu, output: probabilities, when: {max_prob_below: 0.8}}\n"
        )
    d = deploy(manifest=entry, image=GCP_IMAGE)
    (container,) = d.one("cloudrunv2/service:Service").inputs["template"]["containers"]
    envs = {e["name"]: e["value"] for e in container["envs"]}
    member = next(r for r in d.of_type("ServiceIamMember") if "routing" in r.name)
    assert json.loads(envs[lambda_grants.TIERS_ENV]) == {
        "gpu": {
            "kind": "cloud-run",
            "model_name": load_manifest(DIGITS).name,
            # the service the invoker grant names, at its project's deterministic URL
            "url": f"https://{member.inputs['name']}-{MOCK_PROJECT_NUMBER}.us-central1.run.app",
            "timeout_ms": 3000,
        }
    }


def test_a_cloud_run_entry_without_routing_has_no_tier_addresses(deploy: Any) -> None:
    d = deploy(manifest=DIGITS, image=GCP_IMAGE)
    (container,) = d.one("cloudrunv2/service:Service").inputs["template"]["containers"]
    assert lambda_grants.TIERS_ENV not in {e["name"] for e in container.get("envs", [])}
