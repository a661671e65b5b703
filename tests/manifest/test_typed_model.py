"""Typed manifest objects: their defaults agree with the schema's, and YAML quirks are smoothed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from modelstack import ManifestError, load_manifest
from modelstack.manifest import manifest_from_source
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.manifest.model import (
    Alarms,
    AwsLambdaTarget,
    BuildSpec,
    CloudRunTarget,
    Expectation,
    FunctionUrl,
    GpuSpec,
    LocalTarget,
    Manifest,
    Metadata,
    ModelSpec,
    ProvisionedConcurrency,
    RolloutSpec,
    RuntimeSpec,
    Schedule,
    SmokeTest,
)
from modelstack.manifest.source import parse_source
from modelstack.manifest.traffic import TrafficSpec
from modelstack.routing.spec import RoutingSpec, Tier, routing_of

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = json.loads((ROOT / "schemas/modelstack.v1.schema.json").read_text())
LAMBDA = "#/$defs/awsLambdaTarget"
PROVISIONED = f"{LAMBDA}/properties/provisioned_concurrency"
SMOKE = "#/$defs/smokeTest"

# Each typed class and the schema object it is built from.
SCHEMA_OF: dict[type, str] = {
    Metadata: "#/properties/metadata",
    ModelSpec: "#/properties/model",
    RuntimeSpec: "#/properties/runtime",
    BuildSpec: "#/properties/build",
    RolloutSpec: "#/properties/rollout",
    AwsLambdaTarget: LAMBDA,
    ProvisionedConcurrency: PROVISIONED,
    Schedule: f"{PROVISIONED}/properties/schedules/items",
    FunctionUrl: f"{LAMBDA}/properties/function_url",
    Alarms: f"{LAMBDA}/properties/alarms",
    CloudRunTarget: "#/$defs/cloudRunTarget",
    GpuSpec: "#/$defs/cloudRunTarget/properties/gpu",
    LocalTarget: "#/$defs/localTarget",
    SmokeTest: SMOKE,
    EvaluationSpec: "#/properties/evaluation",
    TrafficSpec: "#/$defs/traffic",
    Expectation: f"{SMOKE}/properties/expected_outputs/additionalProperties",
    RoutingSpec: "#/properties/routing",
    Tier: "#/properties/routing/properties/tiers/additionalProperties",
}


def pointer(where: str) -> dict[str, Any]:
    node: Any = SCHEMA
    for part in where.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def plain(value: Any) -> Any:
    """Tuples as lists, the way the schema writes defaults."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def schema_objects_with_defaults(node: Any, where: str = "#") -> set[str]:
    """Pointers of every schema object that has a property with a default."""
    found: set[str] = set()
    if isinstance(node, dict):
        if any("default" in p for p in node.get("properties", {}).values()):
            found.add(where)
        for key, value in node.items():
            if key not in ("default", "enum", "const"):
                found |= schema_objects_with_defaults(value, f"{where}/{key}")
    return found


def test_every_schema_object_with_defaults_has_a_typed_class() -> None:
    # The root's only default (smoke_tests: []) is checked through from_document below.
    assert schema_objects_with_defaults(SCHEMA) - {"#"} == set(SCHEMA_OF.values())


@pytest.mark.parametrize("cls", list(SCHEMA_OF), ids=lambda c: c.__name__)
def test_dataclass_defaults_agree_with_the_schema(cls: type) -> None:
    properties = pointer(SCHEMA_OF[cls])["properties"]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, prop in properties.items():
        if "default" in prop or "const" in prop:
            assert name in fields, f"{cls.__name__} has no field {name}"
            wanted = prop.get("default", prop.get("const"))
            assert plain(field_default(fields[name])) == wanted, f"{cls.__name__}.{name}"
    for name, field in fields.items():
        default = field_default(field)
        if name not in properties or default is dataclasses.MISSING:
            continue
        if dataclasses.is_dataclass(default):
            continue  # a nested object: its own class is checked
        if "default" not in properties[name] and "const" not in properties[name]:
            # Without a schema default, the typed default may only mean "not set".
            assert default in (None, ""), f"{cls.__name__}.{name} = {default!r}"


MINIMAL = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: m, version: '1'}
model: {path: model.onnx, sha256: %s}
targets:
  aws: {provider: aws-lambda, region: us-east-1, provisioned_concurrency: {},
        function_url: {}, alarms: {}}
  aws2:
    provider: aws-lambda
    region: us-east-1
    provisioned_concurrency:
      schedules: [{name: s, schedule: rate(1 hour), min: 0, max: 1}]
  run: {provider: gcp-cloud-run, project: my-project, region: us-central1}
  gpu: {provider: gcp-cloud-run, project: my-project, region: us-central1, gpu: {type: nvidia-l4}}
  dev: {provider: local}
smoke_tests:
  - name: t
    inputs: {x: {data: [1]}}
  - name: u
    inputs_file: inputs.npz
    expected_outputs: {y: {data: [1]}}
evaluation:
  task: any
  datasets:
    - name: d
      path: d.csv
      sha256: 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'
traffic: {requests_per_month: 1000}
routing: {tiers: {big: {to: b/modelstack.yaml#local}}}
""" % ("ab" * 32)


def minimal(text: str = MINIMAL) -> Manifest:
    return manifest_from_source(parse_source(text))


def test_values_from_a_minimal_document_are_the_schema_defaults() -> None:
    manifest = minimal()
    aws, aws2 = manifest.targets["aws"], manifest.targets["aws2"]
    assert isinstance(aws, AwsLambdaTarget) and isinstance(aws2, AwsLambdaTarget)
    assert aws.provisioned_concurrency is not None and aws2.provisioned_concurrency is not None
    gpu = manifest.targets["gpu"]
    assert isinstance(gpu, CloudRunTarget) and gpu.gpu is not None
    test, other = manifest.smoke_tests
    objects: dict[type, Any] = {
        Metadata: manifest.metadata,
        ModelSpec: manifest.model,
        RuntimeSpec: manifest.runtime,
        BuildSpec: manifest.build,
        RolloutSpec: manifest.rollout,
        AwsLambdaTarget: aws,
        ProvisionedConcurrency: aws.provisioned_concurrency,
        Schedule: aws2.provisioned_concurrency.schedules[0],
        FunctionUrl: aws.function_url,
        Alarms: aws.alarms,
        CloudRunTarget: manifest.targets["run"],
        GpuSpec: gpu.gpu,
        LocalTarget: manifest.targets["dev"],
        SmokeTest: test,
        Expectation: other.expected_outputs["y"],
        EvaluationSpec: manifest.evaluation,
        TrafficSpec: manifest.traffic,
    }
    routing = routing_of(manifest)
    assert routing is not None
    objects |= {RoutingSpec: routing, Tier: routing.tiers["big"]}
    assert set(objects) == set(SCHEMA_OF)
    checked = 0
    for cls, obj in objects.items():
        assert type(obj) is cls
        for name, prop in pointer(SCHEMA_OF[cls])["properties"].items():
            if "default" in prop:
                assert plain(getattr(obj, name)) == prop["default"], f"{cls.__name__}.{name}"
                checked += 1
    assert checked >= 50


def test_no_smoke_tests_by_default() -> None:
    text = MINIMAL[: MINIMAL.index("smoke_tests:")]
    assert minimal(text).smoke_tests == ()
    assert SCHEMA["properties"]["smoke_tests"]["default"] == []


def test_yaml_floats_that_are_integers_become_int() -> None:
    text = MINIMAL.replace(
        "aws: {provider: aws-lambda,",
        "aws: {provider: aws-lambda, memory_mb: 1024.0, timeout_s: 30.0,"
        " reserved_concurrency: 5.0,",
    ).replace(
        "name: s, schedule: rate(1 hour), min: 0, max: 1",
        "name: s, schedule: rate(1 h), min: 0.0, max: 2.0",
    )
    text = text.replace("dev: {provider: local}", "dev: {provider: local, port: 9000.0}")
    text += "rollout: {strategy: canary, steps: [10.0, 100.0], interval_s: 5.0}\n"
    manifest = minimal(text)
    aws, aws2 = manifest.targets["aws"], manifest.targets["aws2"]
    assert isinstance(aws, AwsLambdaTarget) and isinstance(aws2, AwsLambdaTarget)
    values = [aws.memory_mb, aws.timeout_s, aws.reserved_concurrency]
    assert aws2.provisioned_concurrency is not None
    schedule = aws2.provisioned_concurrency.schedules[0]
    values += [schedule.min, schedule.max, manifest.rollout.interval_s, *manifest.rollout.steps]
    dev = manifest.targets["dev"]
    assert isinstance(dev, LocalTarget)
    values.append(dev.port)
    assert values == [1024, 30, 5, 0, 2, 5, 10, 100, 9000]
    assert all(type(v) is int for v in values)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{provider: gcp-cloud-run, project: my-project, region: us-central1}", False),
        (
            "{provider: gcp-cloud-run, project: my-project, region: us-central1, "
            "gpu: {type: nvidia-l4}}",
            True,
        ),
        (
            "{provider: gcp-cloud-run, project: my-project, region: us-central1, "
            "gpu: {type: nvidia-l4}, cpu_always_allocated: false}",
            False,
        ),
        (
            "{provider: gcp-cloud-run, project: my-project, region: us-central1, "
            "cpu_always_allocated: true}",
            True,
        ),
    ],
)
def test_a_gpu_implies_cpu_always_allocated_unless_set(target: str, expected: bool) -> None:
    text = MINIMAL.replace(
        "run: {provider: gcp-cloud-run, project: my-project, region: us-central1}", "run: " + target
    )
    run = minimal(text).targets["run"]
    assert isinstance(run, CloudRunTarget)
    assert run.cpu_always_allocated is expected


@pytest.mark.parametrize(("memory", "mib"), [("512Mi", 512), ("16Gi", 16384), ("2Gi", 2048)])
def test_cloud_run_memory_in_mib(memory: str, mib: int) -> None:
    target = CloudRunTarget(name="r", project="my-project", region="us-central1", memory=memory)
    assert target.memory_mib == mib


def test_expectations_are_typed() -> None:
    text = MINIMAL.replace(
        "expected_outputs: {y: {data: [1]}}",
        "expected_outputs: {y: {argmax: 2, atol: 0, top_k: {k: 3, includes: [1, 2]}}, "
        "z: {argmax: [0, 1]}}",
    )
    outputs = minimal(text).smoke_tests[1].expected_outputs
    assert outputs["y"].argmax == (2,)
    assert outputs["y"].atol == 0.0 and type(outputs["y"].atol) is float
    assert outputs["y"].top_k == (3, (1, 2))
    assert outputs["z"].argmax == (0, 1)


def test_examples_load(tmp_path: Path) -> None:
    iris = load_manifest(ROOT / "examples/iris/modelstack.yaml")
    assert iris.name == "iris"
    assert iris.directory == (ROOT / "examples/iris").resolve()
    prod = iris.targets["prod"]
    assert isinstance(prod, AwsLambdaTarget)
    assert prod.provisioned_concurrency is not None
    assert [s.name for s in prod.provisioned_concurrency.schedules] == ["business-hours", "nights"]
    assert iris.smoke_tests[2].path == ("smoke_tests", 2)
    digits = load_manifest(ROOT / "examples/digits-gpu/modelstack.yaml")
    gpu = digits.targets["gpu"]
    assert isinstance(gpu, CloudRunTarget) and gpu.gpu == GpuSpec("nvidia-l4", 1)
    assert gpu.cpu_always_allocated is True


def test_load_manifest_lists_every_issue_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "modelstack.yaml"
    path.write_text(
        MINIMAL.replace("metadata: {name: m,", "metadata: {name: M,").replace(
            "dev: {provider: local}", "dev: {provider: local, prot: 1}"
        )
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert f"{path}:3:18: 'M' is not valid here" in message
    assert f"{path}:15:26: unknown key 'prot'. Did you mean 'port'?" in message
