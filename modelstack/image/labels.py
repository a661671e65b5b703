"""OCI labels of an image: what it serves, from which manifest and which source revision.

No creation timestamp: a label that changes on every build would change the content-addressed
tag and defeat "an unchanged bundle is not rebuilt".
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final

from modelstack.manifest.model import Manifest
from modelstack.modelfile import sha256_file

__all__ = ["LABEL_PREFIX", "image_labels", "source_revision"]

LABEL_PREFIX: Final = "dev.modelstack"
UNKNOWN_REVISION: Final = "unknown"


def source_revision(directory: Path) -> str:
    """The git commit the manifest's folder is checked out at, or "unknown" outside git."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
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
        f"{LABEL_PREFIX}.manifest.sha256": sha256_file(manifest.path.resolve()),
        f"{LABEL_PREFIX}.target": target_name,
        f"{LABEL_PREFIX}.flavour": flavour,
    }
    if meta.description:
        labels["org.opencontainers.image.description"] = meta.description
    if meta.owner:
        labels["org.opencontainers.image.authors"] = meta.owner
    return labels
