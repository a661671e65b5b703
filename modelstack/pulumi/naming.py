"""Physical names, tags and labels of the cloud resources, derived from the manifest.

Names are deterministic (the same manifest and target always give the same names), fit each
service's length and character rules, and are shortened with a short hash when they would not fit,
so two long names never collide after truncation.
"""

from __future__ import annotations

import hashlib
import re

from modelstack.manifest.model import Manifest

__all__ = [
    "LAMBDA_ALIAS",
    "aws_tags",
    "base_name",
    "fit",
    "gcp_labels",
    "revision_name",
    "service_account_id",
]

LAMBDA_ALIAS = "live"
"""The Lambda alias that takes traffic; the function URL and alarms point at it."""


def fit(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters, else a prefix plus 6 hex digits of its hash."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


def base_name(manifest: Manifest, target_name: str, override: str | None = None) -> str:
    """`<model>-<target>` in lower-case letters, digits and dashes, e.g. `iris-prod`."""
    raw = override or f"{manifest.name}-{target_name}"
    clean = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    if not clean or not clean[0].isalpha():
        clean = f"m-{clean}"
    return clean


def service_account_id(base: str) -> str:
    """A GCP service account id: 6-30 characters, starts with a letter."""
    return fit(f"{base}-run", 30).rstrip("-")


def revision_name(service: str, digest_hex: str, settings: str) -> str:
    """A Cloud Run revision name: `<service>-<digest prefix>-<settings hash>`.

    Cloud Run requires the service name as prefix and refuses to reuse a revision name, so the
    name changes with the image digest and with the revision's settings (memory, CPU, ...).
    """
    settings_hash = hashlib.sha256(settings.encode()).hexdigest()[:5]
    room = 63 - len(service) - len(settings_hash) - 2
    return f"{service}-{digest_hex[: max(room, 4)][:10]}-{settings_hash}"


def aws_tags(manifest: Manifest, target_name: str) -> dict[str, str]:
    """The manifest's labels plus the model, version and target, as AWS tags."""
    return {
        **manifest.metadata.labels,
        "modelstack:model": manifest.name,
        "modelstack:version": manifest.metadata.version,
        "modelstack:target": target_name,
    }


def _label_value(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


def gcp_labels(manifest: Manifest, target_name: str) -> dict[str, str]:
    """The manifest's labels plus the model, version and target, within GCP's label alphabet."""
    return {
        **manifest.metadata.labels,
        "modelstack-model": _label_value(manifest.name),
        "modelstack-version": _label_value(manifest.metadata.version),
        "modelstack-target": _label_value(target_name),
    }
