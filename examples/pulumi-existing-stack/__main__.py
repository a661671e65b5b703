"""An existing stack (an S3 bucket, an explicit AWS provider) that also serves the iris model.

    pulumi config set image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-prod@sha256:...
    pulumi up                            # first deployment: the new version takes all traffic
    pulumi config set stableVersion 1    # later: version 1 keeps serving...
    pulumi config set candidatePercent 10  # ...while 10 % goes to the new image
    pulumi up

Before the `live` alias moves, the component's smoke gate runs the manifest's smoke tests
against the new Lambda version and stops the update if one fails.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from modelstack.pulumi import ModelService, ModelServiceArgs

MANIFEST = Path(__file__).resolve().parent.parent / "iris" / "modelstack.yaml"

config = pulumi.Config()

# The stack's own resources, with its own explicit provider.
provider = aws.Provider("eu-west-1", region="eu-west-1")
reports = aws.s3.Bucket(
    "inference-reports",
    force_destroy=False,
    tags={"team": "ml"},
    opts=pulumi.ResourceOptions(provider=provider),
)

iris = ModelService(
    "iris",
    ModelServiceArgs(
        manifest=MANIFEST,
        target="prod",
        image=config.require("image"),
        stable_version=config.get("stableVersion") or None,
        candidate_percent=config.get_int("candidatePercent") or 0,
    ),
    opts=pulumi.ResourceOptions(provider=provider, protect=False),
)

pulumi.export("reportsBucket", reports.bucket)
pulumi.export("endpoint", iris.endpoint)
pulumi.export("candidate", iris.candidate_address)
pulumi.export("imageDigest", iris.image_digest)
