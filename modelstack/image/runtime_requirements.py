"""The SDKs an image's runtime imports for what its manifest asks, beyond the flavour's set.

* `events:` on a Lambda image whose base lacks boto3: the AWS SDK (``events/image.py``);
* `routing:` with an aws-lambda tier of an aws-lambda entry, on a base without boto3: the same
  AWS SDK, for ``lambda.invoke`` of the tier's alias;
* `routing:` with a Cloud Run tier (from a Cloud Run entry, or federated from a Lambda entry):
  google-auth (and requests, which its metadata-server path imports).

Each set is a pinned file in ``templates/``. The sets are joined in order, each package once;
a package the manifest's `build.python_packages` names already is left to the manifest's pin.
"""

from __future__ import annotations

import re
from typing import Final

from modelstack.image.flavours import Flavour, is_aws_lambda_base
from modelstack.manifest.model import Manifest
from modelstack.resources import data_path

__all__ = [
    "AWS_SDK_REQUIREMENTS",
    "GOOGLE_AUTH_REQUIREMENTS",
    "requirement_lines",
    "routing_packages",
    "runtime_packages",
]

AWS_SDK_REQUIREMENTS: Final = "requirements-events-aws.txt"
"""The pinned AWS SDK (boto3 and what it needs), for event adapters and aws-lambda tiers."""
GOOGLE_AUTH_REQUIREMENTS: Final = "requirements-routing-google.txt"
"""The pinned google-auth (with requests), for Cloud Run tiers' ID tokens."""
_PROJECT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def requirement_lines(template: str) -> tuple[str, ...]:
    """The requirements in a shipped `templates/` file (no comments, no blank lines)."""
    text = data_path("templates", template).read_text(encoding="utf-8")
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#")


def routing_packages(
    manifest: Manifest, target_name: str, flavour: Flavour, base_image: str
) -> tuple[str, ...]:
    """The pinned SDKs the router of `manifest`'s target needs for its tiers on `base_image`."""
    if manifest.source.data.get("routing") is None:
        return ()
    from modelstack.providers.routing_kinds import AWS_SDK, GOOGLE_AUTH, routing_sdks

    sdks = routing_sdks(manifest, target_name)
    packages: list[str] = []
    if AWS_SDK in sdks and not is_aws_lambda_base(base_image):
        packages += requirement_lines(AWS_SDK_REQUIREMENTS)
    if GOOGLE_AUTH in sdks:
        packages += requirement_lines(GOOGLE_AUTH_REQUIREMENTS)
    return tuple(packages)


def _project(requirement: str) -> str:
    match = _PROJECT.match(requirement.strip())
    return "" if match is None else re.sub(r"[-_.]+", "-", match.group(0)).lower()


def runtime_packages(
    manifest: Manifest, target_name: str, flavour: Flavour, base_image: str
) -> tuple[str, ...]:
    """Every SDK the image adds for its events and routing, each once, in order."""
    from modelstack.events.image import event_packages

    named = {_project(p) for p in manifest.build.python_packages}
    added: dict[str, str] = {}
    for requirement in (
        *event_packages(manifest, flavour, base_image),
        *routing_packages(manifest, target_name, flavour, base_image),
    ):
        project = _project(requirement)
        if project not in named and project not in added:
            added[project] = requirement
    return tuple(added.values())
