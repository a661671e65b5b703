"""The aws-lambda provider (light at import: boto3 and pulumi_aws load inside its methods)."""

from __future__ import annotations

from modelstack.providers.aws_lambda.provider import AwsLambdaProvider

__all__ = ["AwsLambdaProvider"]
