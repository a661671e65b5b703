"""The event sources of a gcp-cloud-run target: Pub/Sub push, Eventarc and Cloud Scheduler.

Each source reaches the service's runtime over HTTP with an OIDC token of a service account
made for that one purpose, which may invoke exactly this service and nothing else:

* ``queue``: a topic, its dead-letter topic, and a push subscription to
  ``<service URL>/_events/pubsub/<source>`` with ``ack_deadline_seconds``, a
  ``dead_letter_policy`` (``max_delivery_attempts`` = ``max_receive_count``) and a
  ``retry_policy``; the Pub/Sub service agent may publish to the dead-letter topic and
  subscribe to the subscription (what dead-lettering needs) and mint tokens as the invoker
  account (what authenticated push needs in older projects), nothing more.
* ``bucket``: an Eventarc trigger on ``google.cloud.storage.object.v1.finalized`` filtered to
  the bucket, delivering to ``/_events/eventarc/<source>``; its service account receives
  events and invokes the service.
* ``schedule``: a Cloud Scheduler job (UTC cron) that POSTs to ``/_events/schedule/<source>``.

The service's runtime account reads only the input objects (``roles/storage.objectViewer`` on
that bucket, conditioned on the prefix) and creates only output objects
(``roles/storage.objectCreator`` on the output bucket, conditioned on the output prefix); a
queue output may only publish to its topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_gcp as gcp

from modelstack.events import (
    BucketSpec,
    EventSource,
    OutputSpec,
    QueueSpec,
    ScheduleSpec,
    parse_events,
)
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
from modelstack.pulumi.naming import fit, gcp_labels
from modelstack.pulumi.spec import ServiceSpec
from modelstack_runtime.events.eventarc import FINALIZED

__all__ = [
    "EVENTARC_PATH",
    "PUBSUB_PATH",
    "SCHEDULE_PATH",
    "EventPlace",
    "build_events",
    "build_sources",
    "prefix_condition",
]

PUBSUB_PATH: Final = "/_events/pubsub/{source}"
EVENTARC_PATH: Final = "/_events/eventarc/{source}"
SCHEDULE_PATH: Final = "/_events/schedule/{source}"
MIN_BACKOFF: Final = "10s"
MAX_BACKOFF: Final = "600s"
"""Pub/Sub's default retry backoff range, stated so a plan shows it."""


@dataclass(frozen=True)
class EventPlace:
    """Where the sources are made: the service they deliver to and its runtime account."""

    base: str
    project: str | None
    region: str
    service_name: Any  # pulumi.Output[str]
    service_uri: Any  # pulumi.Output[str]
    runtime_account: Any  # the runtime service account's email, an Output or a string
    labels: dict[str, str]


def prefix_condition(
    bucket: str, prefix: str, *, title: str
) -> gcp.storage.BucketIAMMemberConditionArgsDict:
    """An IAM condition limiting an object role to the objects under ``prefix``."""
    objects = f"projects/_/buckets/{bucket}/objects/{prefix}"
    return {
        "title": title,
        "description": f"only gs://{bucket}/{prefix}*",
        "expression": f'resource.name.startsWith("{objects}")',
    }


def build_events(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    *,
    service: gcp.cloudrunv2.Service,
    runtime_account: Any,
) -> dict[str, Any]:
    """Register the manifest's event sources for ``service``; the names of what was made."""
    sources = parse_events(spec.manifest.source.data.get("events"))
    if not sources:
        return {}
    target = spec.target
    assert isinstance(target, CloudRunTarget)
    place = EventPlace(
        base=spec.base,
        project=target.project,
        region=target.region,
        service_name=service.name,
        service_uri=service.uri,
        runtime_account=runtime_account,
        labels=gcp_labels(spec.manifest, spec.target_name),
    )
    return build_sources(parent, name, sources, place)


def build_sources(
    parent: pulumi.Resource, name: str, sources: Sequence[EventSource], place: EventPlace
) -> dict[str, Any]:
    """Register ``sources`` as children of ``parent``; the names of what was made."""
    if not sources:
        return {}
    child = pulumi.ResourceOptions(parent=parent)
    made: dict[str, Any] = {}
    invoker = _account(name, place, "inv", "Pub/Sub and Scheduler invoker", child)
    _invoke_grant(name, "inv", invoker, place, child)
    made["invoker_account"] = invoker.email
    trigger_account: gcp.serviceaccount.Account | None = None
    agent: Any = None
    for source in sources:
        if source.kind == "queue":
            if agent is None:
                agent = _pubsub_agent(name, place, invoker, child)
            made[f"{source.name}_topic"] = _queue(name, source, place, invoker, agent, child)
        elif source.kind == "bucket":
            if trigger_account is None:
                trigger_account = _trigger_account(name, place, child)
                made["trigger_account"] = trigger_account.email
            _bucket(name, source, place, trigger_account, child)
            made[f"{source.name}_trigger"] = source.name
        elif source.kind == "schedule":
            _schedule(name, source, place, invoker, child)
            made[f"{source.name}_job"] = source.name
        _output_grant(name, source, place, child)
    return made


def _account(
    name: str, place: EventPlace, suffix: str, what: str, opts: pulumi.ResourceOptions
) -> gcp.serviceaccount.Account:
    return gcp.serviceaccount.Account(
        f"{name}-events-{suffix}",
        account_id=fit(f"{place.base}-{suffix}", 30).rstrip("-"),
        display_name=f"{what} of {place.base}",
        project=place.project,
        opts=opts,
    )


def _invoke_grant(
    name: str,
    suffix: str,
    account: gcp.serviceaccount.Account,
    place: EventPlace,
    opts: pulumi.ResourceOptions,
) -> None:
    gcp.cloudrunv2.ServiceIamMember(
        f"{name}-events-{suffix}-invoker",
        name=place.service_name,
        role="roles/run.invoker",
        member=account.email.apply(lambda email: f"serviceAccount:{email}"),
        project=place.project,
        location=place.region,
        opts=opts,
    )


def _url(place: EventPlace, path: str, source: str) -> Any:
    return place.service_uri.apply(lambda uri: uri.rstrip("/") + path.format(source=source))


def _queue(
    name: str,
    source: EventSource,
    place: EventPlace,
    invoker: gcp.serviceaccount.Account,
    agent_member: Any,
    opts: pulumi.ResourceOptions,
) -> Any:
    queue = source.queue
    assert isinstance(queue, QueueSpec)
    topic_name = fit(f"{place.base}-{source.name}", 255)
    topic = gcp.pubsub.Topic(
        f"{name}-{source.name}-topic",
        name=topic_name,
        labels=place.labels,
        project=place.project,
        opts=opts,
    )
    dead_letter = gcp.pubsub.Topic(
        f"{name}-{source.name}-dlq",
        name=fit(f"{topic_name}-dlq", 255),
        labels=place.labels,
        project=place.project,
        opts=opts,
    )
    endpoint = _url(place, PUBSUB_PATH, source.name)
    subscription = gcp.pubsub.Subscription(
        f"{name}-{source.name}-push",
        name=fit(f"{topic_name}-push", 255),
        topic=topic.id,
        ack_deadline_seconds=queue.ack_deadline_s,
        push_config={
            "push_endpoint": endpoint,
            # Cloud Run accepts its own *.run.app URL as audience; any other one is a 403 loop.
            "oidc_token": {"service_account_email": invoker.email, "audience": place.service_uri},
        },
        dead_letter_policy={
            "dead_letter_topic": dead_letter.id,
            "max_delivery_attempts": queue.max_receive_count,
        },
        retry_policy={"minimum_backoff": MIN_BACKOFF, "maximum_backoff": MAX_BACKOFF},
        labels=place.labels,
        project=place.project,
        opts=opts,
    )
    gcp.pubsub.TopicIAMMember(
        f"{name}-{source.name}-dlq-publisher",
        topic=dead_letter.name,
        role="roles/pubsub.publisher",
        member=agent_member,
        project=place.project,
        opts=opts,
    )
    gcp.pubsub.SubscriptionIAMMember(
        f"{name}-{source.name}-push-subscriber",
        subscription=subscription.name,
        role="roles/pubsub.subscriber",
        member=agent_member,
        project=place.project,
        opts=opts,
    )
    return topic.name


def _pubsub_agent(
    name: str,
    place: EventPlace,
    invoker: gcp.serviceaccount.Account,
    opts: pulumi.ResourceOptions,
) -> Any:
    """The Pub/Sub service agent, allowed to mint OIDC tokens as the invoker account only.

    (Projects made before April 2021 need that grant for authenticated push; it is scoped to
    the one account, never the project.)
    """
    agent = gcp.projects.ServiceIdentity(
        f"{name}-events-pubsub-agent",
        service="pubsub.googleapis.com",
        project=place.project,
        opts=opts,
    )
    member = agent.email.apply(lambda email: f"serviceAccount:{email}")
    gcp.serviceaccount.IAMMember(
        f"{name}-events-inv-token-creator",
        service_account_id=invoker.name,
        role="roles/iam.serviceAccountTokenCreator",
        member=member,
        opts=opts,
    )
    return member


def _trigger_account(
    name: str, place: EventPlace, opts: pulumi.ResourceOptions
) -> gcp.serviceaccount.Account:
    account = _account(name, place, "trg", "Eventarc trigger", opts)
    _invoke_grant(name, "trg", account, place, opts)
    gcp.projects.IAMMember(
        f"{name}-events-trg-receiver",
        project=place.project or "",
        role="roles/eventarc.eventReceiver",
        member=account.email.apply(lambda email: f"serviceAccount:{email}"),
        opts=opts,
    )
    return account


def _bucket(
    name: str,
    source: EventSource,
    place: EventPlace,
    account: gcp.serviceaccount.Account,
    opts: pulumi.ResourceOptions,
) -> None:
    bucket = source.bucket
    assert isinstance(bucket, BucketSpec)
    gcp.eventarc.Trigger(
        f"{name}-{source.name}-trigger",
        name=fit(f"{place.base}-{source.name}", 63),
        location=place.region,
        matching_criterias=[
            {"attribute": "type", "value": FINALIZED},
            {"attribute": "bucket", "value": bucket.bucket},
        ],
        destination={
            "cloud_run_service": {
                "service": place.service_name,
                "region": place.region,
                "path": EVENTARC_PATH.format(source=source.name),
            }
        },
        service_account=account.email,
        labels=place.labels,
        project=place.project,
        opts=opts,
    )
    _viewer(name, source.name, bucket.bucket, bucket.prefix, place, opts)


def _schedule(
    name: str,
    source: EventSource,
    place: EventPlace,
    invoker: gcp.serviceaccount.Account,
    opts: pulumi.ResourceOptions,
) -> None:
    schedule = source.schedule
    assert isinstance(schedule, ScheduleSpec)
    endpoint = _url(place, SCHEDULE_PATH, source.name)
    gcp.cloudscheduler.Job(
        f"{name}-{source.name}-job",
        name=fit(f"{place.base}-{source.name}", 500),
        schedule=schedule.cron,
        time_zone="Etc/UTC",
        region=place.region,
        http_target={
            "uri": endpoint,
            "http_method": "POST",
            "oidc_token": {"service_account_email": invoker.email, "audience": place.service_uri},
        },
        retry_config={"retry_count": 3, "min_backoff_duration": "30s"},
        project=place.project,
        opts=opts,
    )
    bucket, prefix = schedule.rescore_bucket, schedule.rescore_prefix
    _viewer(name, source.name, bucket, prefix, place, opts, listing=True)


def _viewer(
    name: str,
    source: str,
    bucket: str,
    prefix: str,
    place: EventPlace,
    opts: pulumi.ResourceOptions,
    *,
    listing: bool = False,
) -> None:
    condition = prefix_condition(bucket, prefix, title=f"{source} input objects")
    if listing:  # listing is authorised on the bucket itself, reading on each object
        condition["expression"] = (
            f'resource.type == "storage.googleapis.com/Bucket" || {condition["expression"]}'
        )
    gcp.storage.BucketIAMMember(
        f"{name}-{source}-reader",
        bucket=bucket,
        role="roles/storage.objectViewer",
        member=_member(place.runtime_account),
        condition=condition,
        opts=opts,
    )


def _output_grant(
    name: str, source: EventSource, place: EventPlace, opts: pulumi.ResourceOptions
) -> None:
    output: OutputSpec = source.output
    member = _member(place.runtime_account)
    if output.bucket is not None:
        gcp.storage.BucketIAMMember(
            f"{name}-{source.name}-writer",
            bucket=output.bucket,
            role="roles/storage.objectCreator",
            member=member,
            condition=prefix_condition(
                output.bucket, output.prefix, title=f"{source.name} output objects"
            ),
            opts=opts,
        )
    elif output.queue is not None:
        gcp.pubsub.TopicIAMMember(
            f"{name}-{source.name}-results-publisher",
            topic=output.queue,
            role="roles/pubsub.publisher",
            member=member,
            project=place.project,
            opts=opts,
        )


def _member(account: Any) -> Any:
    if isinstance(account, str):
        return account if ":" in account else f"serviceAccount:{account}"
    return pulumi.Output.from_input(account).apply(lambda email: f"serviceAccount:{email}")
