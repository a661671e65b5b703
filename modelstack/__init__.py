"""modelstack: model-as-code for serverless inference.

The public API is small on purpose: load a manifest, lint it, and the errors it may raise.
The Pulumi component lives in `modelstack.pulumi`, imported only where it is needed.
"""

from __future__ import annotations

from modelstack._distribution import installed_version as _installed_version
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

__version__ = _installed_version()  # from the package metadata of modelstack-serverless

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
