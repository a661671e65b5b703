"""What gets deployed: one image, pinned by digest, of one model version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
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
    evaluation: dict[str, Any] | None = field(default=None, compare=False)
    """The evaluation result `up` measured before building it (`ModelScores.to_dict()`), the
    baseline of the next version's `max_drop` gates; None when the manifest had no
    `evaluation:` or the release predates it."""

    @property
    def digest(self) -> str:
        return self.image.rpartition("@")[2]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        if not isinstance(data, dict):
            raise TypeError(f"a release must be a JSON object, found {type(data).__name__}")
        names = [k for k in cls.__dataclass_fields__ if k != "evaluation"]
        return cls(
            **{k: str(data.get(k, "")) for k in names},
            evaluation=_evaluation(data.get("evaluation")),
        )


def _evaluation(value: Any) -> dict[str, Any] | None:
    """A recorded evaluation as stored, checked just enough to be used as a baseline."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("metrics"), Mapping):
        raise TypeError("a release's evaluation must be an object with a 'metrics' object")
    for name, number in value["metrics"].items():
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise TypeError(f"the recorded metric {name!r} is not a number")
    return dict(value)
