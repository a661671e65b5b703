"""The IAM and ECR policy documents of a Lambda target, as plain data.

Least privilege: the execution role may write to its own log group only, decrypt with the
target's KMS key only when one is set, and send X-Ray traces only when tracing is on. It gets no
managed policy (AWSLambdaBasicExecutionRole allows logs on `*`).

One exception to "no `*` resource": X-Ray's PutTraceSegments and PutTelemetryRecords do not
support resource-level permissions, so AWS requires `"Resource": "*"` for them
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).
The log stream resource `<own log group ARN>:*` names the streams inside that one group.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ASSUME_ROLE_POLICY",
    "ECR_KEEP_IMAGES",
    "ECR_LIFECYCLE_POLICY",
    "WILDCARD_EXCEPTIONS",
    "execution_policy",
]

ASSUME_ROLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

ECR_KEEP_IMAGES = 30
"""Images kept in the repository: enough for the stable version, the candidate and many
rollbacks. Nothing else expires, so an image a Lambda version still runs is never deleted
by age."""

ECR_LIFECYCLE_POLICY: dict[str, Any] = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"keep the {ECR_KEEP_IMAGES} most recent images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": ECR_KEEP_IMAGES,
            },
            "action": {"type": "expire"},
        }
    ]
}

WILDCARD_EXCEPTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
"""Actions that AWS only grants on `"Resource": "*"`."""


def execution_policy(log_group_arn: str, kms_key_arn: str | None, tracing: bool) -> str:
    """The execution role's inline policy, as JSON."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group_arn}:*"],
        }
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "DecryptWithTargetKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn],
            }
        )
    if tracing:
        statements.append(
            {
                "Sid": "WriteTraces",
                "Effect": "Allow",
                "Action": sorted(WILDCARD_EXCEPTIONS),
                "Resource": ["*"],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
