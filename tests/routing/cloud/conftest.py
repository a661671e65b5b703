"""Fixtures for the cloud hops of routing: a real tier runtime behind the local Invoke API, and
Fake stand-ins for the Google endpoints that cannot be reached from here (metadata server, STS,
IAM Credentials), all on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Lambda function's AWS credentials and region, as its environment carries them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDROUTINGTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "routing-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "routing-session-token")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield
