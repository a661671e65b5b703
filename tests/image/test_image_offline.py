"""Build pieces that need no Docker engine: contexts, CA bundles, registries, push errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from imagefixtures import copy_iris

from modelstack.commands.build import build
from modelstack.errors import DockerUnavailableError, MissingDependencyError, UsageError
from modelstack.image.context import render_context, resolve_ca_bundle, runtime_package_dir
from modelstack.image.flavours import flavour_for
from modelstack.image.push import classify_push_error
from modelstack.image.record import BuildRecord, record_path, write_record
from modelstack.image.registries import destination_for, registry_auth
from modelstack.manifest import Manifest, load_manifest
from modelstack.smoke.local import prepare_local

BASE = "modelstack/base-python:bookworm"


@pytest.fixture
def iris(tmp_path: Path) -> Manifest:
    return load_manifest(copy_iris(tmp_path / "iris"))


def context_tag(manifest: Manifest, target: str = "local", **kwargs: object) -> str:
    flavour = flavour_for(manifest.targets[target])
    bundle = prepare_local(manifest)
    return render_context(manifest, target, flavour, bundle, base_image=BASE, **kwargs).tag  # type: ignore[arg-type]


def test_the_context_holds_exactly_what_the_image_needs(iris: Manifest) -> None:
    context = render_context(
        iris, "local", flavour_for(iris.targets["local"]), prepare_local(iris), base_image=BASE
    )
    names = set(context.files)
    assert {"Dockerfile", "requirements.txt", "model/model.onnx", "runtime.json"} <= names
    assert "app/modelstack_runtime/__init__.py" in names
    assert "app/modelstack_runtime/py.typed" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "ca.pem" not in names
    config = json.loads(context.files["runtime.json"])  # type: ignore[arg-type]
    assert config["model_path"] == "model/model.onnx"  # relative to /opt/modelstack
    assert config["model_name"] == "iris"
    assert context.tag.startswith("modelstack/iris:")
    assert context.labels["dev.modelstack.model.sha256"] == iris.model.sha256
    assert "org.opencontainers.image.revision" not in context.labels  # outside the tag
    assert context.build_labels == {"org.opencontainers.image.revision": "unknown"}  # not in git
    assert "revision" not in context.files["Dockerfile"].decode()  # type: ignore[union-attr]


def test_the_tag_follows_the_model_the_code_the_target_and_the_ca(
    iris: Manifest, tmp_path: Path
) -> None:
    first = context_tag(iris)
    assert context_tag(iris) == first
    assert context_tag(iris, "prod") != first
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert context_tag(iris, ca_bundle=ca) != first
    code = tmp_path / "runtime"
    shutil.copytree(runtime_package_dir(), code, ignore=shutil.ignore_patterns("__pycache__"))
    assert context_tag(iris, runtime_source=code) == first
    (code / "logs.py").write_text((code / "logs.py").read_text() + "\n# changed\n")
    assert context_tag(iris, runtime_source=code) != first


def test_ca_bundle_from_the_manifest_must_stay_inside_the_bundle(
    iris: Manifest, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_text("x")
    (iris.directory / "certs").mkdir()
    (iris.directory / "certs" / "ca.pem").write_text("x")
    manifest_path = iris.directory / "modelstack.yaml"
    text = manifest_path.read_text()
    for value, problem in [
        ("certs/ca.pem", None),
        ("../outside.pem", "leads outside"),
        (str(outside), "must be relative"),
        ("certs/missing.pem", "no such file"),
    ]:
        manifest_path.write_text(text + f"build:\n  ca_bundle: {value}\n")
        manifest = load_manifest(manifest_path)
        if problem is None:
            assert resolve_ca_bundle(manifest, None) == iris.directory / "certs" / "ca.pem"
        else:
            with pytest.raises(UsageError, match=problem):
                resolve_ca_bundle(manifest, None)
        # The command line may name any file.
        assert resolve_ca_bundle(manifest, str(outside)) == outside
    with pytest.raises(UsageError, match="no such file"):
        resolve_ca_bundle(iris, str(tmp_path / "nope.pem"))


def test_registry_destinations(iris: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSTACK_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("MODELSTACK_REGISTRY_PASSWORD", raising=False)
    local = iris.targets["local"]
    plain = destination_for(iris, "local", local, "http://127.0.0.1:5000/team/")
    assert plain.repository == "127.0.0.1:5000/team/iris"
    assert plain.registry == "127.0.0.1:5000"
    assert plain.auth is None
    with pytest.raises(UsageError, match="--registry URL"):
        destination_for(iris, "local", local, None)
    monkeypatch.setenv("MODELSTACK_REGISTRY_USERNAME", "me")
    monkeypatch.setenv("MODELSTACK_REGISTRY_PASSWORD", "secret")
    assert registry_auth("127.0.0.1:5001") == {"username": "me", "password": "secret"}
    monkeypatch.delenv("MODELSTACK_REGISTRY_PASSWORD")
    with pytest.raises(UsageError, match="both"):
        registry_auth("127.0.0.1:5001")


def test_ecr_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_boto3(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    with pytest.raises(MissingDependencyError, match=r"modelstack-serverless\[aws\]"):
        registry_auth("123456789012.dkr.ecr.eu-west-1.amazonaws.com")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("unauthorized: authentication required", "auth"),
        ("no basic auth credentials", "auth"),
        ("denied: requested access to the resource is denied", "auth"),
        ("received unexpected HTTP status: 503 Service Unavailable", "transient"),
        (
            "Put http://127.0.0.1:5000/v2/x/blobs/uploads/: net/http: TLS handshake timeout",
            "transient",
        ),
        ("read tcp 127.0.0.1:5000: connection reset by peer", "transient"),
        ("toomanyrequests: rate limit", "transient"),
        ("manifest invalid: manifest invalid", "fatal"),
    ],
)
def test_push_errors_are_classified(message: str, kind: str) -> None:
    assert classify_push_error(message) == kind


def test_the_build_record_is_written_atomically_beside_the_manifest(tmp_path: Path) -> None:
    record = BuildRecord(
        model="iris",
        version="1.0.0",
        target="prod",
        flavour="lambda",
        tag="modelstack/iris:ab",
        image_id="sha256:00",
        size_bytes=1,
        built=True,
        build_seconds=1.0,
        cold_start_seconds=0.5,
        smoke_passed=True,
        reference="r@sha256:1",
        digest="sha256:1",
        finished_at="2026-01-01T00:00:00+00:00",
    )
    path = write_record(tmp_path, record)
    assert path == record_path(tmp_path, "iris", "prod")
    assert path == tmp_path / ".modelstack" / "builds" / "iris-prod.json"
    assert json.loads(path.read_text())["reference"] == "r@sha256:1"
    assert [p.name for p in path.parent.iterdir()] == ["iris-prod.json"]


def test_docker_not_running_says_how_to_start_it(
    iris: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(DockerUnavailableError) as info:
        build(str(iris.path), target="local", base_image=BASE, quiet=True)
    message = str(info.value)
    assert "unix:///nonexistent.sock" in message
    assert "scripts/docker-services" in message
    assert "dockerd --bridge=none --iptables=false --ip-masq=false" in message
    assert "systemctl start docker" in message
    assert info.value.exit_code == 3


def test_registry_without_push_is_a_usage_error(iris: Manifest) -> None:
    with pytest.raises(UsageError, match="--registry only matters with --push"):
        build(str(iris.path), target="local", registry="127.0.0.1:5000")


def test_quiet_and_verbose_together_is_a_usage_error(iris: Manifest) -> None:
    with pytest.raises(UsageError, match="--quiet and --verbose"):
        build(str(iris.path), target="local", quiet=True, verbose=True)


def test_the_public_api_is_deliberate() -> None:
    import modelstack.image as image

    assert image.__all__ == [
        "FLAVOURS",
        "BuildContext",
        "BuildRecord",
        "BuiltImage",
        "ContainerSmokeResult",
        "Destination",
        "DockerfileOptions",
        "Flavour",
        "Invocation",
        "InvocationBroker",
        "InvocationFailed",
        "LambdaRuntimeClient",
        "PushedImage",
        "RunningContainer",
        "RuntimeApiServer",
        "build_image",
        "content_digest",
        "content_tag",
        "destination_for",
        "docker_client",
        "ensure_image",
        "find_image",
        "flavour_for",
        "free_port",
        "push_image",
        "render_context",
        "render_dockerfile",
        "render_requirements",
        "resolve_ca_bundle",
        "run_container",
        "runtime_package_dir",
        "smoke_test_image",
        "write_record",
    ]
    for name in image.__all__:
        assert getattr(image, name) is not None


def test_only_image_relevant_manifest_edits_change_the_tag(iris: Manifest, tmp_path: Path) -> None:
    """Rollout, targets and comments do not shape the image: no rebuild, no redeploy."""
    import shutil

    from modelstack.manifest import load_manifest

    copy = tmp_path / "edited"
    shutil.copytree(iris.directory, copy)
    path = copy / "modelstack.yaml"

    def tag() -> str:
        manifest = load_manifest(path)
        local = manifest.targets["local"]
        return render_context(
            manifest, "local", flavour_for(local), prepare_local(manifest), base_image=BASE
        ).tag

    original = tag()
    text = path.read_text()
    path.write_text(
        "# a comment\n"
        + text.replace("interval_s: 30", "interval_s: 5").replace(
            "memory_mb: 1024", "memory_mb: 2048"
        )
    )
    assert tag() == original
    path.write_text(text.replace("version: 1.0.0", "version: 1.0.1"))
    assert tag() != original


def test_a_lambda_image_with_events_on_another_base_pins_the_aws_sdk(tmp_path: Path) -> None:
    path = copy_iris(tmp_path / "iris")
    text = path.read_text(encoding="utf-8")
    text += "events:\n  - {name: q, queue: {}, output: {bucket: out-b}}\n"
    path.write_text(text, encoding="utf-8")
    manifest = load_manifest(path)
    with_events = render_context(
        manifest, "prod", flavour_for(manifest.targets["prod"]), prepare_local(manifest),
        base_image=BASE,
    )  # fmt: skip
    requirements = with_events.files["requirements.txt"].decode()  # type: ignore[union-attr]
    assert "\nboto3==" in requirements and "awslambdaric==" in requirements
    path.write_text(text.replace("events:", "unused_events:").split("unused_events:")[0])
    plain = load_manifest(path)
    without = render_context(
        plain, "prod", flavour_for(plain.targets["prod"]), prepare_local(plain), base_image=BASE
    )
    assert "boto3" not in without.files["requirements.txt"].decode()  # type: ignore[union-attr]
