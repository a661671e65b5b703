"""OCI labels of an image: what it serves, from which manifest and which source revision.

Every label depends only on what goes into the image, so an unchanged bundle keeps its
content-addressed tag: no creation timestamp; the manifest digest covers the sections that
shape the image (metadata, model, runtime, build), not targets or rollout; and the revision is
the last commit that changed the bundle's folder, not whatever commit is checked out.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Final

from modelstack.manifest.model import Manifest

__all__ = ["LABEL_PREFIX", "image_labels", "image_manifest_digest", "source_revision"]

LABEL_PREFIX: Final = "dev.modelstack"
UNKNOWN_REVISION: Final = "unknown"


def source_revision(directory: Path) -> str:
    """The last git commit that changed the manifest's folder, or "unknown" outside git."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "log", "-1", "--format=%H", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN_REVISION
    revision = result.stdout.strip()
    if result.returncode != 0 or not revision:
        return UNKNOWN_REVISION
    return revision


def image_manifest_digest(manifest: Manifest) -> str:
    """A digest of the manifest sections that shape the image (not targets or rollout)."""
    data = manifest.source.data
    relevant = {key: data.get(key) for key in ("metadata", "model", "runtime", "build")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def image_labels(
    manifest: Manifest,
    target_name: str,
    flavour: str,
    base_image: str,
    *,
    revision: str,
) -> dict[str, str]:
    """`org.opencontainers.image.*` and `dev.modelstack.*` labels for one target's image."""
    meta = manifest.metadata
    labels = {
        "org.opencontainers.image.title": meta.name,
        "org.opencontainers.image.version": meta.version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.base.name": base_image,
        f"{LABEL_PREFIX}.model.name": meta.name,
        f"{LABEL_PREFIX}.model.version": meta.version,
        f"{LABEL_PREFIX}.model.sha256": manifest.model.sha256,
        f"{LABEL_PREFIX}.manifest.sha256": image_manifest_digest(manifest),
        f"{LABEL_PREFIX}.target": target_name,
        f"{LABEL_PREFIX}.flavour": flavour,
    }
    if meta.description:
        labels["org.opencontainers.image.description"] = meta.description
    if meta.owner:
        labels["org.opencontainers.image.authors"] = meta.owner
    return labels
