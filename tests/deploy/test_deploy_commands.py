"""The deploy commands' behaviour around the engines: confirmation, CI, summaries, state."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from modelstack.cli import build_parser, main
from modelstack.deploy.release import Release
from modelstack.deploy.state import StateStore
from modelstack.deploy.summary import write_github_summary

ROOT = Path(__file__).resolve().parents[2]


def test_destroy_refuses_to_prompt_in_ci(iris_bundle: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CI", "true")
    code = main(["destroy", str(iris_bundle / "modelstack.yaml"), "--target", "prod"])
    assert code == 2
    assert "pass --yes" in capsys.readouterr().err


def test_up_to_a_cloud_target_refuses_to_prompt_in_ci(
    iris_bundle: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CI", "true")
    assert main(["up", str(iris_bundle / "modelstack.yaml"), "--target", "prod"]) == 2
    assert "without confirmation" in capsys.readouterr().err


def test_up_json_summary_names_the_failing_step(
    iris_bundle: Path, capsys, monkeypatch, tmp_path: Path
) -> None:
    manifest = iris_bundle / "modelstack.yaml"
    text = manifest.read_text().replace("memory_mb: 1024", "memory_mb: 64")
    manifest.write_text(text)
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    code = main(["up", str(manifest), "--target", "local", "--format", "json"])
    assert code == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["result"] == "failed"
    assert summary["steps"] == [
        {
            "step": "lint",
            "status": "failed",
            "detail": summary["steps"][0]["detail"],
            "seconds": summary["steps"][0]["seconds"],
        }
    ]
    assert "lint found 1 error" in summary["error"]
    table = step_summary.read_text()
    assert "modelstack up: iris → local (failed)" in table and "| lint | ❌ |" in table


def test_github_summary_is_only_written_under_actions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    summary = {
        "command": "up",
        "model": "m",
        "target": "t",
        "result": "deployed",
        "steps": [],
        "version": "3",
        "endpoint": "http://x",
    }
    write_github_summary(summary)  # nowhere to write: no error, no file
    path = tmp_path / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    write_github_summary(summary)
    write_github_summary(summary)
    assert path.read_text().count("Serving version **3** at `http://x`") == 2


def test_status_and_history_read_the_state(iris_bundle: Path, capsys) -> None:
    manifest = str(iris_bundle / "modelstack.yaml")
    assert main(["status", manifest, "--target", "local"]) == 0
    assert "nothing deployed yet" in capsys.readouterr().out
    store = StateStore(iris_bundle, "local")
    stable = Release("4", "sha256:" + "a" * 64, "1.0.0", "m" * 64, "f" * 64)
    candidate = Release("5", "sha256:" + "b" * 64, "1.1.0", "m" * 64, "f" * 64)
    store.save(
        store.load().with_(
            stable=stable,
            candidate=candidate,
            candidate_percent=10,
            step="traffic 10%",
            endpoint="http://127.0.0.1:8080",
        )
    )
    store.record(
        {"event": "deploy", "version": "4", "digest": stable.digest, "result": "succeeded"}
    )

    assert main(["status", manifest, "--target", "local", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["traffic"] == {"4": 90, "5": 10}
    assert report["stable"]["version"] == "4" and report["step"] == "traffic 10%"
    assert main(["status", manifest, "--target", "local"]) == 0
    text = capsys.readouterr().out
    assert "version 4 (1.0.0), 90% of traffic" in text and "in progress: traffic 10%" in text

    assert main(["history", manifest, "--format", "json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e["version"], e["target"]) for e in entries] == [("deploy", "4", "local")]
    assert entries[0]["actor"] and entries[0]["time"].endswith("Z")


def test_rollback_without_an_earlier_release_is_a_usage_error(
    iris_bundle: Path, capsys, monkeypatch
) -> None:
    # Decided from the state alone, before anything (Docker included) is touched.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code = main(["rollback", str(iris_bundle / "modelstack.yaml"), "--target", "local"])
    assert code == 2
    assert "no earlier release to roll back to" in capsys.readouterr().err


def test_rollback_asks_before_touching_a_cloud_target(
    iris_bundle: Path, capsys, monkeypatch
) -> None:
    store = StateStore(iris_bundle, "prod")
    old = Release("1", "repo@sha256:" + "1" * 64, "1.0.0", "m" * 64, "f" * 64)
    new = Release("2", "repo@sha256:" + "2" * 64, "1.1.0", "m" * 64, "f" * 64)
    store.save(store.load().with_(stable=new, previous=[old], step="traffic 10%", candidate=new))
    monkeypatch.setenv("CI", "true")
    code = main(["rollback", str(iris_bundle / "modelstack.yaml"), "--target", "prod"])
    assert code == 2
    assert "roll prod back from version 2 to 1" in capsys.readouterr().err
    assert store.load().step == "traffic 10%"  # nothing was recovered or changed


def test_the_example_ci_workflow_only_uses_real_flags() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "deploy.yml").read_text())
    commands = [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "run" in step and step["run"].startswith("modelstack ")
    ]
    assert len(commands) >= 5
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command.split(">")[0].split("||")[0].replace('"$MANIFEST"', "m.yaml"))
        parser.parse_args(argv[1:])  # SystemExit on an unknown command or flag


@pytest.mark.parametrize("command", ["up", "rollback", "status", "destroy", "history"])
def test_deploy_commands_have_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    assert "manifest" in capsys.readouterr().out


def test_cloud_up_without_the_pulumi_cli_says_how_to_install_it_before_building(
    iris_bundle: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi (and no docker) on PATH
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code = main(["up", str(iris_bundle / "modelstack.yaml"), "--target", "prod", "--yes"])
    assert code == 3
    err = capsys.readouterr().err
    assert "Pulumi CLI is needed" in err and "get.pulumi.com" in err
    assert "modelstack plan` works without it" in err
    assert not (iris_bundle / ".modelstack" / "builds").exists()  # nothing was built


def test_status_and_history_show_the_recorded_evaluation(
    iris_bundle: Path, iris_client, iris_cases, capsys
) -> None:
    from fake_engine import FakeEngine

    from modelstack.deploy.progress import Progress
    from modelstack.deploy.rollout import roll_out
    from modelstack.manifest import load_manifest

    manifest = str(iris_bundle / "modelstack.yaml")
    store = StateStore(iris_bundle, "local")
    metrics = {"accuracy": 0.96, "macro_f1": 0.955}
    record = {"model": "model.onnx", "size_mb": 0.01, "p50_ms": 0.2, "p99_ms": 0.4,
              "metrics": metrics, "per_dataset": {}, "rows": 30}  # fmt: skip
    release = Release("1", "repo@sha256:" + "1" * 64, "1.0.0", "m" * 64, "f" * 64,
                      evaluation=record)  # fmt: skip
    bare = Release("2", "repo@sha256:" + "2" * 64, "1.0.1", "m" * 64, "f" * 64)
    rollout = load_manifest(manifest).rollout
    for deployed in (release, bare):
        engine = FakeEngine(iris_client)
        roll_out(engine, store, deployed, iris_cases, rollout, Progress(quiet=True))
    assert store.load().previous[0].evaluation == record  # kept for `rollback`

    assert main(["status", manifest, "--target", "local", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluation"] is None  # v2 recorded none
    store.save(store.load().with_(stable=release, previous=[]))
    assert main(["status", manifest, "--target", "local", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluation"] == record
    assert main(["status", manifest, "--target", "local"]) == 0
    assert "evaluation accuracy 0.96, macro_f1 0.955 (version 1" in capsys.readouterr().out

    assert main(["history", manifest, "--format", "json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e.get("metrics") for e in entries] == [metrics, None]
    assert main(["history", manifest]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "    evaluation: accuracy 0.96, macro_f1 0.955"
    assert len(lines) == 3  # the second deploy has no evaluation line
