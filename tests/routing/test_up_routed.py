"""`up` of a routed manifest that cannot be wired is refused before anything is deployed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_deploy_graph import CLOUD
from test_lint_routing import bundle, manifest, routed

from modelstack.cli import main


def test_up_of_a_cloud_entry_routed_to_a_local_tier_is_a_usage_error_that_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle(tmp_path, "large", manifest("large"))
    text = manifest("small", routed()).replace("targets:\n  local: {provider: local}\n", CLOUD)
    entry = bundle(tmp_path, "small", text)
    assert main(["up", str(entry), "--target", "prod", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "is a local target, which the entry's aws-lambda target cannot call" in err
    assert f"{entry}:12:" in err  # the tier's `to:` line
    for folder in ("small", "large"):  # neither the entry nor its tier was built or recorded
        assert not (tmp_path / folder / ".modelstack").exists()


def test_up_of_a_routed_manifest_with_a_cycle_deploys_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle(tmp_path, "large", manifest("large", routed("../small/modelstack.yaml#local")))
    entry = bundle(tmp_path, "small", manifest("small", routed()))
    assert main(["up", str(entry), "--target", "local", "--yes"]) == 1
    assert "routing tiers form a cycle (small -> large -> small)" in capsys.readouterr().err
    assert not (tmp_path / "large" / ".modelstack").exists()
