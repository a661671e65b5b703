"""The name modelstack is installed under, and the version read from its package metadata.

`modelstack` on PyPI is an unrelated project with a package of the same name, so this one is
distributed as `modelstack-serverless`; pyproject.toml holds the only version literal.
"""

from __future__ import annotations

from importlib import metadata
from typing import Final

DISTRIBUTION: Final = "modelstack-serverless"
UNINSTALLED_VERSION: Final = "0.0.0+unknown"
"""The version of a source tree put on sys.path without being installed."""


def installed_version() -> str:
    """The installed distribution's version, or UNINSTALLED_VERSION."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNINSTALLED_VERSION


def install_line(extra: str) -> str:
    """The pip command that installs this distribution with `extra`."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"
