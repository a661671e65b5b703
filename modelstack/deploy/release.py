"""What gets deployed: one image, pinned by digest, of one model version."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Release"]


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
    """The local image id it was built as (how `up` knows that nothing changed)."""

    @property
    def digest(self) -> str:
        return self.image.rpartition("@")[2]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})
