"""The `modelstack-lint` hook, installed and run by pre-commit itself in a fresh environment.

This builds real hook environments (pre-commit pip-installs modelstack and its core
dependencies), so it takes a while; it is the only test that proves the published hook works
and stays light.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
BAD = "bad/modelstack.yaml"
INSTALL_TIMEOUT_S = 600


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=modelstack tests", "-c", "user.email=tests@example.com",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with a valid manifest at the top and a broken one under bad/."""
    repo = tmp_path / "project"
    for folder in (repo, repo / "bad"):
        folder.mkdir(parents=True)
        shutil.copy(IRIS / "modelstack.yaml", folder / "modelstack.yaml")
        shutil.copy(IRIS / "model.onnx", folder / "model.onnx")
    bad = repo / BAD
    bad.write_text(bad.read_text().replace("memory_mb: 1024", "memory_mb: 64"))
    (repo / "notes.yaml").write_text("memory_mb: 64\n")  # not a manifest: the hook skips it
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


@pytest.fixture
def snapshot(tmp_path: Path) -> tuple[Path, str]:
    """This checkout's working tree as a one-commit repository (pre-commit installs by rev)."""
    snap = tmp_path / "snapshot"
    snap.mkdir()
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (snap / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snap / name)
    git(snap, "init", "-q")
    git(snap, "add", ".")
    git(snap, "commit", "-q", "-m", "snapshot")
    return snap, git(snap, "rev-parse", "HEAD").strip()


@pytest.mark.slow
def test_hook_fails_on_a_broken_manifest_then_passes(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    args = ("try-repo", str(ROOT), "modelstack-lint", "--all-files", "--color", "never")

    failed = pre_commit(project, home, *args)
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "modelstack lint" in out and "Failed" in out
    assert f"{BAD}:39:16: MS301 error: memory_mb 64 is outside what Lambda allows" in out
    assert "1 error(s), 0 warning(s) in 2 manifests" in out  # both manifests were checked
    assert "notes.yaml" not in out

    bad = project / BAD
    bad.write_text(bad.read_text().replace("memory_mb: 64", "memory_mb: 128"))
    git(project, "add", ".")
    passed = pre_commit(project, home, *args)
    out = passed.stdout + passed.stderr
    assert passed.returncode == 0, out
    assert "modelstack lint" in out and "Passed" in out
    assert "MS301" not in out


@pytest.mark.slow
def test_hook_environment_is_light(
    project: Path, snapshot: tuple[Path, str], tmp_path: Path
) -> None:
    # try-repo keeps its hook environment in a throwaway directory, so install through a
    # configuration instead (what try-repo writes for itself), into a PRE_COMMIT_HOME we keep.
    home = tmp_path / "pre-commit-home"
    snap, rev = snapshot
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {snap}\n    rev: {rev}\n    hooks:\n      - id: modelstack-lint\n"
    )
    git(project, "add", ".")
    result = pre_commit(project, home, "run", "--all-files", "--color", "never")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"{BAD}:39:16: MS301" in out

    [site_packages] = [p for p in home.rglob("site-packages") if p.is_dir()]
    installed = {p.name.lower() for p in site_packages.iterdir()}
    assert "modelstack" in installed
    assert any(
        n.startswith("modelstack_serverless-") and n.endswith(".dist-info") for n in installed
    )
    assert {"numpy", "onnx", "onnxruntime", "yaml"} <= installed
    assert "jsonschema" not in installed  # only the tests use it
    heavy = sorted(n for n in installed if n.startswith(("pulumi", "boto3", "botocore")))
    assert heavy == [], f"the hook environment installed {heavy}"
    # `google` holds protobuf (for onnx); the Cloud Run extra's google-auth must not be there.
    assert not (site_packages / "google" / "auth").exists()

    def installed_as(pattern: str) -> list[str]:
        # Distributions at the top of site-packages (modelstack's own `pulumi` subpackage is
        # modelstack/pulumi, not a Pulumi install).
        return subprocess.run(
            ["find", str(home), "-path", f"*site-packages/{pattern}"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.split()  # fmt: skip

    assert installed_as("onnxruntime*") != []  # the search does find installed packages
    assert installed_as("pulumi*") == []


@pytest.mark.slow
def test_hook_runs_when_only_the_model_changes(
    project: Path, snapshot: tuple[Path, str], tmp_path: Path
) -> None:
    home = tmp_path / "pre-commit-home"
    snap, rev = snapshot
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {snap}\n    rev: {rev}\n    hooks:\n      - id: modelstack-lint\n"
    )
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "bundle")

    # Re-export the model without updating the manifest: only model.onnx is staged.
    import onnx

    model = project / "model.onnx"
    proto = onnx.load(str(model))
    proto.producer_version = "re-exported"
    onnx.save(proto, str(model))
    git(project, "add", "model.onnx")
    result = pre_commit(project, home, "run", "--color", "never")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "modelstack.yaml:13:11: MS102 error" in out
    assert "1 error(s), 0 warning(s) in 1 manifest" in out
    assert "bad/" not in out  # only the manifest that references the model was checked

    # A staged file that no manifest references is skipped quietly.
    git(project, "checkout", "HEAD", "--", "model.onnx")
    (project / "notes.json").write_text("{}\n")
    git(project, "add", "notes.json")
    result = pre_commit(project, home, "run", "--color", "never")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "modelstack lint" in out and "Passed" in out
