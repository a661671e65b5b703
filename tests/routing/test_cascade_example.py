"""examples/cascade: it lints clean, its cascade meets the example's goals on the held-out
digits, its files are the ones its manifests pin and `train.py` makes, and its `aws` targets
plan once the tier names the large model's `aws` target.

Every test works on a copy of the example in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from example_copies import EXAMPLES, copy_example

from modelstack.cli import main

README = EXAMPLES.parent / "README.md"
ACCURACY_WITHIN = 0.005
"""The cascade's accuracy may trail the large model alone by at most half a point."""
MAX_ESCALATED = 0.35


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example("cascade", tmp_path / "cascade")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def entry(example: Path) -> Path:
    return example / "small" / "modelstack.yaml"


def test_both_manifests_lint_clean(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["lint", str(entry(example)), str(example / "large/modelstack.yaml")],
                         capsys)  # fmt: skip
    assert code == 0, out + err
    assert "2 manifests checked, no problems" in out


def test_the_cascade_meets_the_goals_on_the_held_out_digits(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["evaluate", str(entry(example)), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["passed"] is True, err
    cascade, large = report["cascade"], report["baseline"]["metrics"]
    assert cascade["rows"] == 450
    assert cascade["metrics"]["accuracy"] >= large["accuracy"] - ACCURACY_WITHIN
    assert cascade["escalation_rate"] <= MAX_ESCALATED
    # The figures the example's README and the project README quote.
    assert cascade["answered"] == {"self": 380, "large": 70}
    assert cascade["metrics"]["accuracy"] == pytest.approx(444 / 450)
    assert large["accuracy"] == pytest.approx(444 / 450)


def test_the_small_model_alone_would_miss_the_goal(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The escalation earns its keep: without it the entry trails by more than half a point."""
    manifest = entry(example)
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("max_prob_below: 0.8", "max_prob_below: 0.0"), "utf-8")
    code, out, _ = run(["evaluate", str(manifest), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["cascade"]["escalated"] == 0
    gap = report["baseline"]["metrics"]["accuracy"] - report["cascade"]["metrics"]["accuracy"]
    assert gap > ACCURACY_WITHIN


def sweep_table(text: str) -> list[tuple[float, float, float]]:
    rows = re.findall(r"(?m)^\s*\|?\s*(0\.\d+)\s*\|?\s+(0\.\d{4})\s*\|?\s+(0\.\d{4})\b", text)
    return [(float(t), float(a), float(e)) for t, a, e in rows]


def test_the_readme_sweep_table_is_what_evaluate_prints(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(entry(example)), "--sweep", "max_prob_below=0.5:0.99"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    printed = sweep_table(out.split("sweep of max_prob_below")[1])
    assert [t for t, _, _ in printed] == pytest.approx([0.5 + 0.05 * i for i in range(10)])
    section = README.read_text(encoding="utf-8").split("### Example: a cascade", 1)[1]
    quoted = sweep_table(section.split("\n### ", 1)[0].split("\n## ", 1)[0])
    assert quoted, "the README's cascade example has no sweep table"
    assert set(quoted) <= set(printed)
    declared = yaml.safe_load(entry(example).read_text(encoding="utf-8"))
    threshold = declared["routing"]["escalate"][0]["when"]["max_prob_below"]
    assert threshold in {t for t, _, _ in quoted}  # the table shows the chosen threshold


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifests_pin_the_files_beside_them(example: Path) -> None:
    for name in ("small", "large"):
        data = yaml.safe_load((example / name / "modelstack.yaml").read_text(encoding="utf-8"))
        assert sha256(example / name / data["model"]["path"]) == data["model"]["sha256"]
        for dataset in data.get("evaluation", {}).get("datasets", []):
            assert sha256(example / name / dataset["path"]) == dataset["sha256"]
    files = [p for p in example.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_size < 200_000 for p in files)


@pytest.mark.slow
def test_train_py_makes_the_checked_in_files_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "made"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "cascade" / "train.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    made = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert [str(p) for p in made] == [
        "large/model.onnx", "large/smoke.npz",
        "small/eval.npz", "small/model.onnx", "small/smoke.npz", "small/unsure.npz",
    ]  # fmt: skip
    for relative in made:
        checked_in = EXAMPLES / "cascade" / relative
        assert (out / relative).read_bytes() == checked_in.read_bytes(), relative


def test_the_smoke_tests_pass_and_the_unsure_digit_needs_the_large_model(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["test", str(example / "large" / "modelstack.yaml")], capsys)
    assert code == 0 and "1 passed, 0 failed" in out, out + err
    # With no large tier deployed the small model answers everything: the sure digits pass,
    # the unsure one fails its expect_model, so it can pass only once it escalates.
    code, out, _ = run(["test", str(entry(example))], capsys)
    assert code == 1
    assert re.search(r"PASS\s+zero-and-seven", out)
    assert re.search(r"FAIL\s+an-unsure-eight", out)
    assert "expect_model 'cascade-large': the answer came from model 'cascade-small'" in out


def test_the_aws_cascade_plans_once_the_tier_names_the_aws_target(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = entry(example)
    code, _, err = run(["plan", str(manifest), "--target", "aws"], capsys)
    assert code != 0
    assert "routing tier 'large' is a local target, which an aws-lambda service cannot" in err
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("modelstack.yaml#local", "modelstack.yaml#aws"), "utf-8")
    code, out, err = run(["plan", str(manifest), "--target", "aws"], capsys)
    assert code == 0, err
    grant = next(line for line in out.splitlines() if "cascade-small-aws-routing-policy" in line)
    assert '"lambda:InvokeFunction"' in grant
    assert "function:cascade-large-aws:live" in grant
    code, out, _ = run(["evaluate", str(manifest), "--target", "aws", "--format", "json"], capsys)
    cost = json.loads(out)["cascade"]["cost_per_1k_usd"]
    assert code == 0 and cost is not None and cost > 0


def test_the_benchmark_copies_lint_clean_and_plain_has_no_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench/bench_routing.py edits copies of the example by pattern; they must stay valid."""
    monkeypatch.syspath_prepend(str(EXAMPLES.parent / "bench"))
    import bench_routing

    services = bench_routing.prepare(tmp_path, "t")
    code, out, err = run(["lint", str(services.small), str(services.large),
                          str(services.plain)], capsys)  # fmt: skip
    assert code == 0, out + err
    plain = yaml.safe_load(services.plain.read_text(encoding="utf-8"))
    entry_copy = yaml.safe_load(services.small.read_text(encoding="utf-8"))
    assert "routing" not in plain and "routing" in entry_copy
    assert plain["metadata"]["name"] == "t-plain"
    assert all("expect_model" not in case for case in plain["smoke_tests"])
    assert [c["expect_model"] for c in entry_copy["smoke_tests"]] == ["t-small", "t-large"]
    ports = {m["targets"]["local"]["port"] for m in (plain, entry_copy)}
    assert ports == {services.ports["plain"], services.ports["small"]} and len(ports) == 2
    escalated = bench_routing.offline_escalated(services.small, bench_routing.held_out()[1])
    assert len(escalated) == 70  # the rows `modelstack evaluate` escalates
