"""The Pulumi CLI check before a cloud deploy: present and recent enough, tested with a fake
`pulumi` executable on PATH that prints a version, as the real one does."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.deploy.pulumi_cli import MIN_PULUMI_CLI, pulumi_cli_version, require_pulumi_cli
from modelstack.errors import InfrastructureError

MINIMUM = ".".join(map(str, MIN_PULUMI_CLI))


def fake_pulumi(folder: Path, output: str, status: int = 0) -> Path:
    """A `pulumi` script that answers `pulumi version` with `output`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pulumi"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize("printed", ["v3.272.0", f"v{MINIMUM}", "v4.0.1", "3.300.2-dev.0"])
def test_a_recent_cli_passes(tmp_path: Path, monkeypatch, printed: str) -> None:
    fake_pulumi(tmp_path / "bin", printed)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    require_pulumi_cli()


@pytest.mark.parametrize("printed", ["v3.100.0", "v3.252.9", "v2.25.2"])
def test_an_old_cli_is_refused_naming_the_minimum(tmp_path: Path, monkeypatch, printed) -> None:
    fake_pulumi(tmp_path / "bin", printed)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(InfrastructureError) as caught:
        require_pulumi_cli()
    message = str(caught.value)
    assert f"is {printed}" in message and f"v{MINIMUM} or later" in message
    assert "pulumi self-update" in message


def test_no_cli_says_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InfrastructureError, match=f"Pulumi CLI is needed \\(v{MINIMUM}"):
        require_pulumi_cli()


@pytest.mark.parametrize(("printed", "status"), [("not a version", 0), ("v3.272.0", 1)])
def test_a_cli_that_prints_no_version_is_an_error(
    tmp_path: Path, printed: str, status: int
) -> None:
    script = fake_pulumi(tmp_path, printed, status)
    with pytest.raises(InfrastructureError, match="did not print a version"):
        pulumi_cli_version(str(script))


@settings(max_examples=25)
@given(st.tuples(*(st.integers(0, 999) for _ in range(3))), st.sampled_from(["v", ""]))
def test_the_printed_version_is_read_back(
    tmp_path_factory: pytest.TempPathFactory, version: tuple[int, int, int], prefix: str
) -> None:
    script = fake_pulumi(tmp_path_factory.mktemp("cli"), prefix + ".".join(map(str, version)))
    assert pulumi_cli_version(str(script)) == version
