"""Pulumi mocks for every test here, installed per test (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from offline_deploy import Deploy, Deployment, deploy_offline

from modelstack.pulumi.offline import RecordingMonitor, install_mocks


@pytest.fixture(autouse=True)
def monitor() -> Iterator[RecordingMonitor]:
    """Fresh recording mocks for each test."""
    yield install_mocks(project="modelstack-tests", stack="test")


@pytest.fixture
def deploy(monitor: RecordingMonitor) -> Deploy:
    """Deploy a ModelService under the mocks: `deploy(manifest=..., image=..., ...)`."""

    def run(**fields: Any) -> Deployment:
        return deploy_offline(monitor, **fields)

    return run
