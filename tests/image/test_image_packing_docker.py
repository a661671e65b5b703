"""The packed model in a real image: its label and record, one copy of the weights in the
image's layers, the runtime loading it with the measured options and logging the split."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from imagefixtures import BASE_IMAGE, CA_BUNDLE, DOCKER
from packmodels import GATHER_ROWS, GATHER_WIDTH, mlp, write_bundle, write_large_bundle

from modelstack.commands.build import build
from modelstack.image.context import render_context
from modelstack.image.flavours import flavour_for
from modelstack.image.record import record_path
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local

pytestmark = DOCKER

WIDTH = 512
WEIGHTS_BYTES = 3 * (WIDTH * WIDTH + WIDTH) * 4
LOAD_SCRIPT = (
    "from modelstack_runtime.config import load_config; "
    "from modelstack_runtime.logs import configure_logging; "
    "from modelstack_runtime.model import Model; "
    "configure_logging(); "
    "m = Model.load(load_config()); m.warm_up(); "
    "print(m.config.disable_prepacking)"
)


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    yield engine
    engine.close()


def _build(manifest: Path) -> dict[str, object]:
    code = build(str(manifest), target="local", base_image=BASE_IMAGE, ca_bundle=CA_BUNDLE,
                 quiet=True)  # fmt: skip
    record: dict[str, object] = json.loads(
        record_path(manifest.parent, load_manifest(manifest).name, "local").read_text()
    )
    assert code == 0, record
    return record


def _large_layers(client: docker.DockerClient, tag: str, weights: int = WEIGHTS_BYTES) -> list[int]:
    """Sizes of the image's layers that hold the weights once or more (the base and the
    dependency layers are over 30 times larger than the small model's weights)."""
    return [
        int(layer["Size"])
        for layer in client.api.history(tag)
        if weights * 0.9 <= int(layer["Size"]) <= weights * 10
    ]


@pytest.mark.parametrize("optimize", [False, True], ids=["packed", "optimised"])
def test_the_image_serves_the_packed_model_with_its_weights_once(
    tmp_path: Path, client: docker.DockerClient, optimize: bool
) -> None:
    manifest = write_bundle(tmp_path / "mlp", mlp(width=WIDTH), external=True, width=WIDTH)
    if optimize:
        text = manifest.read_text().replace(
            "runtime: {intra_op_threads: 1,",
            "runtime: {optimize_at_build: true, intra_op_threads: 1,",
        )
        manifest.write_text(text)
    fast = render_context(
        load_manifest(manifest), "local", flavour_for(load_manifest(manifest).targets["local"]),
        prepare_local(load_manifest(manifest)), base_image=BASE_IMAGE,
    ).fast_start  # fmt: skip
    assert fast is not None
    optimised = fast.optimize is not None and fast.optimize.use  # as measured
    assert optimize or fast.optimize is None
    record = _build(manifest)
    assert record["smoke_passed"] is True
    tag = str(record["tag"])
    labels = client.images.get(tag).labels
    assert labels["dev.modelstack.model.packed.sha256"] == record["packed_model_sha256"]
    assert labels["dev.modelstack.model.sha256"] == load_manifest(manifest).model.sha256
    large = _large_layers(client, tag)
    assert len(large) == 1 and large[0] < WEIGHTS_BYTES * 1.5, large  # in the image once
    listing = client.containers.run(
        tag, [], entrypoint=["sh", "-c", "ls /opt/modelstack/model"], network_mode="host",
        remove=True,
    ).decode().split()  # fmt: skip
    expected = (
        ["model.optimized.onnx", "model.optimized.weights"]
        if optimised
        else ["model.onnx", "model.weights"]
    )
    assert sorted(listing) == expected
    config = json.loads(
        client.containers.run(
            tag, [], entrypoint=["cat", "/opt/modelstack/runtime.json"], network_mode="host",
            remove=True,
        )
    )  # fmt: skip
    output = client.containers.run(
        tag, [], entrypoint=["python3", "-c", LOAD_SCRIPT], network_mode="host", remove=True,
        stderr=True,
    ).decode()  # fmt: skip
    assert "session create" in output and "warm-up" in output
    prepacking = "off" if config["disable_prepacking"] else "on"
    assert f"(prepacking {prepacking})" in output


def test_a_model_over_2_gib_builds_serves_and_holds_its_weights_once(
    tmp_path: Path, client: docker.DockerClient
) -> None:
    table = GATHER_ROWS * GATHER_WIDTH * 4
    manifest = write_large_bundle(tmp_path / "lookup")
    tag = ""
    try:
        record = _build(manifest)
        tag = str(record["tag"])
        assert record["smoke_passed"] is True
        large = _large_layers(client, tag, weights=table)
        assert len(large) == 1 and large[0] < table * 1.01, large
        output = client.containers.run(
            tag, [], entrypoint=["python3", "-c", LOAD_SCRIPT], network_mode="host",
            remove=True, stderr=True,
        ).decode()  # fmt: skip
        assert "model lookup loaded: session create" in output
    finally:
        if tag:
            client.images.remove(tag, force=True)
        shutil.rmtree(tmp_path / "lookup", ignore_errors=True)
