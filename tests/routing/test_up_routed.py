"""`up` refuses a routed manifest instead of deploying it without its routing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lint_routing import bundle, manifest, routed

from modelstack.cli import main


def test_up_of_a_routed_manifest_is_a_usage_error_that_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle(tmp_path, "large", manifest("large"))
    entry = bundle(tmp_path, "small", manifest("small", routed()))
    assert main(["up", str(entry), "--target", "local", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "cannot deploy a service with a routing: section yet" in err
    assert "remove the section" in err
    assert f"{entry}:9:1: " in err  # the routing: key, first line of the section
    assert not (entry.parent / ".modelstack").exists()  # nothing was built or recorded
