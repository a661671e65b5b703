"""Content-addressed image tags: the same build inputs always give the same tag.

The digest covers every file of the build context (path and bytes: the rendered Dockerfile,
the model, the runtime code, the requirements, the runtime config, the CA bundle) and the build
settings passed beside the context (platform). Entries are length-prefixed, so no two
different sets of inputs can produce the same byte stream.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["TAG_HEX_DIGITS", "content_digest", "content_tag", "repository_name"]

TAG_HEX_DIGITS: Final = 16
_CHUNK: Final = 1 << 20


def content_digest(files: Mapping[str, bytes | Path], settings: Mapping[str, str]) -> str:
    """The hex sha256 over `files` (relative path -> bytes or a file) and `settings`."""
    digest = hashlib.sha256(b"modelstack-image-v1\0")
    for key, value in sorted(settings.items()):
        _field(digest, b"setting", key.encode(), value.encode())
    for relative, content in sorted(files.items()):
        digest.update(b"file\0")
        _bytes(digest, relative.encode())
        if isinstance(content, Path):
            digest.update(content.stat().st_size.to_bytes(8, "big"))
            with content.open("rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(chunk)
        else:
            _bytes(digest, content)
    return digest.hexdigest()


def repository_name(model_name: str) -> str:
    """The local repository of a model's images, e.g. `modelstack/iris`."""
    clean = re.sub(r"[^a-z0-9._-]+", "-", model_name.lower()).strip("-._") or "model"
    return f"modelstack/{clean}"


def content_tag(
    model_name: str, files: Mapping[str, bytes | Path], settings: Mapping[str, str]
) -> str:
    """`modelstack/<name>:<first 16 hex digits of the content digest>`."""
    digest = content_digest(files, settings)
    return f"{repository_name(model_name)}:{digest[:TAG_HEX_DIGITS]}"


def _field(digest: hashlib._Hash, kind: bytes, *parts: bytes) -> None:
    digest.update(kind + b"\0")
    for part in parts:
        _bytes(digest, part)


def _bytes(digest: hashlib._Hash, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)
