"""The local provider (light at import: docker loads inside its methods)."""

from __future__ import annotations

from modelstack.providers.local.provider import LocalProvider

__all__ = ["LocalProvider"]
