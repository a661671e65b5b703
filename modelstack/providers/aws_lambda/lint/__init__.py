"""Lint rules: AWS Lambda targets."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import LintContext
from modelstack.providers.aws_lambda.target import AwsLambdaTarget

__all__ = ["lambda_targets"]


def lambda_targets(ctx: LintContext) -> Iterator[AwsLambdaTarget]:
    """The manifest's aws-lambda targets."""
    if ctx.manifest is not None:
        for target in ctx.manifest.targets.values():
            if isinstance(target, AwsLambdaTarget):
                yield target
