"""Typed manifest objects, built from a document that has passed the schema.

Defaults live in the JSON schema and are repeated here once, as dataclass defaults; a test checks
that the two agree. Every object keeps its `path` in the document, and `Manifest.source` turns a
path into a file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelstack.manifest.evaluation import EvaluationSpec, evaluation_from_dict
from modelstack.manifest.source import PathKey, Source
from modelstack.manifest.traffic import TrafficSpec, traffic_from_dict

__all__ = [
    "AwsLambdaTarget",
    "BuildSpec",
    "CloudRunTarget",
    "EvaluationSpec",
    "Expectation",
    "GpuSpec",
    "LocalTarget",
    "Manifest",
    "Metadata",
    "ModelSpec",
    "ProvisionedConcurrency",
    "RolloutSpec",
    "RuntimeSpec",
    "Schedule",
    "SmokeInput",
    "SmokeTest",
    "Target",
    "TensorSpec",
    "TrafficSpec",
    "from_document",
    "smoke_test_from_dict",
]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]
    description: str = ""


@dataclass(frozen=True)
class Metadata:
    name: str
    version: str
    description: str = ""
    owner: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    path: str
    sha256: str
    format: str = "onnx"
    inputs: tuple[TensorSpec, ...] | None = None
    outputs: tuple[TensorSpec, ...] | None = None


@dataclass(frozen=True)
class RuntimeSpec:
    execution_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    graph_optimization: str = "all"
    optimize_at_build: bool = False
    warmup: bool = True
    max_request_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class BuildSpec:
    base_image: str | None = None
    python_packages: tuple[str, ...] = ()
    platform: str = "linux/amd64"
    ca_bundle: str | None = None


@dataclass(frozen=True)
class Schedule:
    name: str
    schedule: str
    min: int
    max: int
    timezone: str = "UTC"


@dataclass(frozen=True)
class ProvisionedConcurrency:
    min: int = 1
    max: int = 1
    target_utilization: float = 0.7
    attach_to: str = "version"
    schedules: tuple[Schedule, ...] = ()


@dataclass(frozen=True)
class FunctionUrl:
    enabled: bool = False
    auth: str = "AWS_IAM"


@dataclass(frozen=True)
class Alarms:
    errors: bool = False
    throttles: bool = False
    p99_latency_ms: float | None = None


@dataclass(frozen=True)
class AwsLambdaTarget:
    name: str
    region: str
    provider: Literal["aws-lambda"] = "aws-lambda"
    memory_mb: int = 1024
    timeout_s: int = 30
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = 512
    reserved_concurrency: int | None = None
    provisioned_concurrency: ProvisionedConcurrency | None = None
    function_url: FunctionUrl = field(default_factory=FunctionUrl)
    environment: dict[str, str] = field(default_factory=dict)
    kms_key_arn: str | None = None
    tracing: bool = False
    log_retention_days: int = 30
    alarms: Alarms = field(default_factory=Alarms)


@dataclass(frozen=True)
class GpuSpec:
    type: str
    count: int = 1
    zonal_redundancy: bool = False


@dataclass(frozen=True)
class CloudRunTarget:
    name: str
    project: str
    region: str
    provider: Literal["gcp-cloud-run"] = "gcp-cloud-run"
    cpu: float = 1
    memory: str = "2Gi"
    gpu: GpuSpec | None = None
    cpu_always_allocated: bool = False
    min_instances: int = 0
    max_instances: int = 3
    concurrency: int = 4
    timeout_s: int = 300
    ingress: str = "internal"
    service_account: str | None = None
    public: bool = False
    invokers: tuple[str, ...] = ()
    deletion_protection: bool = True
    kms_key: str | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def memory_mib(self) -> int:
        """The memory limit in MiB."""
        amount = int(self.memory[:-2])
        return amount * 1024 if self.memory.endswith("Gi") else amount


@dataclass(frozen=True)
class LocalTarget:
    name: str
    provider: Literal["local"] = "local"
    flavour: str = "http"
    port: int = 8080
    provisioned_concurrency: int = 1
    environment: dict[str, str] = field(default_factory=dict)


Target = AwsLambdaTarget | CloudRunTarget | LocalTarget


@dataclass(frozen=True)
class RolloutSpec:
    strategy: str = "all-at-once"
    steps: tuple[int, ...] = (100,)
    interval_s: int = 60
    max_error_rate: float = 0.01
    rollback_on_failure: bool = True


@dataclass(frozen=True)
class SmokeInput:
    data: Any
    datatype: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Expectation:
    data: Any = None
    atol: float = 1e-5
    rtol: float = 1e-4
    argmax: tuple[int, ...] | None = None
    top_k: tuple[int, tuple[int, ...]] | None = None
    """(k, indexes that must be in every row's top k)."""


@dataclass(frozen=True)
class SmokeTest:
    name: str
    index: int
    inputs: dict[str, SmokeInput] | None = None
    inputs_file: str | None = None
    expected_outputs: dict[str, Expectation] = field(default_factory=dict)
    max_latency_ms: float | None = None
    description: str = ""

    @property
    def path(self) -> PathKey:
        return ("smoke_tests", self.index)


@dataclass(frozen=True)
class Manifest:
    """A loaded, schema-valid manifest."""

    source: Source
    metadata: Metadata
    model: ModelSpec
    runtime: RuntimeSpec
    build: BuildSpec
    targets: dict[str, Target]
    rollout: RolloutSpec
    smoke_tests: tuple[SmokeTest, ...]
    evaluation: EvaluationSpec | None = None
    traffic: TrafficSpec | None = None

    @property
    def path(self) -> Path:
        return Path(self.source.file)

    @property
    def directory(self) -> Path:
        """The bundle directory: the model and smoke-test files must stay inside it."""
        return self.path.resolve().parent

    @property
    def name(self) -> str:
        return self.metadata.name


def from_document(source: Source) -> Manifest:
    """Build typed objects from a document that has already passed the schema."""
    doc: dict[str, Any] = source.data
    return Manifest(
        source=source,
        metadata=_metadata(doc["metadata"]),
        model=_model(doc["model"]),
        runtime=_runtime(doc.get("runtime", {})),
        build=_build(doc.get("build", {})),
        targets={name: _target(name, t) for name, t in doc["targets"].items()},
        rollout=_rollout(doc.get("rollout", {})),
        smoke_tests=tuple(
            smoke_test_from_dict(i, t) for i, t in enumerate(doc.get("smoke_tests", []))
        ),
        evaluation=evaluation_from_dict(doc["evaluation"]) if "evaluation" in doc else None,
        traffic=traffic_from_dict(doc["traffic"]) if "traffic" in doc else None,
    )


def _metadata(d: dict[str, Any]) -> Metadata:
    return Metadata(
        name=d["name"],
        version=d["version"],
        description=d.get("description", ""),
        owner=d.get("owner", ""),
        labels=dict(d.get("labels", {})),
    )


def _tensors(items: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(
            t["name"], t["datatype"], tuple(int(s) for s in t["shape"]), t.get("description", "")
        )
        for t in items
    )


def _model(d: dict[str, Any]) -> ModelSpec:
    signature = d.get("signature")
    return ModelSpec(
        path=d["path"],
        sha256=d["sha256"],
        format=d.get("format", "onnx"),
        inputs=_tensors(signature["inputs"]) if signature else None,
        outputs=_tensors(signature["outputs"]) if signature else None,
    )


def _runtime(d: dict[str, Any]) -> RuntimeSpec:
    if "execution_providers" in d:
        d = {**d, "execution_providers": tuple(d["execution_providers"])}
    return RuntimeSpec(**_ints(d, "intra_op_threads", "inter_op_threads", "max_request_bytes"))


def _build(d: dict[str, Any]) -> BuildSpec:
    return BuildSpec(
        base_image=d.get("base_image"),
        python_packages=tuple(d.get("python_packages", ())),
        platform=d.get("platform", "linux/amd64"),
        ca_bundle=d.get("ca_bundle"),
    )


def _ints(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """YAML may spell an integer as 1024.0; the schema accepts that, the typed model wants int."""
    return {k: (int(v) if k in keys and v is not None else v) for k, v in d.items()}


def _target(name: str, d: dict[str, Any]) -> Target:
    provider = d["provider"]
    if provider == "aws-lambda":
        return _lambda(name, d)
    if provider == "gcp-cloud-run":
        return _cloud_run(name, d)
    local = _ints(d, "port", "provisioned_concurrency")
    return LocalTarget(name=name, **{**local, "environment": dict(d.get("environment", {}))})


def _lambda(name: str, d: dict[str, Any]) -> AwsLambdaTarget:
    d = _ints(d, "memory_mb", "timeout_s", "ephemeral_storage_mb", "reserved_concurrency",
              "log_retention_days")  # fmt: skip
    pc = d.pop("provisioned_concurrency", None)
    url = d.pop("function_url", {})
    alarms = d.pop("alarms", {})
    provisioned = None
    if pc is not None:
        schedules = tuple(Schedule(**_ints(s, "min", "max")) for s in pc.get("schedules", []))
        provisioned = ProvisionedConcurrency(**{**_ints(pc, "min", "max"), "schedules": schedules})
    return AwsLambdaTarget(
        name=name,
        **d,
        provisioned_concurrency=provisioned,
        function_url=FunctionUrl(**url),
        alarms=Alarms(**alarms),
    )


def _cloud_run(name: str, d: dict[str, Any]) -> CloudRunTarget:
    d = _ints(d, "min_instances", "max_instances", "concurrency", "timeout_s")
    gpu = d.pop("gpu", None)
    gpu_spec = GpuSpec(**_ints(gpu, "count")) if gpu else None
    if gpu_spec is not None and "cpu_always_allocated" not in d:
        d["cpu_always_allocated"] = True
    d["invokers"] = tuple(d.get("invokers", ()))
    return CloudRunTarget(name=name, **d, gpu=gpu_spec)


def _rollout(d: dict[str, Any]) -> RolloutSpec:
    d = _ints(d, "interval_s")
    if "steps" in d:
        d["steps"] = tuple(int(s) for s in d["steps"])
    return RolloutSpec(**d)


def smoke_test_from_dict(index: int, d: dict[str, Any]) -> SmokeTest:
    """One smoke test from its (schema-valid) manifest entry."""
    inputs = None
    if "inputs" in d:
        inputs = {
            name: SmokeInput(
                data=i["data"],
                datatype=i.get("datatype"),
                shape=tuple(int(s) for s in i["shape"]) if "shape" in i else None,
            )
            for name, i in d["inputs"].items()
        }
    return SmokeTest(
        name=d["name"],
        index=index,
        inputs=inputs,
        inputs_file=d.get("inputs_file"),
        expected_outputs={k: _expectation(v) for k, v in d.get("expected_outputs", {}).items()},
        max_latency_ms=d.get("max_latency_ms"),
        description=d.get("description", ""),
    )


def _expectation(d: dict[str, Any]) -> Expectation:
    argmax = d.get("argmax")
    if argmax is not None:
        argmax = tuple(int(a) for a in (argmax if isinstance(argmax, list) else [argmax]))
    top_k = d.get("top_k")
    return Expectation(
        data=d.get("data"),
        atol=float(d.get("atol", 1e-5)),
        rtol=float(d.get("rtol", 1e-4)),
        argmax=argmax,
        top_k=(int(top_k["k"]), tuple(int(i) for i in top_k["includes"])) if top_k else None,
    )
