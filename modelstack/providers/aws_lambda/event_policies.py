"""The IAM documents of a Lambda target's event sources, as plain data (least privilege).

* a queue source: receive, delete and read the attributes of exactly its queue;
* a bucket source: get objects under exactly `arn:aws:s3:::bucket/prefix*`;
* a schedule: list exactly the rescored prefix (`s3:prefix` condition) and get under it;
* an output: put objects under exactly `arn:aws:s3:::bucket/prefix*`, or look up and send
  to exactly the results queue;
* the schedule's own role: invoke exactly the function's `live` alias.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelstack.events.spec import EventSource

__all__ = ["events_policy", "scheduler_assume_policy", "scheduler_policy"]


def _objects(bucket: str, prefix: str) -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def events_policy(
    sources: tuple[EventSource, ...],
    queue_arns: Mapping[str, str],
    output_queue_arns: Mapping[str, str],
) -> str:
    """The execution role's events statements, as JSON; ARNs by source and queue name."""
    statements: list[dict[str, Any]] = []
    for source in sources:
        sid = "".join(part.capitalize() for part in source.name.split("-"))
        if source.queue is not None:
            statements.append(_allow(f"Consume{sid}", [
                "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            ], [queue_arns[source.name]]))  # fmt: skip
        if source.bucket is not None:
            read = _objects(source.bucket.bucket, source.bucket.prefix)
            statements.append(_allow(f"Read{sid}", ["s3:GetObject"], [read]))
        if source.schedule is not None:
            rescore = source.schedule
            statements.append(
                {
                    **_allow(
                        f"List{sid}", ["s3:ListBucket"], [f"arn:aws:s3:::{rescore.rescore_bucket}"]
                    ),
                    "Condition": {"StringLike": {"s3:prefix": [f"{rescore.rescore_prefix}*"]}},
                }
            )
            read = _objects(rescore.rescore_bucket, rescore.rescore_prefix)
            statements.append(_allow(f"Read{sid}", ["s3:GetObject"], [read]))
        output = source.output
        if output.queue is not None:
            statements.append(
                _allow(
                    f"Send{sid}",
                    ["sqs:GetQueueUrl", "sqs:SendMessage"],
                    [output_queue_arns[output.queue]],
                )
            )
        elif output.bucket is not None:
            write = _objects(output.bucket, output.prefix)
            statements.append(_allow(f"Write{sid}", ["s3:PutObject"], [write]))
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def scheduler_assume_policy(account_id: str) -> str:
    """EventBridge Scheduler may assume the role, for schedules of this account only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "scheduler.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        },
        sort_keys=True,
    )


def scheduler_policy(alias_arn: str) -> str:
    """The schedule's role: invoke exactly the `live` alias."""
    statement = _allow("InvokeLiveAlias", ["lambda:InvokeFunction"], [alias_arn])
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
