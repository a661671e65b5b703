"""Container image references, pinned by digest.

Deploying by tag is refused: Lambda resolves a tag once, when the function is updated, so pushing
a new image under the same tag (`:latest`) changes nothing in Pulumi's inputs and the function
keeps running the old image; Cloud Run likewise pins whatever the tag pointed to at deploy time.
A digest names exactly one image, so a new image is a new input and a new deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelstack.errors import UsageError

__all__ = ["PLACEHOLDER_DIGEST", "ImageRef", "parse_image", "placeholder_image"]

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
"""The digest `modelstack plan` uses when no image is given: it names no real image."""

_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9][a-z0-9._\-/:]*?[a-z0-9])"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}))?"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class ImageRef:
    """`repository@sha256:<64 hex>`; a tag written before the digest is kept for display only."""

    repository: str
    digest: str
    tag: str | None = None

    def __str__(self) -> str:
        """The reference deployed: repository and digest, never the tag."""
        return f"{self.repository}@{self.digest}"

    @property
    def hex(self) -> str:
        """The 64 hexadecimal digits of the digest."""
        return self.digest.split(":", 1)[1]


def parse_image(reference: str) -> ImageRef:
    """Parse an image reference; one without a sha256 digest is refused with the reason why."""
    match = _REFERENCE.match(reference.strip())
    if match is None:
        if "@sha256:" not in reference:
            raise UsageError(
                f"image {reference!r} has no digest. Deploy by digest "
                "(repository@sha256:<64 hex digits>, as `modelstack build` prints it): a mutable "
                "tag does not redeploy Lambda when it moves to a new image, and Cloud Run would "
                "pin whatever the tag pointed to at deploy time"
            )
        raise UsageError(
            f"image {reference!r} is not a valid reference; expected "
            "repository@sha256:<64 lowercase hex digits>"
        )
    return ImageRef(match["repository"], match["digest"], match["tag"])


def placeholder_image(repository: str) -> ImageRef:
    """A clearly fake image for offline plans (`<repository>@sha256:000...0`)."""
    return ImageRef(repository, PLACEHOLDER_DIGEST)
