"""`modelstack build` on the real Docker engine and the local registries, both flavours.

Builds use the local base image and the host's CA bundle (pip goes through a TLS-intercepting
proxy here, as behind many corporate proxies). Images are reused across tests: the first
build of each flavour installs the dependencies, later ones hit the layer cache.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from imagefixtures import (
    AUTH_PASSWORD,
    AUTH_REGISTRY,
    AUTH_USER,
    BASE_IMAGE,
    CA_BUNDLE,
    DOCKER,
    REGISTRY,
    copy_iris,
)

from modelstack.commands.build import build
from modelstack.errors import RegistryError, SmokeTestError
from modelstack.image import context as image_context
from modelstack.image.container_smoke import smoke_test_image
from modelstack.image.containers import EPHEMERAL_LABEL, run_container
from modelstack.image.record import record_path
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local

pytestmark = DOCKER

NAMESPACE = f"modelstack-test-{uuid.uuid4().hex[:8]}"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_iris(tmp_path_factory.mktemp("bundle") / "iris")


def run_build(manifest: Path, target: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    code = build(str(manifest), target=target, base_image=BASE_IMAGE, ca_bundle=CA_BUNDLE, **kwargs)
    record = json.loads(
        record_path(manifest.parent, load_manifest(manifest).name, target).read_text()
    )
    return code, record


def tags_status(repository: str) -> int:
    try:
        with _OPENER.open(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def no_smoke_containers_left(client: docker.DockerClient) -> bool:
    return not client.containers.list(all=True, filters={"label": EPHEMERAL_LABEL})


@pytest.fixture(scope="session")
def http_build(iris: Path) -> dict[str, Any]:
    code, record = run_build(
        iris, "local", push=True, registry=f"{REGISTRY}/{NAMESPACE}", quiet=True
    )
    assert code == 0, record
    return record


@pytest.mark.parametrize("target", ["local", "prod"])
def test_build_smoke_push_pull_by_digest_and_run_again(
    target: str, iris: Path, http_build: dict[str, Any], client: docker.DockerClient
) -> None:
    if target == "local":
        record = http_build
    else:
        code, record = run_build(
            iris, target, push=True, registry=f"{REGISTRY}/{NAMESPACE}", quiet=True
        )
        assert code == 0, record
    assert record["smoke_passed"] is True
    assert record["flavour"] == ("cloudrun-cpu" if target == "local" else "lambda")
    assert 0 < record["cold_start_seconds"] < 30
    reference = record["reference"]
    assert reference == f"{REGISTRY}/{NAMESPACE}/iris@{record['digest']}"
    assert record["digest"].startswith("sha256:") and len(record["digest"]) == 71

    image = client.images.get(record["tag"])
    labels = image.labels
    assert labels["dev.modelstack.model.name"] == "iris"
    assert labels["dev.modelstack.model.sha256"] == load_manifest(iris).model.sha256
    assert len(labels["dev.modelstack.manifest.sha256"]) == 64
    # Provenance, outside the content tag: the revision of whichever build first made this
    # content on this engine (this copy is not in git: "unknown" when this run built it).
    revision = labels["org.opencontainers.image.revision"]
    if record["built"]:
        assert revision == "unknown"
    else:
        assert re.fullmatch(r"unknown|[0-9a-f]{40}", revision), revision
    assert image.attrs["Config"]["User"] == "10001:10001"

    # Drop the pushed tag, pull by digest, and smoke-test what came from the registry.
    client.images.remove(f"{REGISTRY}/{NAMESPACE}/iris:{record['tag'].split(':')[1]}")
    client.api.pull(reference)
    pulled = client.images.get(reference)
    assert pulled.id == image.id
    bundle = prepare_local(load_manifest(iris))
    protocol = "http" if target == "local" else "lambda"
    result = smoke_test_image(client, reference, protocol, bundle.cases, "iris")
    assert result.report.passed
    assert no_smoke_containers_left(client)


def test_the_final_image_holds_no_ca_bundle_and_no_pip(
    http_build: dict[str, Any], client: docker.DockerClient
) -> None:
    probe = (
        "import importlib.util, os; spec = importlib.util.find_spec('pip'); "
        "print(os.path.exists('/tmp/modelstack/ca.pem'), "
        "spec is not None and '/opt/modelstack/' in str(spec.origin), os.getuid())"
    )
    output = client.containers.run(
        http_build["tag"], ["python3", "-c", probe], network_mode="host", remove=True
    )
    assert output.decode().split() == ["False", "False", "10001"]


def test_an_unchanged_bundle_is_not_rebuilt(iris: Path, http_build: dict[str, Any]) -> None:
    code, record = run_build(iris, "local", quiet=True)
    assert code == 0
    assert record["built"] is False
    assert record["tag"] == http_build["tag"]


def corrupt_runtime(tmp_path: Path, module: str) -> Path:
    import shutil

    copy = tmp_path / "modelstack_runtime"
    shutil.copytree(
        image_context.runtime_package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    source = copy / module
    source.write_text(source.read_text() + '\nraise RuntimeError("corrupt runtime package")\n')
    return copy


@pytest.mark.parametrize(
    ("target", "module", "expected"),
    [
        ("local", "http_server.py", "exited with code"),
        ("prod", "lambda_handler.py", "failed to initialise"),
    ],
)
def test_a_runtime_that_crashes_at_import_shows_the_container_log(
    target: str,
    module: str,
    expected: str,
    iris: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: docker.DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corrupt = corrupt_runtime(tmp_path, module)
    monkeypatch.setattr(image_context, "runtime_package_dir", lambda: corrupt)
    with pytest.raises(SmokeTestError) as info:
        build(str(iris), target=target, base_image=BASE_IMAGE, ca_bundle=CA_BUNDLE, push=True,
              registry=f"{REGISTRY}/{NAMESPACE}-crash", quiet=True)  # fmt: skip
    message = str(info.value)
    assert "does not serve" in message
    assert expected in message
    assert "last 40 lines of the container's log" in message
    assert "RuntimeError: corrupt runtime package" in message
    assert tags_status(f"{NAMESPACE}-crash/iris") == 404
    assert no_smoke_containers_left(client)


def test_wrong_outputs_fail_the_smoke_tests_and_nothing_is_pushed(
    tmp_path: Path, client: docker.DockerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = copy_iris(tmp_path / "iris")
    text = manifest.read_text()
    assert "      label: {data: [0]}\n" in text
    manifest.write_text(text.replace("      label: {data: [0]}\n", "      label: {data: [2]}\n"))
    code, record = run_build(
        manifest, "local", push=True, registry=f"{REGISTRY}/{NAMESPACE}-wrong", quiet=True
    )
    assert code == 1
    assert record["smoke_passed"] is False
    assert record["reference"] is None
    out = capsys.readouterr()
    assert "FAIL  setosa" in out.out
    assert "nothing was pushed" in out.err
    assert tags_status(f"{NAMESPACE}-wrong/iris") == 404
    assert no_smoke_containers_left(client)


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        (None, None, "no credentials were given"),
        (AUTH_USER, "wrong-password", "the credentials given were refused"),
    ],
)
def test_a_registry_refusing_auth_is_a_clear_registry_error(
    username: str | None,
    password: str | None,
    reason: str,
    iris: Path,
    http_build: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (("USERNAME", username), ("PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(f"MODELSTACK_REGISTRY_{name}", raising=False)
        else:
            monkeypatch.setenv(f"MODELSTACK_REGISTRY_{name}", value)
    with pytest.raises(RegistryError) as info:
        run_build(iris, "local", push=True, registry=AUTH_REGISTRY, quiet=True)
    message = str(info.value)
    assert f"registry {AUTH_REGISTRY} refused the push" in message
    assert reason in message
    assert info.value.exit_code == 3


def test_the_auth_registry_accepts_the_right_credentials(
    iris: Path, http_build: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSTACK_REGISTRY_USERNAME", AUTH_USER)
    monkeypatch.setenv("MODELSTACK_REGISTRY_PASSWORD", AUTH_PASSWORD)
    code, record = run_build(
        iris, "local", push=True, registry=f"{AUTH_REGISTRY}/{NAMESPACE}", quiet=True
    )
    assert code == 0
    assert record["digest"] == http_build["digest"]  # the same image, content-addressed
    assert record["reference"].startswith(f"{AUTH_REGISTRY}/{NAMESPACE}/iris@sha256:")


def test_containers_are_removed_on_ctrl_c(client: docker.DockerClient) -> None:
    seen: list[str] = []
    with (
        pytest.raises(KeyboardInterrupt),
        run_container(client, BASE_IMAGE, command=["sleep", "60"]) as running,
    ):
        seen.append(running.id)
        raise KeyboardInterrupt
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(seen[0])


def test_an_unreachable_registry_is_retried_with_backoff_then_reported(
    http_build: dict[str, Any], client: docker.DockerClient
) -> None:
    from modelstack.image.containers import free_port
    from modelstack.image.push import push_image
    from modelstack.image.registries import Destination

    registry = f"127.0.0.1:{free_port()}"  # nothing listens there
    delays: list[float] = []
    destination = Destination(f"{registry}/{NAMESPACE}/iris")
    with pytest.raises(RegistryError, match=f"pushing to {registry} failed 4 times"):
        push_image(client, http_build["tag"], destination, "t", quiet=True, sleep=delays.append)
    assert delays == [0.5, 1.0, 2.0]
    client.images.remove(f"{destination.repository}:t")
