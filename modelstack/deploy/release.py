"""What gets deployed: one image, pinned by digest, of one model version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from modelstack.manifest.model import Target

__all__ = ["Release", "settings_digest"]


def settings_digest(target: Target) -> str:
    """A digest of everything the target's manifest section says (memory, port, GPU, ...)."""
    text = json.dumps(asdict(target), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Release:
    """An image (by digest) of one manifest, with the version id the engine gave it."""

    version: str
    """The engine's id for this release: a Lambda version, a Cloud Run revision, a local number."""
    image: str
    """The image reference by digest: repo@sha256:..."""
    model_version: str
    model_sha256: str
    manifest_sha256: str
    image_id: str = ""
    """The local image id it was built as (with `settings_sha256`, how `up` knows that
    nothing changed)."""
    settings_sha256: str = ""
    """A digest of the target's settings when this release was deployed."""

    @property
    def digest(self) -> str:
        return self.image.rpartition("@")[2]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        if not isinstance(data, dict):
            raise TypeError(f"a release must be a JSON object, found {type(data).__name__}")
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})
