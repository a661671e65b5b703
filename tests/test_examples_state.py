"""The suite passes beside a deployed quick start, and never touches the examples' state.

`scripts/quickstart` leaves deploy state in examples/iris/.modelstack/. This copies the checkout,
plants such state in every example, runs the tests that copy examples there, and checks that
they pass and that the planted state is byte-for-byte what it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modelstack.deploy.release import Release
from modelstack.deploy.state import STATE_DIR, DeployState, StateStore

ROOT = Path(__file__).resolve().parents[1]


def snapshot_checkout(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes(source.read_bytes())
    return destination


def plant_quickstart_state(bundle: Path) -> None:
    """What `up --target local` leaves: state, lock, history, build record, router files."""
    release = Release(
        version="1",
        image=f"127.0.0.1:5000/{bundle.name}@sha256:{'ab' * 32}",
        model_version="1.0.0",
        model_sha256="cd" * 32,
        manifest_sha256="ef" * 32,
        image_id=f"sha256:{'12' * 32}",
    )
    store = StateStore(bundle, "local")
    store.save(DeployState(stable=release, next_version=2, endpoint="http://127.0.0.1:8080"))
    store.lock_path.write_text("")
    store.record({"action": "up", "result": "deployed", "version": "1"})
    root = bundle / STATE_DIR
    (root / "builds").mkdir()
    (root / "builds" / f"{bundle.name}-local.json").write_text(json.dumps({"built": True}))
    (root / "smoke").mkdir()
    (root / "smoke" / f"{'12' * 16}.json").write_text(json.dumps({"cases": []}))
    router = root / "local" / "local"
    router.mkdir(parents=True)
    (router / "routes.json").write_text(json.dumps({"revisions": {"1": 100}}))
    (router / "router.pid").write_text("4194300 8080\n")


def test_the_tests_that_copy_examples_pass_beside_a_deployed_quick_start(
    tmp_path: Path,
) -> None:
    checkout = snapshot_checkout(tmp_path / "checkout")
    examples = sorted(p.parent for p in (checkout / "examples").glob("*/modelstack.yaml"))
    for bundle in examples:
        plant_quickstart_state(bundle)
    planted = {
        p: p.read_bytes() for b in examples for p in (b / STATE_DIR).rglob("*") if p.is_file()
    }
    users = sorted(
        str(p.relative_to(checkout))
        for p in (checkout / "tests").rglob("test_*.py")
        if p.name != Path(__file__).name and "copy_example(" in p.read_text(encoding="utf-8")
    )
    users += ["tests/deploy/test_deploy_commands.py", "tests/deploy/test_rollout.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *sorted(set(users)), "-m", "not docker and not slow",
         "-q", "-p", "no:cacheprovider"],
        cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
    assert {p: p.read_bytes() for p in planted} == planted  # not one byte of state changed
