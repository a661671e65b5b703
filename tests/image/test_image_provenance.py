"""The source revision says where an image came from, but stays out of its content tag."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import docker
import pytest
from imagefixtures import CA_BUNDLE, copy_iris

from modelstack.commands.build import build
from modelstack.image.build_log import LOGS_DIR
from modelstack.image.context import render_context
from modelstack.image.flavours import flavour_for
from modelstack.image.labels import REVISION_LABEL
from modelstack.image.record import record_path
from modelstack.image.tags import TAG_HEX_DIGITS
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local

BASE = "modelstack/base-python:bookworm"


def git(directory: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com",
         "-c", "commit.gpgsign=false", *args],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return result.stdout.strip()


def committed_iris(tmp_path: Path, *, unique: bool = False) -> Path:
    """A copy of examples/iris as the only content of a fresh git repository.

    `unique` gives it a description of its own, so that its image is built afresh here.
    """
    manifest = copy_iris(tmp_path / "repo" / "iris")
    if unique:
        text = manifest.read_text()
        marker = "  description: Iris species classifier"
        assert marker in text
        manifest.write_text(text.replace(marker, f"{marker} {uuid.uuid4().hex}", 1))
    git(manifest.parent.parent, "init", "-q")
    git(manifest.parent.parent, "add", "-A")
    git(manifest.parent.parent, "commit", "-q", "-m", "first")
    return manifest


def edit_targets_and_commit(manifest: Path) -> str:
    """Change only `targets:` (the local port) and commit it; returns the new revision."""
    text = manifest.read_text()
    assert "    provider: local\n    port: 8080\n" in text
    manifest.write_text(text.replace("    port: 8080\n", "    port: 18123\n", 1))
    git(manifest.parent, "commit", "-q", "-am", "targets only")
    return git(manifest.parent, "rev-parse", "HEAD")


def context_of(manifest: Path) -> tuple[str, dict[str, str], bytes]:
    loaded = load_manifest(manifest)
    target = loaded.targets["local"]
    context = render_context(
        loaded, "local", flavour_for(target), prepare_local(loaded), base_image=BASE
    )
    dockerfile = context.files["Dockerfile"]
    assert isinstance(dockerfile, bytes)
    return context.tag, context.build_labels, dockerfile


def test_a_commit_that_only_changes_targets_keeps_the_content_tag(tmp_path: Path) -> None:
    manifest = committed_iris(tmp_path)
    first_revision = git(manifest.parent, "rev-parse", "HEAD")
    tag, labels, dockerfile = context_of(manifest)
    assert labels[REVISION_LABEL] == first_revision
    assert first_revision.encode() not in dockerfile

    second_revision = edit_targets_and_commit(manifest)
    assert second_revision != first_revision
    again, labels_again, dockerfile_again = context_of(manifest)
    assert labels_again[REVISION_LABEL] == second_revision  # provenance follows the commit
    assert (again, dockerfile_again) == (tag, dockerfile)  # the content does not
    assert len(tag.rsplit(":", 1)[1]) == TAG_HEX_DIGITS


@pytest.mark.docker
@pytest.mark.usefixtures("docker_engine")
def test_a_rebuild_after_a_targets_only_commit_builds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = committed_iris(tmp_path, unique=True)
    first_revision = git(manifest.parent, "rev-parse", "HEAD")
    assert build(str(manifest), target="local", base_image=BASE, ca_bundle=CA_BUNDLE) == 0
    first = json.loads(record_path(manifest.parent, "iris", "local").read_text())
    progress = capsys.readouterr().err
    assert "==> build modelstack/iris:" in progress
    assert re.search(r"^    step \d+/\d+ FROM .* \((cached|\d+\.\d s)\)$", progress, re.M)
    assert "==> container smoke tests" in progress
    assert "\x1b" not in progress  # not a terminal: no colour codes
    logs = sorted((manifest.parent / LOGS_DIR).glob("build-*.log"))
    assert len(logs) == 1 and "Successfully built" in logs[0].read_text()

    edit_targets_and_commit(manifest)
    assert build(str(manifest), target="local", base_image=BASE, ca_bundle=CA_BUNDLE,
                 quiet=True) == 0  # fmt: skip
    again = json.loads(record_path(manifest.parent, "iris", "local").read_text())
    assert again["built"] is False
    assert sorted((manifest.parent / LOGS_DIR).glob("build-*.log")) == logs  # nothing built
    assert (again["tag"], again["image_id"]) == (first["tag"], first["image_id"])

    engine = docker.from_env()
    try:
        labels = engine.api.inspect_image(first["tag"])["Config"]["Labels"]
    finally:
        engine.close()
    assert first["built"] is True
    assert labels[REVISION_LABEL] == first_revision  # the commit that built this content
