"""The event sources of an aws-lambda target (pulumi_aws): queues, buckets and schedules.

Per queue source: a dead-letter queue, the queue with its redrive policy (maxReceiveCount)
and a visibility timeout of at least 6x the function timeout, and an event source mapping on
the `live` alias with ReportBatchItemFailures. Per bucket: one BucketNotification for all the
sources on it (S3 keeps one notification configuration per bucket) and a Permission for S3 to
invoke the alias, scoped to the bucket's ARN and the account. Per schedule: an EventBridge
Scheduler schedule with its own role. The execution role gets one inline policy with exactly
the queues, prefixes and outputs the sources name (`event_policies`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from modelstack.events.cron import aws_schedule_expression
from modelstack.events.names import dlq_name, queue_name
from modelstack.events.spec import EventSource, parse_events, visibility_timeout
from modelstack.providers.aws_lambda.event_policies import (
    events_policy,
    scheduler_assume_policy,
    scheduler_policy,
)
from modelstack.providers.aws_lambda.target import AwsLambdaTarget
from modelstack.pulumi.naming import fit
from modelstack.pulumi.spec import ServiceSpec

__all__ = ["EVENTS_ENV", "build_events", "events_environment", "events_of"]

EVENTS_ENV = "MODELSTACK_EVENTS"
DLQ_RETENTION_S = 14 * 24 * 3600


def events_of(spec: ServiceSpec) -> tuple[EventSource, ...]:
    """The manifest's event sources (lint and the schema checked them)."""
    return parse_events(spec.manifest.source.data.get("events"))


def events_environment(
    spec: ServiceSpec, variables: Mapping[str, str]
) -> aws.lambda_.FunctionEnvironmentArgs | None:
    """The function's environment: the target's variables plus the runtime's events config."""
    sources = events_of(spec)
    if not sources:
        return aws.lambda_.FunctionEnvironmentArgs(variables=dict(variables)) if variables else None
    config = {"sources": [_runtime_source(spec, s) for s in sources]}
    return aws.lambda_.FunctionEnvironmentArgs(
        variables={**variables, EVENTS_ENV: json.dumps(config, sort_keys=True)}
    )


def _runtime_source(spec: ServiceSpec, source: EventSource) -> dict[str, Any]:
    output = source.output
    out: dict[str, Any] = (
        {"queue": output.queue}
        if output.queue is not None
        else {"bucket": output.bucket, "prefix": output.prefix}
    )
    entry: dict[str, Any] = {"name": source.name, "kind": source.kind, "output": out}
    if source.queue is not None:
        entry["queue"] = queue_name(spec.base, source)
    if source.bucket is not None:
        entry.update(
            bucket=source.bucket.bucket,
            prefix=source.bucket.prefix,
            rows_per_batch=source.bucket.rows_per_batch,
            max_object_bytes=source.bucket.max_object_bytes,
        )
    if source.schedule is not None:
        entry.update(bucket=source.schedule.rescore_bucket, prefix=source.schedule.rescore_prefix)
    return entry


def build_events(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    *,
    alias: aws.lambda_.Alias,
    role: aws.iam.Role,
) -> None:
    """Register the sources' resources as children of `parent`."""
    sources = events_of(spec)
    if not sources:
        return
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    account = alias.arn.apply(lambda arn: arn.split(":")[4])
    queue_arns: dict[str, pulumi.Output[str]] = {}
    for source in sources:
        if source.queue is not None:
            queue_arns[source.name] = _queue(parent, name, spec, source, alias).arn
    outputs = _output_queues(parent, name, spec, sources)
    notified = _buckets(parent, name, spec, sources, alias, account)
    for source in sources:
        if source.schedule is not None:
            _schedule(parent, name, spec, source, alias, account)
    aws.iam.RolePolicy(
        f"{name}-events-policy",
        name="modelstack-events",
        role=role.id,
        policy=pulumi.Output.all(dict(queue_arns), {k: q.arn for k, q in outputs.items()}).apply(
            lambda arns: events_policy(sources, arns[0], arns[1])
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=notified),
    )


def _queue(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    source: EventSource,
    alias: aws.lambda_.Alias,
) -> aws.sqs.Queue:
    target = spec.target
    assert isinstance(target, AwsLambdaTarget) and source.queue is not None
    q = source.queue
    child = pulumi.ResourceOptions(parent=parent)
    dlq = aws.sqs.Queue(
        f"{name}-{source.name}-dlq",
        name=dlq_name(spec.base, source),
        fifo_queue=q.fifo or None,
        message_retention_seconds=DLQ_RETENTION_S,
        region=target.region,
        opts=child,
    )
    queue = aws.sqs.Queue(
        f"{name}-{source.name}-queue",
        name=queue_name(spec.base, source),
        fifo_queue=q.fifo or None,
        visibility_timeout_seconds=visibility_timeout(q, target.timeout_s),
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": q.max_receive_count}
            )
        ),
        region=target.region,
        opts=child,
    )
    aws.lambda_.EventSourceMapping(
        f"{name}-{source.name}-mapping",
        event_source_arn=queue.arn,
        function_name=alias.arn,
        batch_size=q.batch_size,
        maximum_batching_window_in_seconds=q.max_batching_window_s or None,
        scaling_config={"maximum_concurrency": q.max_concurrency},
        function_response_types=["ReportBatchItemFailures"],
        region=target.region,
        opts=child,
    )
    return queue


def _output_queues(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, sources: tuple[EventSource, ...]
) -> dict[str, aws.sqs.Queue]:
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    queues: dict[str, aws.sqs.Queue] = {}
    for source in sources:
        out = source.output.queue
        if out is not None and out not in queues:
            queues[out] = aws.sqs.Queue(
                f"{name}-results-{out.replace('.', '-')}",
                name=out,
                fifo_queue=out.endswith(".fifo") or None,
                region=target.region,
                opts=pulumi.ResourceOptions(parent=parent),
            )
    return queues


def _buckets(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    sources: tuple[EventSource, ...],
    alias: aws.lambda_.Alias,
    account: pulumi.Output[str],
) -> list[pulumi.Resource]:
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    child = pulumi.ResourceOptions(parent=parent)
    by_bucket: dict[str, list[EventSource]] = {}
    for source in sources:
        if source.bucket is not None:
            by_bucket.setdefault(source.bucket.bucket, []).append(source)
    made: list[pulumi.Resource] = []
    for bucket, group in by_bucket.items():
        if any(s.bucket is not None and s.bucket.create for s in group):
            made.append(
                aws.s3.Bucket(
                    f"{name}-bucket-{bucket}", bucket=bucket, region=target.region, opts=child
                )
            )
        permission = aws.lambda_.Permission(
            f"{name}-bucket-{bucket}-invoke",
            action="lambda:InvokeFunction",
            function=alias.function_name,
            qualifier=alias.name,
            principal="s3.amazonaws.com",
            source_arn=f"arn:aws:s3:::{bucket}",
            source_account=account,
            region=target.region,
            opts=child,
        )
        made.append(
            aws.s3.BucketNotification(
                f"{name}-bucket-{bucket}-notification",
                bucket=bucket,
                lambda_functions=[
                    {
                        "lambda_function_arn": alias.arn,
                        "events": ["s3:ObjectCreated:*"],
                        "filter_prefix": s.bucket.prefix or None,
                        "filter_suffix": s.bucket.suffix,
                    }
                    for s in group
                    if s.bucket is not None
                ],
                region=target.region,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[permission, *made]),
            )
        )
    return made


def _schedule(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    source: EventSource,
    alias: aws.lambda_.Alias,
    account: pulumi.Output[str],
) -> None:
    target = spec.target
    assert isinstance(target, AwsLambdaTarget) and source.schedule is not None
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-{source.name}-scheduler-role",
        name=fit(f"{spec.base}-{source.name}-scheduler", 64),
        assume_role_policy=account.apply(scheduler_assume_policy),
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-{source.name}-scheduler-policy",
        name="modelstack-schedule",
        role=role.id,
        policy=alias.arn.apply(scheduler_policy),
        opts=child,
    )
    rescore = {"modelstack_rescore": {"source": source.name}}
    aws.scheduler.Schedule(
        f"{name}-{source.name}-schedule",
        name=fit(f"{spec.base}-{source.name}", 64),
        schedule_expression=aws_schedule_expression(source.schedule.cron),
        schedule_expression_timezone="UTC",
        flexible_time_window={"mode": "OFF"},
        target={"arn": alias.arn, "role_arn": role.arn, "input": json.dumps(rescore)},
        region=target.region,
        opts=child,
    )
