"""Typed manifest objects, built from a document that has passed the schema.

Defaults live in the JSON schema and are repeated here once, as dataclass defaults; a test checks
that the two agree. Every object keeps its `path` in the document, and `Manifest.source` turns a
path into a file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelstack.coerce import ints
from modelstack.manifest.evaluation import EvaluationSpec, evaluation_from_dict
from modelstack.manifest.source import PathKey, Source
from modelstack.manifest.traffic import TrafficSpec, traffic_from_dict
from modelstack.processing.manifest import processing_from_model
from modelstack.processing.spec import PostprocessSpec, PreprocessSpec
from modelstack.providers.aws_lambda.target import (
    Alarms,
    AwsLambdaTarget,
    FunctionUrl,
    ProvisionedConcurrency,
    Schedule,
)
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget, GpuSpec
from modelstack.providers.local.target import LocalTarget

__all__ = [
    "Alarms",
    "AwsLambdaTarget",
    "BuildSpec",
    "CloudRunTarget",
    "EvaluationSpec",
    "Expectation",
    "FunctionUrl",
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
    preprocess: PreprocessSpec | None = None
    postprocess: PostprocessSpec | None = None


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


Target = AwsLambdaTarget | CloudRunTarget | LocalTarget
"""A target of any provider (each dataclass lives in its `modelstack.providers` package)."""


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
    file: str | None = None
    """A bundle file sent whole as one BYTES element (an encoded image)."""


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
    expect_model: str | None = None
    """The v2 model_name that must answer (a routed service's own or a tier's)."""

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
        model=_model(doc["model"], source),
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


def _model(d: dict[str, Any], source: Source) -> ModelSpec:
    signature = d.get("signature")
    preprocess, postprocess = processing_from_model(source, d)
    return ModelSpec(
        path=d["path"],
        sha256=d["sha256"],
        format=d.get("format", "onnx"),
        inputs=_tensors(signature["inputs"]) if signature else None,
        outputs=_tensors(signature["outputs"]) if signature else None,
        preprocess=preprocess,
        postprocess=postprocess,
    )


def _runtime(d: dict[str, Any]) -> RuntimeSpec:
    if "execution_providers" in d:
        d = {**d, "execution_providers": tuple(d["execution_providers"])}
    return RuntimeSpec(**ints(d, "intra_op_threads", "inter_op_threads", "max_request_bytes"))


def _build(d: dict[str, Any]) -> BuildSpec:
    return BuildSpec(
        base_image=d.get("base_image"),
        python_packages=tuple(d.get("python_packages", ())),
        platform=d.get("platform", "linux/amd64"),
        ca_bundle=d.get("ca_bundle"),
    )


def _target(name: str, d: dict[str, Any]) -> Target:
    from modelstack.providers import provider_named

    target: Target = provider_named(d["provider"]).target_from_dict(name, d)
    return target


def _rollout(d: dict[str, Any]) -> RolloutSpec:
    d = ints(d, "interval_s")
    if "steps" in d:
        d["steps"] = tuple(int(s) for s in d["steps"])
    return RolloutSpec(**d)


def smoke_test_from_dict(index: int, d: dict[str, Any]) -> SmokeTest:
    """One smoke test from its (schema-valid) manifest entry."""
    inputs = None
    if "inputs" in d:
        inputs = {
            name: SmokeInput(
                data=i.get("data"),
                datatype=i.get("datatype"),
                shape=tuple(int(s) for s in i["shape"]) if "shape" in i else None,
                file=i.get("file"),
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
        expect_model=d.get("expect_model"),
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
