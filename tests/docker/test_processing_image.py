"""The catalog-tagging image: built with its processing graph, decoding images in a container."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import numpy as np
import pytest
import tritonclient.http as httpclient
from example_copies import copy_example

from modelstack.commands.build import build
from modelstack.image.containers import free_port, run_container
from modelstack.image.record import record_path
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "image"))
from imagefixtures import BASE_IMAGE, CA_BUNDLE

NAME = "catalog-tagging"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    manifest = copy_example(NAME, tmp_path_factory.mktemp("processing") / NAME) / "modelstack.yaml"
    code = build(
        str(manifest), target="local", base_image=BASE_IMAGE, ca_bundle=CA_BUNDLE, quiet=True
    )
    record = json.loads(record_path(manifest.parent, NAME, "local").read_text(encoding="utf-8"))
    assert code == 0, record
    return manifest, record


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    yield engine
    engine.close()


def test_the_image_passes_the_raw_image_smoke_tests_and_labels_the_graph(
    built: tuple[Path, dict[str, object]], client: docker.DockerClient
) -> None:
    manifest, record = built
    assert record["smoke_passed"] is True
    labels = client.images.get(str(record["tag"])).labels
    assert labels["dev.modelstack.model.sha256"] == load_manifest(manifest).model.sha256
    graph = Path(prepare_local(load_manifest(manifest)).config.model_path)
    assert (
        labels["dev.modelstack.processing.sha256"] == hashlib.sha256(graph.read_bytes()).hexdigest()
    )


def test_tritonclient_sends_an_image_as_bytes_and_gets_label_strings(
    built: tuple[Path, dict[str, object]], client: docker.DockerClient
) -> None:
    manifest, record = built
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port)}
    with run_container(client, str(record["tag"]), environment=env, name_prefix="ms-processing"):
        triton = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if triton.is_model_ready(NAME):
                    break
            except Exception:  # not listening yet
                pass
            time.sleep(0.2)
        data = (manifest.parent / "images" / "seven.png").read_bytes()
        image = httpclient.InferInput("image", [1], "BYTES")
        image.set_data_from_numpy(np.array([data], dtype=np.object_), binary_data=True)
        result = triton.infer(NAME, [image])
        assert result.as_numpy("labels").tolist() == [[b"seven", b"eight", b"nine"]]
        bad = httpclient.InferInput("image", [1], "BYTES")
        bad.set_data_from_numpy(np.array([b"GIF89a...."], dtype=np.object_), binary_data=True)
        with pytest.raises(Exception, match="not a JPEG or PNG image"):
            triton.infer(NAME, [bad])
        triton.close()
