"""modelstack: model-as-code for serverless inference.

The public API is small on purpose: load a manifest, lint it, and the errors it may raise.
The Pulumi component lives in `modelstack.pulumi`, imported only where it is needed.
"""

from __future__ import annotations

from modelstack.errors import (
    InfrastructureError,
    ManifestError,
    ManifestParseError,
    ModelError,
    ModelstackError,
    SmokeTestError,
    UsageError,
)
from modelstack.manifest import Manifest, load_manifest

__all__ = [
    "InfrastructureError",
    "Manifest",
    "ManifestError",
    "ManifestParseError",
    "ModelError",
    "ModelstackError",
    "SmokeTestError",
    "UsageError",
    "__version__",
    "load_manifest",
]


def __getattr__(name: str) -> str:
    """`__version__`, read from the package metadata only when asked for: importlib.metadata
    costs a pre-commit hook run ~20 ms, and lint never needs the version."""
    if name == "__version__":
        from modelstack._distribution import installed_version

        return installed_version()
    raise AttributeError(f"module 'modelstack' has no attribute {name!r}")
