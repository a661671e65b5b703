"""`modelstack up` end to end on the local target: the real Docker engine, real images, the
router, and a client hitting the stable endpoint while deploys succeed or fail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bundles import write_bundle

from modelstack.cli import main
from modelstack.deploy.state import StateStore
from modelstack.image.containers import free_port

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", CA_BUNDLE]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ROW = {
    "inputs": [
        {"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [3.0, 0.0, 0.0, 1.0]}
    ]
}
TWO_ROWS = {
    "inputs": [
        {
            "name": "features",
            "datatype": "FP32",
            "shape": [2, 4],
            "data": [3.0, 0, 0, 1, 0, 0.5, 2, 0],
        }
    ]
}


def up(manifest: Path, *extra: str) -> int:
    return main(["up", str(manifest), "--target", "local", *BUILD_FLAGS, *extra])


def infer(port: int, body: dict = ROW) -> tuple[int, str, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2/models/tiny/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            revision = response.headers.get("X-Modelstack-Revision", "")
            return response.status, revision, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Modelstack-Revision", ""), {}


@dataclass
class LoadClient:
    """Hits the stable endpoint from a thread until stopped (bounded: 60 s, 20,000 requests)."""

    port: int
    body: dict = field(default_factory=lambda: ROW)
    statuses: Counter[int] = field(default_factory=Counter)
    revisions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        for _ in range(20_000):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            try:
                status, revision, _ = infer(self.port, self.body)
            except OSError as exc:
                self.errors.append(str(exc))
                continue
            self.statuses[status] += 1
            self.revisions[revision] += 1
            time.sleep(0.005)

    def __enter__(self) -> LoadClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    @property
    def failures(self) -> int:
        return len(self.errors) + sum(n for s, n in self.statuses.items() if s != 200)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def bundle(tmp_path: Path, port: int) -> Iterator[Path]:
    directory = tmp_path / "tiny"
    yield directory
    if (directory / "modelstack.yaml").exists():
        main(["destroy", str(directory / "modelstack.yaml"), "--target", "local", "--yes"])


def state(bundle: Path) -> StateStore:
    return StateStore(bundle, "local")


def test_good_deploy_then_an_unchanged_up_does_nothing(bundle: Path, port: int) -> None:
    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    status, revision, body = infer(port)
    assert status == 200 and revision == "1"
    assert {o["name"]: o["data"] for o in body["outputs"]}["label"] == [0]

    assert up(manifest) == 0  # how fast: bench/bench_up.py (target under 3 s)
    deploys = [e for e in state(bundle).history() if e["event"] == "deploy"]
    assert [e["result"] for e in deploys] == ["succeeded"]
    assert state(bundle).load().stable.version == "1"


def test_a_model_failing_its_smoke_tests_never_gets_traffic(bundle: Path, port: int) -> None:
    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    with LoadClient(port) as load:
        write_bundle(bundle, port=port, kind="wrong", version="2.0.0")
        assert up(manifest) == 1
        time.sleep(0.3)
    assert load.failures == 0, (load.statuses, load.errors[:3])
    assert sum(load.statuses.values()) > 20
    assert set(load.revisions) == {"1"}
    assert state(bundle).load().stable.model_version == "1.0.0"


def test_a_canary_failing_midway_is_rolled_back(bundle: Path, port: int) -> None:
    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    with LoadClient(port, body=TWO_ROWS) as load:
        write_bundle(bundle, port=port, kind="fragile", version="2.0.0", interval=2)
        assert up(manifest) == 1
    saw_canary = load.revisions.get("2", 0)
    assert saw_canary > 0, "the canary never got traffic, so nothing was tested"
    after = Counter(infer(port, TWO_ROWS)[1] for _ in range(20))
    assert after == Counter({"1": 20})
    current = state(bundle).load()
    assert current.stable.version == "1" and current.candidate is None
    assert state(bundle).history()[-1]["result"].startswith("failed")


def test_rollback_restores_the_previous_release(bundle: Path, port: int) -> None:
    manifest = write_bundle(bundle, port=port, strategy="all-at-once")
    assert up(manifest) == 0
    first = state(bundle).load().stable
    write_bundle(bundle, port=port, strategy="all-at-once", version="2.0.0")
    assert up(manifest) == 0
    assert state(bundle).load().stable.model_version == "2.0.0"

    assert main(["rollback", str(manifest), "--target", "local"]) == 0
    restored = state(bundle).load().stable
    assert restored.image == first.image and restored.model_version == "1.0.0"
    assert infer(port)[0] == 200


def test_rollback_checks_the_release_against_the_smoke_tests_it_shipped_with(
    bundle: Path, port: int
) -> None:
    manifest = write_bundle(bundle, port=port, strategy="all-at-once")
    assert up(manifest) == 0
    first = state(bundle).load().stable
    # A new model with new answers, and a manifest whose expectations moved with it.
    write_bundle(
        bundle, port=port, strategy="all-at-once", kind="wrong", version="2.0.0", labels=(1, 0)
    )
    assert up(manifest) == 0
    # Today's smoke tests would fail the first model; the ones it shipped with pass.
    assert main(["rollback", str(manifest), "--target", "local"]) == 0
    assert state(bundle).load().stable.image == first.image
    assert {o["name"]: o["data"] for o in infer(port)[2]["outputs"]}["label"] == [0]


def canary_in_a_subprocess(bundle: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """Deploy version 1, then start `up` of version 2 in its own process and return it (and
    its stderr file) once the canary holds its first step (20%), 30 s before the next."""
    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    write_bundle(bundle, port=port, version="2.0.0", interval=30)
    command = [sys.executable, "-m", "modelstack", "up", str(manifest), "--target", "local"]
    err = bundle.parent / "up.stderr"
    with err.open("wb") as sink:  # a file, not a pipe: a full pipe would stall `up`
        process = subprocess.Popen([*command, *BUILD_FLAGS], stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 90
    while state(bundle).load().candidate_percent != 20:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            process.wait()
            pytest.fail(f"the rollout never reached its first step:\n{err.read_text()}")
        time.sleep(0.1)
    return process, err


def test_kill_9_mid_rollout_then_up_again_recovers(bundle: Path, port: int) -> None:
    process, _ = canary_in_a_subprocess(bundle, port)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted = state(bundle).load()
    assert interrupted.step != "idle" and interrupted.candidate is not None
    assert infer(port)[0] == 200  # the stable endpoint survived the kill

    manifest = write_bundle(bundle, port=port, version="2.0.0", interval=1)
    assert up(manifest) == 0
    final = state(bundle).load()
    assert final.step == "idle" and final.candidate is None
    assert final.stable.model_version == "2.0.0"
    assert [e["event"] for e in state(bundle).history()].count("recovered") == 1
    revisions = Counter(infer(port)[1] for _ in range(10))
    assert revisions == Counter({final.stable.version: 10})


def test_sigterm_mid_rollout_rolls_back_and_exits_130(bundle: Path, port: int) -> None:
    process, err = canary_in_a_subprocess(bundle, port)
    process.send_signal(signal.SIGTERM)  # what a cancelled CI job sends
    assert process.wait(timeout=60) == 130, err.read_text()
    assert "traffic is back on version 1" in err.read_text()
    current = state(bundle).load()
    assert current.step == "idle" and current.candidate is None
    assert Counter(infer(port)[1] for _ in range(10)) == Counter({"1": 10})


def test_lambda_flavour_answers_boto3_through_the_local_invoke_api(bundle: Path, port: int) -> None:
    import boto3

    manifest = write_bundle(bundle, port=port, flavour="lambda", replicas=2)
    assert up(manifest) == 0
    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    for qualifier in ("1", "live"):
        response = client.invoke(
            FunctionName="tiny.local", Qualifier=qualifier, Payload=json.dumps(ROW).encode()
        )
        body = json.loads(response["Payload"].read())
        assert response["ExecutedVersion"] == "1"
        assert {o["name"]: o["data"] for o in body["outputs"]}["label"] == [0]
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no version 9"):
        client.invoke(FunctionName="tiny.local", Qualifier="9", Payload=b"{}")


def test_an_unchanged_up_restarts_a_lost_router(bundle: Path, port: int) -> None:
    manifest = write_bundle(bundle, port=port, flavour="lambda")
    assert up(manifest) == 0
    pid = int((bundle / ".modelstack" / "local" / "local" / "router.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(OSError):
        infer(port)
    assert up(manifest) == 0  # nothing to build or deploy, but the endpoint comes back
    import boto3

    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    deadline = time.monotonic() + 60
    while True:  # the containers reconnect to the new router's Runtime API
        response = client.invoke(FunctionName="tiny.local", Payload=json.dumps(ROW).encode())
        if "FunctionError" not in response or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    body = json.loads(response["Payload"].read())
    assert {o["name"]: o["data"] for o in body["outputs"]}["label"] == [0]


def ours(bundle: Path) -> set[str]:
    """Ids of the containers this bundle's local target runs."""
    import docker

    engine = docker.from_env()
    try:
        return {
            c.id
            for c in engine.containers.list(all=True)
            if c.labels.get("dev.modelstack.target", "").startswith("tiny.local.")
            and c.attrs["Config"]["Env"]
            and any("PORT=" in e for e in c.attrs["Config"]["Env"])
            and _port_of(c) in _backend_ports(bundle)
        }
    finally:
        engine.close()


def _port_of(container) -> int:
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    return int(env["PORT"])


def _backend_ports(bundle: Path) -> set[int]:
    routes = json.loads((bundle / ".modelstack" / "local" / "local" / "routes.json").read_text())
    return {int(b.rsplit(":", 1)[1]) for r in routes["revisions"] for b in r["backends"]}


def test_an_unchanged_up_restarts_stopped_containers(bundle: Path, port: int) -> None:
    import docker

    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    engine = docker.from_env()
    try:
        for container_id in ours(bundle):
            engine.containers.get(container_id).stop(timeout=2)
    finally:
        engine.close()
    assert infer(port)[0] == 502
    assert up(manifest) == 0
    assert infer(port)[0] == 200


def test_destroy_removes_containers_and_router(bundle: Path, port: int) -> None:
    import docker

    manifest = write_bundle(bundle, port=port)
    assert up(manifest) == 0
    running = ours(bundle)
    assert len(running) == 1
    assert main(["destroy", str(manifest), "--target", "local", "--yes"]) == 0
    engine = docker.from_env()
    try:
        left = {c.id for c in engine.containers.list(all=True)}
    finally:
        engine.close()
    assert running.isdisjoint(left)
    with pytest.raises(OSError):
        infer(port)


def test_two_checkouts_of_one_model_do_not_touch_each_other(
    bundle: Path, port: int, tmp_path: Path
) -> None:
    other_port = free_port()
    other = write_bundle(tmp_path / "other", port=other_port)
    try:
        assert up(write_bundle(bundle, port=port)) == 0
        assert up(other) == 0
        assert main(["destroy", str(other), "--target", "local", "--yes"]) == 0
        assert infer(port)[0] == 200  # the first checkout still serves
    finally:
        main(["destroy", str(other), "--target", "local", "--yes"])


def test_the_local_invoke_api_answers_boto3_as_aws_does(bundle: Path, port: int) -> None:
    import boto3
    from botocore.exceptions import ClientError

    # `fragile` answers single rows and fails (a 500, a fault) on any batch of two.
    manifest = write_bundle(bundle, port=port, flavour="lambda", kind="fragile")
    assert up(manifest) == 0
    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    fault = client.invoke(FunctionName="tiny.local", Payload=json.dumps(TWO_ROWS).encode())
    assert fault["FunctionError"] == "Unhandled"
    document = json.loads(fault["Payload"].read())
    assert document["errorType"] == "InternalError" and document["errorMessage"]

    bad = client.invoke(FunctionName="tiny.local", Payload=b'{"model_name": 3}')
    assert "FunctionError" not in bad and json.loads(bad["Payload"].read())["status"] == 400

    event = client.invoke(
        FunctionName="tiny.local", InvocationType="Event", Payload=json.dumps(ROW).encode()
    )
    assert event["StatusCode"] == 202 and event["Payload"].read() == b""
    dry = client.invoke(FunctionName="tiny.local", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    with pytest.raises(ClientError) as info:
        client.invoke(FunctionName="tiny.local", InvocationType="Later", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"

    stage_root = {
        "version": "2.0",
        "rawPath": "/prod",
        "requestContext": {"stage": "prod", "http": {"method": "POST", "path": "/prod"}},
        "headers": {"content-type": "application/json"},
        "body": json.dumps(ROW),
        "isBase64Encoded": False,
    }
    proxied = client.invoke(FunctionName="tiny.local", Payload=json.dumps(stage_root).encode())
    answer = json.loads(proxied["Payload"].read())
    assert answer["statusCode"] == 200, answer
    outputs = json.loads(answer["body"])["outputs"]
    assert {o["name"]: o["data"] for o in outputs}["label"] == [0]
