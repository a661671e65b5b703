"""Smoke cases with `expect_model`: the runner fails a case answered by another model (in
`modelstack test`, through a routed service's live tier too), and lint rule MS915."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_deploy_graph import with_port
from test_lint_routing import bundle, manifest, ours, routed

from modelstack.cli import main
from modelstack.lint.engine import LintOptions, lint_file
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack.smoke.runner import run_smoke_tests
from modelstack_runtime import RuntimeServer
from modelstack_runtime.config import load_config


def cases(*rows: tuple[str, float, str]) -> str:
    """Smoke tests (name, first logit, expect_model): softmax([a, 0, 0]) has max 0.8 at a=ln 8."""
    body = "".join(
        f"  - name: {name}\n    inputs: {{x: {{data: [[{a}, 0.0, 0.0]]}}}}\n"
        f"    expect_model: {model}\n"
        for name, a, model in rows
    )
    return "smoke_tests:\n" + body


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeServer]:
    """A real runtime serving model 'large' on 127.0.0.1, as a deployed local tier does."""
    folder = tmp_path_factory.mktemp("tier")
    large = bundle(folder, "large", manifest("large"))
    (folder / "runtime.json").write_text(
        '{"model_name": "large", "model_version": "1.0.0", '
        f'"model_path": "{large.parent / "model.onnx"}"}}'
    )
    server = RuntimeServer(load_config(folder / "runtime.json"))
    server.start()
    server.load()
    yield server
    server.stop(grace_s=5.0)


def test_a_case_answered_by_another_model_fails_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alone = bundle(tmp_path, "small", manifest("small") + cases(("own", 3.0, "small")))
    assert main(["test", str(alone)]) == 0
    bundle(tmp_path, "small", manifest("small") + cases(("own", 3.0, "large")))
    assert main(["test", str(alone)]) == 1
    assert "expect_model 'large': the answer came from model 'small'" in capsys.readouterr().out


def test_test_of_a_routed_service_goes_through_its_live_tier(
    tmp_path: Path, tier: RuntimeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle(tmp_path, "large", with_port(manifest("large"), tier.port))
    rows = (("confident", 2.2, "small"), ("unsure", 1.9, "large"))  # max prob 0.819 / 0.770
    entry = bundle(tmp_path, "small", manifest("small", routed()) + cases(*rows))
    assert main(["test", str(entry)]) == 0, capsys.readouterr()

    swapped = (("confident", 2.2, "large"), ("unsure", 1.9, "small"))
    bundle(tmp_path, "small", manifest("small", routed()) + cases(*swapped))
    assert main(["test", str(entry)]) == 1
    out = capsys.readouterr().out
    assert "expect_model 'large': the answer came from model 'small'" in out
    assert "expect_model 'small': the answer came from model 'large'" in out


class _Silent:
    """A client that answers but cannot say which model did (like a binary Lambda reply)."""

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"label": np.array([0])}

    def describe(self) -> str:
        return "a client without model names"

    def close(self) -> None:
        pass


def test_a_client_that_cannot_tell_the_model_fails_the_case(tmp_path: Path) -> None:
    path = bundle(tmp_path, "small", manifest("small") + cases(("own", 3.0, "small")))
    bundle_ = prepare_local(load_manifest(path))
    report = run_smoke_tests(bundle_.cases, _Silent())
    assert not report.passed
    assert report.results[0].problems == [
        "expect_model 'small': a client without model names does not say which model answered"
    ]


def test_lint_ms915_points_at_an_expect_model_outside_the_graph(tmp_path: Path) -> None:
    bundle(tmp_path, "xl", manifest("xl"))
    deeper = "routing:\n  tiers:\n    xl: {to: ../xl/modelstack.yaml#local}\n"
    bundle(tmp_path, "large", manifest("large", deeper))
    rows = (("a", 1.0, "small"), ("b", 1.0, "large"), ("c", 1.0, "xl"), ("d", 1.0, "huge"))
    entry = bundle(tmp_path, "small", manifest("small", routed()) + cases(*rows))
    found = [d for d in lint_file(entry, LintOptions()) if d.rule_id == "MS915"]
    assert [(d.line, d.column) for d in found] == [(26, 19)]  # the value of case d's expect_model
    assert found[0].severity == "error"
    assert "expects model 'huge'" in found[0].message
    assert "(the models that can: small, xl, large)" in found[0].message


def test_lint_ms915_without_routing_allows_only_the_own_name(tmp_path: Path) -> None:
    rows = (("own", 1.0, "small"), ("other", 1.0, "large"))
    path = bundle(tmp_path, "small", manifest("small") + cases(*rows))
    assert [(r, line) for r, line, _ in ours(lint_file(path, LintOptions()))] == [("MS915", 15)]


NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: s[0] != "-" and s not in ("null", "yes", "no", "on", "off", "true", "false")
)


@settings(max_examples=25, deadline=None)
@given(NAMES)
def test_ms915_fires_exactly_when_the_name_is_not_a_graph_model(name: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bundle(root, "large", manifest("large"))
        entry = bundle(root, "small", manifest("small", routed()) + cases(("c", 1.0, name)))
        found = [d for d in lint_file(entry, LintOptions()) if d.rule_id == "MS915"]
        assert bool(found) == (name not in ("small", "large"))
