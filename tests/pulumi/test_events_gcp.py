"""Event sources of a Cloud Run target under Pulumi mocks: resources and least privilege."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pytest

from modelstack.events import EventSource
from modelstack.providers.gcp_cloud_run.events import (
    EventPlace,
    build_sources,
    prefix_condition,
)
from modelstack.pulumi.offline import RecordedResource, RecordingMocks, run_offline
from tests.events.gcp.sources import bucket_source, queue_source, schedule_source

RUNTIME = "digits-prod-run@p.iam.gserviceaccount.com"
SERVICE_URI = "https://digits-prod-mock.a.run.app"
AGENT = "service-123@gcp-sa-pubsub.iam.gserviceaccount.com"


class EventMocks(RecordingMocks):
    """Recording mocks that also compute the Pub/Sub service agent's email."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rid, outputs = super().new_resource(args)
        if args.typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            outputs["email"] = AGENT
        if args.typ == "gcp:serviceaccount/account:Account":
            outputs["name"] = f"projects/p/serviceAccounts/{outputs['email']}"
        if args.typ == "gcp:pubsub/topic:Topic":  # a topic's id is its full path
            rid = f"projects/p/topics/{args.inputs['name']}"
        return rid, outputs


class _Parent(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("test:events:Parent", "parent")


def _plan(sources: Sequence[EventSource]) -> tuple[list[RecordedResource], Any]:
    def program() -> Any:
        place = EventPlace(
            base="digits-prod",
            project="p",
            region="europe-west4",
            service_name=pulumi.Output.from_input("digits-prod"),
            service_uri=pulumi.Output.from_input(SERVICE_URI),
            runtime_account=RUNTIME,
            labels={"modelstack-model": "digits"},
        )
        return build_sources(_Parent(), "digits", sources, place)

    return run_offline(program, mocks=EventMocks())


def _of(resources: list[RecordedResource], suffix: str) -> list[RecordedResource]:
    return [r for r in resources if r.type.endswith(suffix)]


def _one(resources: list[RecordedResource], suffix: str, name: str) -> RecordedResource:
    found = [r for r in _of(resources, suffix) if r.name == name]
    assert len(found) == 1, [r.name for r in _of(resources, suffix)]
    return found[0]


def test_queue_source_makes_topic_dead_letter_topic_and_push_subscription() -> None:
    resources, made = _plan([queue_source(max_receive_count=7, ack_deadline_s=120)])
    topic = _one(resources, "pubsub/topic:Topic", "digits-transactions-topic")
    dlq = _one(resources, "pubsub/topic:Topic", "digits-transactions-dlq")
    assert topic.inputs["name"] == "digits-prod-transactions"
    assert dlq.inputs["name"] == "digits-prod-transactions-dlq"
    sub = _one(resources, "pubsub/subscription:Subscription", "digits-transactions-push")
    endpoint = f"{SERVICE_URI}/_events/pubsub/transactions"
    invoker = "digits-prod-inv@p.iam.gserviceaccount.com"
    assert sub.inputs["topic"] == "projects/p/topics/digits-prod-transactions"
    assert sub.inputs["ackDeadlineSeconds"] == 120
    assert sub.inputs["pushConfig"] == {
        "pushEndpoint": endpoint,
        "oidcToken": {"serviceAccountEmail": invoker, "audience": SERVICE_URI},
    }
    assert sub.inputs["deadLetterPolicy"] == {
        "deadLetterTopic": "projects/p/topics/digits-prod-transactions-dlq",
        "maxDeliveryAttempts": 7,
    }
    assert sub.inputs["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert made["invoker_account"] == invoker
    assert made["transactions_topic"] == "digits-prod-transactions"


def test_service_agent_may_only_dead_letter_this_subscription() -> None:
    resources, _ = _plan([queue_source()])
    grants = _of(resources, "pubsub/topicIAMMember:TopicIAMMember")
    agent = [g for g in grants if g.inputs["member"] == f"serviceAccount:{AGENT}"]
    assert [(g.inputs["topic"], g.inputs["role"]) for g in agent] == [
        ("digits-prod-transactions-dlq", "roles/pubsub.publisher")
    ]
    subscriber = _of(resources, "pubsub/subscriptionIAMMember:SubscriptionIAMMember")
    assert [
        (s.inputs["subscription"], s.inputs["role"], s.inputs["member"]) for s in subscriber
    ] == [("digits-prod-transactions-push", "roles/pubsub.subscriber", f"serviceAccount:{AGENT}")]
    identity = _of(resources, "projects/serviceIdentity:ServiceIdentity")
    assert [i.inputs["service"] for i in identity] == ["pubsub.googleapis.com"]
    (token,) = _of(resources, "serviceaccount/iAMMember:IAMMember")
    assert token.inputs == {
        "serviceAccountId": "projects/p/serviceAccounts/digits-prod-inv@p.iam.gserviceaccount.com",
        "role": "roles/iam.serviceAccountTokenCreator",
        "member": f"serviceAccount:{AGENT}",
    }


def test_two_queue_sources_share_one_agent_and_one_invoker() -> None:
    resources, _ = _plan([queue_source("alpha"), queue_source("beta")])
    assert len(_of(resources, "projects/serviceIdentity:ServiceIdentity")) == 1
    assert len(_of(resources, "serviceaccount/account:Account")) == 1
    subs = _of(resources, "pubsub/subscription:Subscription")
    assert sorted(s.inputs["pushConfig"]["pushEndpoint"] for s in subs) == [
        f"{SERVICE_URI}/_events/pubsub/alpha",
        f"{SERVICE_URI}/_events/pubsub/beta",
    ]


def test_invoker_account_may_invoke_exactly_this_service() -> None:
    resources, _ = _plan([queue_source()])
    accounts = _of(resources, "serviceaccount/account:Account")
    assert [a.inputs["accountId"] for a in accounts] == ["digits-prod-inv"]
    invokers = _of(resources, "cloudrunv2/serviceIamMember:ServiceIamMember")
    assert [(i.inputs["name"], i.inputs["role"], i.inputs["member"]) for i in invokers] == [
        (
            "digits-prod",
            "roles/run.invoker",
            "serviceAccount:digits-prod-inv@p.iam.gserviceaccount.com",
        )
    ]
    assert not _of(resources, "projects/iAMMember:IAMMember")  # no project-wide grant


def test_queue_output_may_only_publish_to_its_topic() -> None:
    resources, _ = _plan([queue_source()])
    grant = _one(
        resources, "pubsub/topicIAMMember:TopicIAMMember", "digits-transactions-results-publisher"
    )
    assert grant.inputs == {
        "topic": "results",
        "role": "roles/pubsub.publisher",
        "member": f"serviceAccount:{RUNTIME}",
        "project": "p",
    }
    assert not _of(resources, "storage/bucketIAMMember:BucketIAMMember")


def test_bucket_source_makes_a_finalized_trigger_filtered_to_the_bucket() -> None:
    resources, made = _plan([bucket_source()])
    trigger = _one(resources, "eventarc/trigger:Trigger", "digits-catalog-trigger")
    assert trigger.inputs["matchingCriterias"] == [
        {"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"},
        {"attribute": "bucket", "value": "my-images"},
    ]
    assert trigger.inputs["destination"] == {
        "cloudRunService": {
            "service": "digits-prod",
            "region": "europe-west4",
            "path": "/_events/eventarc/catalog",
        }
    }
    trigger_account = "digits-prod-trg@p.iam.gserviceaccount.com"
    assert trigger.inputs["serviceAccount"] == trigger_account
    assert made["trigger_account"] == trigger_account
    receiver = _one(resources, "projects/iAMMember:IAMMember", "digits-events-trg-receiver")
    assert receiver.inputs["role"] == "roles/eventarc.eventReceiver"
    assert receiver.inputs["member"] == f"serviceAccount:{trigger_account}"
    invokers = _of(resources, "cloudrunv2/serviceIamMember:ServiceIamMember")
    assert {i.inputs["member"] for i in invokers} == {
        "serviceAccount:digits-prod-inv@p.iam.gserviceaccount.com",
        f"serviceAccount:{trigger_account}",
    }
    assert {i.inputs["name"] for i in invokers} == {"digits-prod"}


def test_runtime_reads_only_the_input_prefix_and_creates_only_under_the_output_prefix() -> None:
    resources, _ = _plan([bucket_source()])
    reader = _one(resources, "storage/bucketIAMMember:BucketIAMMember", "digits-catalog-reader")
    assert reader.inputs["bucket"] == "my-images"
    assert reader.inputs["role"] == "roles/storage.objectViewer"
    assert reader.inputs["member"] == f"serviceAccount:{RUNTIME}"
    assert reader.inputs["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/my-images/objects/incoming/")'
    )
    writer = _one(resources, "storage/bucketIAMMember:BucketIAMMember", "digits-catalog-writer")
    assert writer.inputs["role"] == "roles/storage.objectCreator"
    assert writer.inputs["bucket"] == "out-bucket"
    assert writer.inputs["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/out-bucket/objects/scored/")'
    )
    roles = {r.inputs["role"] for r in _of(resources, "storage/bucketIAMMember:BucketIAMMember")}
    assert roles == {"roles/storage.objectViewer", "roles/storage.objectCreator"}


def test_schedule_source_makes_a_utc_job_with_oidc_and_may_list_the_rescore_bucket() -> None:
    resources, _ = _plan([schedule_source()])
    job = _one(resources, "cloudscheduler/job:Job", "digits-nightly-job")
    endpoint = f"{SERVICE_URI}/_events/schedule/nightly"
    assert job.inputs["schedule"] == "0 3 * * *"
    assert job.inputs["timeZone"] == "Etc/UTC"
    assert job.inputs["region"] == "europe-west4"
    assert job.inputs["httpTarget"] == {
        "uri": endpoint,
        "httpMethod": "POST",
        "oidcToken": {
            "serviceAccountEmail": "digits-prod-inv@p.iam.gserviceaccount.com",
            "audience": SERVICE_URI,
        },
    }
    reader = _one(resources, "storage/bucketIAMMember:BucketIAMMember", "digits-nightly-reader")
    assert reader.inputs["condition"]["expression"] == (
        'resource.type == "storage.googleapis.com/Bucket" || '
        'resource.name.startsWith("projects/_/buckets/my-images/objects/incoming/")'
    )
    assert not _of(resources, "eventarc/trigger:Trigger")
    assert not _of(resources, "pubsub/subscription:Subscription")


def test_no_sources_make_nothing() -> None:
    resources, made = _plan([])
    assert made == {}
    assert [r.type for r in resources] == ["test:events:Parent"]


@pytest.mark.parametrize(("bucket", "prefix"), [("b", ""), ("my-images", "a/b/")])
def test_prefix_condition_names_the_objects(bucket: str, prefix: str) -> None:
    condition = prefix_condition(bucket, prefix, title="t")
    assert condition["expression"] == (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")'
    )
    assert condition["title"] == "t"


def test_a_cloud_run_manifest_with_events_gets_them_beside_its_service(
    deploy: Any, tmp_path: Any
) -> None:
    from offline_deploy import GCP_IMAGE

    from tests.example_copies import copy_example

    bundle = copy_example("digits-gpu", tmp_path / "digits")
    manifest = bundle / "modelstack.yaml"
    manifest.write_text(
        manifest.read_text()
        + "events:\n"
        + "  - name: transactions\n"
        + "    queue: {batch_size: 1, max_receive_count: 6, ack_deadline_s: 90}\n"
        + "    output: {bucket: digits-results, prefix: scored/}\n"
    )
    d = deploy(manifest=manifest, image=GCP_IMAGE)
    service = d.one("cloudrunv2/service:Service")
    sub = d.one("pubsub/subscription:Subscription")
    assert sub.inputs["ackDeadlineSeconds"] == 90
    assert sub.inputs["deadLetterPolicy"]["maxDeliveryAttempts"] == 6
    assert sub.inputs["pushConfig"]["pushEndpoint"].endswith("/_events/pubsub/transactions")
    assert sub.inputs["pushConfig"]["pushEndpoint"].startswith("https://")
    (invoker,) = [r for r in d.of_type("ServiceIamMember") if r.name == "svc-events-inv-invoker"]
    assert invoker.inputs["name"] == service.inputs["name"]
    assert (
        invoker.inputs["member"]
        == "serviceAccount:" + sub.inputs["pushConfig"]["oidcToken"]["serviceAccountEmail"]
    )
    writer = d.one("storage/bucketIAMMember:BucketIAMMember")
    assert writer.inputs["bucket"] == "digits-results"
    assert writer.inputs["role"] == "roles/storage.objectCreator"


def test_a_cloud_run_manifest_without_events_makes_no_event_resources(deploy: Any) -> None:
    from offline_deploy import DIGITS, GCP_IMAGE

    d = deploy(manifest=DIGITS, image=GCP_IMAGE)
    assert not d.of_type("pubsub/topic:Topic")
    assert not [r for r in d.resources if "events" in r.name]


def test_plan_lists_the_event_resources(tmp_path: Any) -> None:
    import io
    import json

    from modelstack.commands.plan import plan
    from tests.example_copies import copy_example

    bundle = copy_example("digits-gpu", tmp_path / "digits")
    manifest = bundle / "modelstack.yaml"
    manifest.write_text(
        manifest.read_text()
        + "events:\n"
        + "  - name: catalog\n"
        + "    bucket: {bucket: digits-in, prefix: incoming/, suffix: .npz}\n"
        + "    output: {bucket: digits-out, prefix: scored/}\n"
    )
    out = io.StringIO()
    assert plan(str(manifest), None, "json", None, out=out) == 0
    types = sorted(r["type"] for r in json.loads(out.getvalue())["resources"])
    assert types.count("gcp:eventarc/trigger:Trigger") == 1
    assert types.count("gcp:storage/bucketIAMMember:BucketIAMMember") == 2
    assert types.count("gcp:serviceaccount/account:Account") == 3  # runtime, invoker, trigger
