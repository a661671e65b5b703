"""What an image needs for its event sources: the AWS SDK on a Lambda image whose base lacks it.

AWS's Lambda Python base image ships boto3; any other base (a slim Python, the local base image)
gets the pinned set in `templates/requirements-events-aws.txt`. HTTP-flavour images need
nothing: their Pub/Sub and Cloud Storage clients use the standard library.
"""

from __future__ import annotations

from modelstack.image.flavours import Flavour, is_aws_lambda_base
from modelstack.image.runtime_requirements import AWS_SDK_REQUIREMENTS, requirement_lines
from modelstack.manifest.model import Manifest

__all__ = ["AWS_SDK_REQUIREMENTS", "event_packages"]


def event_packages(manifest: Manifest, flavour: Flavour, base_image: str) -> tuple[str, ...]:
    """The pip requirements the manifest's `events:` add to `flavour` on `base_image`."""
    if not manifest.source.data.get("events"):
        return ()
    if flavour.protocol != "lambda" or is_aws_lambda_base(base_image):
        return ()
    return requirement_lines(AWS_SDK_REQUIREMENTS)
