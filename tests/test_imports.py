"""`modelstack lint` stays light: it runs in pre-commit hooks and CI on every push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pulumi", "pulumi_aws", "pulumi_gcp", "docker", "onnxruntime", "onnx", "numpy",
         "jsonschema", "boto3", "google.auth", "google.cloud")  # fmt: skip

PROBE = """
import json, sys
import modelstack.cli
try:
    code = modelstack.cli.main({argv!r})
except SystemExit as exit:
    code = exit.code
heavy = sorted({{h for h in {heavy!r} for m in sys.modules if m == h or m.startswith(h + ".")}})
print("\\n" + json.dumps({{"code": code, "heavy": heavy}}))
"""


def imported(argv: list[str]) -> tuple[int, set[str]]:
    """The exit code of `modelstack <argv>` in a fresh interpreter, and what heavy it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], set(report["heavy"])


def test_lint_without_model_checks_imports_nothing_heavy() -> None:
    code, heavy = imported(["lint", "--no-model-checks", "examples"])
    assert code == 0
    assert heavy == set()


def test_lint_with_model_checks_imports_onnx_only() -> None:
    code, heavy = imported(["lint", "examples"])
    assert code == 0
    assert "onnx" in heavy  # the probe can see an import when there is one
    assert heavy <= {"onnx", "numpy"}


@pytest.mark.parametrize("argv", [["rules"], ["schema"], ["lint", "--help"]])
def test_other_light_commands(argv: list[str]) -> None:
    code, heavy = imported(argv)
    assert code == 0
    assert heavy == set()


def test_test_command_never_imports_pulumi_or_docker() -> None:
    code, heavy = imported(["test", "examples/iris/modelstack.yaml"])
    assert code == 0
    assert "onnxruntime" in heavy  # it really ran the model
    assert not heavy & {"pulumi", "pulumi_aws", "pulumi_gcp", "docker", "boto3"}


def test_build_command_never_imports_pulumi(monkeypatch: pytest.MonkeyPatch) -> None:
    # No engine at this socket: build gets as far as connecting to Docker, then stops.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, heavy = imported(["build", "examples/iris/modelstack.yaml", "--target", "local"])
    assert code == 3
    assert "docker" in heavy
    assert not heavy & {"pulumi", "pulumi_aws", "pulumi_gcp"}


def test_the_image_package_imports_its_modules_only_when_used() -> None:
    # Tags and labels are pure hashing: importing them must not pay for numpy or Docker.
    probe = (
        "import json, sys\n"
        "import modelstack.image, modelstack.image.tags, modelstack.image.labels\n"
        f"heavy = sorted({{h for h in {HEAVY!r} for m in sys.modules\n"
        "                 if m == h or m.startswith(h + '.')})\n"
        "import modelstack.image as image\n"
        "assert image.content_tag is modelstack.image.tags.content_tag\n"
        "print(json.dumps(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
