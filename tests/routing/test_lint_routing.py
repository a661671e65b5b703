"""Lint rules MS910-MS914 on real bundles in tmp_path: a routed manifest and its tiers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_models import softmax_model_bytes

from modelstack.lint.diagnostic import Diagnostic
from modelstack.lint.engine import LintOptions, lint_file

SHA = hashlib.sha256(softmax_model_bytes()).hexdigest()


def manifest(name: str, routing: str = "", outputs: str = "") -> str:
    signature = ""
    if outputs:
        signature = (
            "  signature:\n"
            "    inputs: [{name: x, datatype: FP32, shape: [-1, 3]}]\n"
            f"    outputs: [{outputs}]\n"
        )
    return (
        "apiVersion: modelstack.dev/v1\nkind: ModelService\n"
        f"metadata: {{name: {name}, version: 1.0.0}}\n"
        f"model:\n  path: model.onnx\n  sha256: {SHA}\n{signature}"
        "targets:\n  local: {provider: local}\n" + routing
    )


def bundle(root: Path, name: str, text: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(softmax_model_bytes())
    path = folder / "modelstack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def routed(tier_ref: str = "../large/modelstack.yaml#local", extra: str = "") -> str:
    return (
        "routing:\n"
        "  tiers:\n"
        f"    large: {{to: {tier_ref}}}\n"  # line of `to:` is the one after `tiers:`
        "  escalate:\n"
        "    - {to: large, output: probabilities, when: {max_prob_below: 0.8}}\n" + extra
    )


def ours(diagnostics: list[Diagnostic]) -> list[tuple[str, int, str]]:
    return [(d.rule_id, d.line, d.path) for d in diagnostics if d.rule_id.startswith("MS91")]


def test_a_good_routed_manifest_is_clean(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    assert ours(lint_file(bundle(tmp_path, "small", manifest("small", routed())))) == []


def test_a_missing_tier_manifest_points_at_its_to(tmp_path: Path) -> None:
    path = bundle(tmp_path, "small", manifest("small", routed("../nowhere/modelstack.yaml#local")))
    (found,) = [d for d in lint_file(path) if d.rule_id == "MS911"]
    text = path.read_text().splitlines()
    assert text[found.line - 1].strip().startswith("large: {to:")
    assert found.column == text[found.line - 1].index("../nowhere") + 1
    assert "no manifest at" in found.message and found.path == "routing.tiers.large.to"


def test_a_tier_manifest_that_breaks_the_schema(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large").replace("kind: ModelService", "kind: Other"))
    path = bundle(tmp_path, "small", manifest("small", routed()))
    assert [r for r, _, _ in ours(lint_file(path))] == ["MS911"]


def test_a_target_the_tier_does_not_have(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    path = bundle(tmp_path, "small", manifest("small", routed("../large/modelstack.yaml#prod")))
    (found,) = [d for d in lint_file(path) if d.rule_id == "MS912"]
    assert "no target 'prod' (its targets: local)" in found.message


def test_escalate_output_must_exist_and_be_probabilities(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    missing = bundle(
        tmp_path, "a", manifest("a", routed().replace("output: probabilities", "output: p"))
    )
    (found,) = [d for d in lint_file(missing) if d.rule_id == "MS913"]
    assert "has no output 'p' (outputs: probabilities, label)" in found.message
    assert found.path == "routing.escalate.0.output"
    labels = manifest("b", routed(), outputs="{name: probabilities, datatype: INT64, shape: [-1]}")
    options = LintOptions(model_checks=False)  # the declared signature, not the model's
    (found,) = [
        d for d in lint_file(bundle(tmp_path, "b", labels), options) if d.rule_id == "MS913"
    ]
    assert "reads class probabilities, but it is INT64" in found.message


def test_rules_naming_unknown_tiers_and_bad_weights(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    extra = (
        "  route:\n    - {to: huge, when: {elements_above: 10}}\n"
        "  split: {key: {header: x-user-id}, weights: {self: 80, medium: 10}}\n"
    )
    found = ours(lint_file(bundle(tmp_path, "small", manifest("small", routed(extra=extra)))))
    text = manifest("small", routed(extra=extra)).splitlines()
    route_line = text.index("    - {to: huge, when: {elements_above: 10}}") + 1
    assert ("MS910", route_line, "routing.route.0.to") in found
    paths = {p for r, _, p in found if r == "MS910"}
    assert paths == {"routing.route.0.to", "routing.split.weights.medium", "routing.split.weights"}


def test_a_tier_that_routes_back_is_a_cycle(tmp_path: Path) -> None:
    back = routed("../small/modelstack.yaml#local")
    bundle(tmp_path, "large", manifest("large", back))
    found = [d for d in lint_file(bundle(tmp_path, "small", manifest("small", routed())))]
    (cycle,) = [d for d in found if d.rule_id == "MS914"]
    assert "routing goes in a circle: this manifest -> large -> large" in cycle.message
    assert cycle.path == "routing.tiers.large.to"


def test_lint_of_routing_imports_nothing_heavy(tmp_path: Path) -> None:
    import subprocess
    import sys

    bundle(
        tmp_path,
        "large",
        manifest("large", outputs="{name: probabilities, datatype: FP32, shape: [-1, 3]}"),
    )
    path = bundle(tmp_path, "small", manifest("small", routed()))
    code = (
        "import sys\nfrom modelstack.lint.engine import lint_file, LintOptions\n"
        f"lint_file({str(path)!r}, LintOptions(model_checks=False))\n"
        "print(sorted(m for m in ('onnxruntime', 'pulumi', 'docker', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=3))
def test_weights_are_reported_exactly_when_they_do_not_sum_to_100(weights: list[int]) -> None:
    import tempfile

    names = ["self", "large", "other"][: len(weights)]
    tiers = "" if len(weights) < 3 else "    other: {to: ../large/modelstack.yaml#local}\n"
    shown = ", ".join(f"{n}: {w}" for n, w in zip(names, weights, strict=True))
    text = routed().replace("  escalate:\n", tiers + "  escalate:\n") + (
        f"  split: {{key: {{parameter: user}}, weights: {{{shown}}}}}\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bundle(root, "large", manifest("large"))
        found = ours(lint_file(bundle(root, "small", manifest("small", text))))
    flagged = ("MS910", "routing.split.weights") in [(r, p) for r, _, p in found]
    assert flagged == (sum(weights) != 100)
