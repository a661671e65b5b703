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
from modelstack.version import package_version

__version__ = package_version()

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
