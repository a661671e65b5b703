"""Evaluation inside `modelstack up` on the local target with the real Docker engine: a failing
gate builds nothing, a passing one is recorded with the release, the next version is gated
against that record, and `evaluate --against` reaches both local flavours' endpoints."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from evalbundle import ACCURACY, WEIGHTS, classifier_model, sha, write_bundle

from modelstack.cli import main
from modelstack.deploy.state import StateStore
from modelstack.image.containers import free_port
from modelstack.image.labels import LABEL_PREFIX

pytestmark = pytest.mark.docker

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]


@pytest.fixture(autouse=True)
def _engine(docker_engine: None) -> None:
    """Every test here needs the engine."""


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "tiny"
    yield directory
    if (directory / "modelstack.yaml").exists():
        main(["destroy", str(directory / "modelstack.yaml"), "--target", "local", "--yes"])


def use_model(manifest: Path, weights: np.ndarray) -> str:
    """Put a model with `weights` in the bundle, unique to this run (so no image of it exists
    yet), pin it in the manifest, and return its sha256."""
    import onnx

    model = onnx.load_from_string(classifier_model(weights))
    model.doc_string = uuid.uuid4().hex
    path = manifest.parent / "model.onnx"
    old = sha(path)
    path.write_bytes(model.SerializeToString())
    manifest.write_text(manifest.read_text().replace(old, sha(path)))
    return sha(path)


def local_bundle(directory: Path, *, gates: str, flavour: str = "http") -> tuple[Path, str]:
    manifest = write_bundle(directory, gates=gates)
    target = f"    provider: local\n    port: {free_port()}\n    flavour: {flavour}\n"
    manifest.write_text(manifest.read_text().replace("    provider: local\n", target))
    return manifest, use_model(manifest, WEIGHTS)


def set_gates(manifest: Path, gates: str) -> None:
    text = manifest.read_text()
    start = text.index("  gates:\n") + len("  gates:\n")
    manifest.write_text(text[:start] + f"    {gates}\n")


def images_of(model_sha: str) -> list[object]:
    from modelstack.image.engine import docker_client

    client = docker_client()
    try:
        return list(
            client.images.list(filters={"label": f"{LABEL_PREFIX}.model.sha256={model_sha}"})
        )
    finally:
        client.close()


def up(manifest: Path) -> int:
    return main(["up", str(manifest), "--target", "local", *BUILD_FLAGS])


def evaluate_against(manifest: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["evaluate", str(manifest), "--against", "local", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_up_gates_builds_records_and_gates_the_next_version_against_the_record(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, first_sha = local_bundle(bundle, gates="accuracy: {min: 0.9}")
    store = StateStore(bundle, "local")

    assert up(manifest) == 1  # accuracy is 0.8
    assert "FAIL  accuracy min 0.9: 0.8 < 0.9" in capsys.readouterr().err
    assert images_of(first_sha) == []  # nothing was built
    assert store.load().stable is None

    set_gates(manifest, "accuracy: {min: 0.75, max_drop: 0.05}")
    assert up(manifest) == 0
    assert len(images_of(first_sha)) == 1
    stable = store.load().stable
    assert stable is not None and stable.version == "1" and stable.evaluation is not None
    assert stable.evaluation["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    assert store.history()[-1]["metrics"]["accuracy"] == pytest.approx(ACCURACY)

    # a release deployed before results were recorded gets one from an unchanged `up`
    store.save(store.load().with_(stable=dataclasses.replace(stable, evaluation=None)))
    assert up(manifest) == 0
    again = store.load().stable
    assert again is not None and again.version == "1" and again.evaluation is not None
    assert again.evaluation["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    stable = again

    worse_sha = use_model(manifest, np.roll(WEIGHTS, 1, axis=1))
    capsys.readouterr()
    assert up(manifest) == 1
    err = capsys.readouterr().err
    assert "FAIL  accuracy max_drop 0.05" in err and "against baseline 0.8" in err
    assert "serving version 1" in err
    assert images_of(worse_sha) == []
    assert store.load().stable == stable  # version 1 still serves

    use_model(manifest, WEIGHTS)  # the bundle serves again what version 1 was built from
    code, report = evaluate_against(manifest, capsys)
    assert code == 0, report
    assert report["candidate"]["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    assert report["baseline"]["model"] == "serving version 1"
    assert {g["bound"]: g["result"] for g in report["gates"]} == {"min": "pass", "max_drop": "pass"}


def test_evaluate_against_the_lambda_flavour_goes_through_its_invoke_api(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, _ = local_bundle(bundle, gates="accuracy: {min: 0.75}", flavour="lambda")
    assert up(manifest) == 0
    code, report = evaluate_against(manifest, capsys)
    assert code == 0, report
    assert report["target"] == "local"
    assert report["candidate"]["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    assert report["candidate"]["rows"] == 10
