"""The version of modelstack, from one source: the installed package's metadata (pyproject)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["UNKNOWN_VERSION", "package_version"]

UNKNOWN_VERSION = "0.0.0+unknown"
"""Reported when modelstack runs from a copy of its source that was never installed."""


def package_version(distribution: str = "modelstack") -> str:
    """The version `pip install` recorded for `distribution`, or UNKNOWN_VERSION."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION
