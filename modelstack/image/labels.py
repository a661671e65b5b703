"""OCI labels of an image: what it serves, from which manifest and which source revision.

The content labels (`image_labels`) are rendered into the Dockerfile and depend only on what
goes into the image, so an unchanged bundle keeps its content-addressed tag: no creation
timestamp, and the manifest digest covers the sections that shape the image (metadata, model,
runtime, build), not targets or rollout.

The source revision (`provenance_labels`) changes with every commit that touches the bundle's
folder, including one that only edits `targets:`, without changing what the image does. It is
passed to the engine beside the build context and stays out of the content tag: an image
records the revision of the commit that first built its content.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Final

from modelstack.manifest.model import Manifest

__all__ = [
    "LABEL_PREFIX",
    "REVISION_LABEL",
    "image_labels",
    "image_manifest_digest",
    "provenance_labels",
    "source_revision",
]

LABEL_PREFIX: Final = "dev.modelstack"
UNKNOWN_REVISION: Final = "unknown"
REVISION_LABEL: Final = "org.opencontainers.image.revision"


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
) -> dict[str, str]:
    """`org.opencontainers.image.*` and `dev.modelstack.*` labels for one target's image.

    Only what shapes the image: these go into the Dockerfile and so into the content tag.
    """
    meta = manifest.metadata
    labels = {
        "org.opencontainers.image.title": meta.name,
        "org.opencontainers.image.version": meta.version,
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


def provenance_labels(directory: Path) -> dict[str, str]:
    """Labels that say where an image came from without changing it: kept out of its tag."""
    return {REVISION_LABEL: source_revision(directory)}
