"""The public API of modelstack.pulumi, pinned; and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

from offline_deploy import ROOT

import modelstack.pulumi

PUBLIC = [
    "TYPE_TOKEN",
    "ImageRef",
    "ModelService",
    "ModelServiceArgs",
    "SmokeRunner",
    "default_runner",
    "parse_image",
    "smoke_gate",
]


def test_public_names_are_pinned() -> None:
    assert modelstack.pulumi.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(modelstack.pulumi, name) is not None
    assert modelstack.pulumi.TYPE_TOKEN == "modelstack:index:ModelService"


def test_cloud_sdks_load_only_when_a_target_needs_them() -> None:
    code = (
        "import sys, modelstack.pulumi as p; p.ModelService; "
        "print(sorted(m for m in ('pulumi_aws', 'pulumi_gcp') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
