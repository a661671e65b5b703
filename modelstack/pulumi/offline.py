"""Run a Pulumi program offline, under Pulumi's mocks, and record what it would create.

No engine, no plugins, no credentials: `pulumi.runtime.set_mocks` replaces the engine with a
mock monitor. `RecordingMonitor` notes every registered resource (type, name, inputs, parent,
provider, hooks) and `RecordingMocks` answers with plausible computed outputs (ARNs, URLs, a
Lambda version number, Cloud Run tag URLs) so that programs depending on them run through.

Inputs are recorded the way the engine receives them: camelCase property names, and numbers as
floats; `normalise` turns integral floats back into integers.

Only public Pulumi API runs the program (`set_mocks`, `reset_options`, `runtime.test`). Seeing
each registration's parent, provider, hooks and `protect` has no public API (`Mocks` is told
only the type, name and inputs), so it goes through the SDK's mock monitor in one place,
`_registration`, which tests pin against the installed Pulumi so that an upgrade that changes
it fails loudly instead of recording less.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

__all__ = [
    "MOCK_ACCOUNT",
    "MOCK_PROJECT_NUMBER",
    "RecordedResource",
    "RecordingMocks",
    "RecordingMonitor",
    "install_mocks",
    "normalise",
    "run_offline",
]

MOCK_ACCOUNT = "123456789012"
MOCK_PROJECT_NUMBER = "000000000000"


def normalise(value: Any) -> Any:
    """Integral floats to ints, tuples to lists, recursively; mappings keep their keys."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration, as the engine would have received it."""

    type: str
    name: str
    urn: str
    parent: str
    """The parent's URN ('' for none)."""
    custom: bool
    provider: str
    """The provider reference (`<provider URN>::<id>`) or ''."""
    inputs: dict[str, Any]
    hooks: dict[str, list[str]] = field(default_factory=dict)
    """Resource hook names bound per kind (`before_update`, ...)."""
    protect: bool = False

    @property
    def parent_name(self) -> str:
        return self.parent.rsplit("::", 1)[-1] if self.parent else ""


def _computed(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Plausible values for outputs the cloud would compute."""
    region = inputs.get("region", "us-east-1")
    physical = inputs.get("name", name)
    arn = f"arn:aws:mock:{region}:{MOCK_ACCOUNT}:{physical}"
    pool = (
        f"projects/{MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
        f"{inputs.get('workloadIdentityPoolId')}"
    )
    table: dict[str, dict[str, Any]] = {
        "aws:lambda/function:Function": {
            "arn": f"arn:aws:lambda:{region}:{MOCK_ACCOUNT}:function:{physical}",
            "version": "1",
        },
        "aws:lambda/alias:Alias": {
            "arn": f"arn:aws:lambda:{region}:{MOCK_ACCOUNT}:function:{inputs.get('functionName')}"
            f":{physical}",
        },
        "aws:lambda/functionUrl:FunctionUrl": {
            "functionUrl": f"https://{name}.lambda-url.{region}.on.aws/",
        },
        "aws:ecr/repository:Repository": {
            "repositoryUrl": f"{MOCK_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{physical}",
        },
        "aws:iam/role:Role": {"arn": f"arn:aws:iam::{MOCK_ACCOUNT}:role/{physical}"},
        "aws:cloudwatch/logGroup:LogGroup": {
            "arn": f"arn:aws:logs:{region}:{MOCK_ACCOUNT}:log-group:{physical}",
        },
        "gcp:serviceaccount/account:Account": {
            "email": f"{inputs.get('accountId')}@{inputs.get('project')}.iam.gserviceaccount.com",
        },
        "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": {"name": pool},
        "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": {
            "name": f"{pool}/providers/{inputs.get('workloadIdentityPoolProviderId')}",
        },
        "gcp:artifactregistry/repository:Repository": {
            "registryUri": f"{inputs.get('location')}-docker.pkg.dev/{inputs.get('project')}"
            f"/{inputs.get('repositoryId')}",
        },
    }
    if typ == "gcp:cloudrunv2/service:Service":
        host = f"{physical}-mock-{inputs.get('location', 'region')}.a.run.app"
        statuses = [
            {**t, "uri": f"https://{t['tag']}---{host}"} if t.get("tag") else t
            for t in inputs.get("traffics", [])
        ]
        return {"uri": f"https://{host}", "trafficStatuses": statuses}
    return table.get(typ, {"arn": arn} if typ.startswith("aws:") else {})


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer resource registrations with inputs plus computed outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = {**args.inputs, **_computed(args.typ, args.name, args.inputs)}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"projectId": args.args.get("projectId"), "number": MOCK_PROJECT_NUMBER}, []
        return {}, []


def _with_thread_loop(call: Callable[[], Any]) -> Any:
    """Run a mock monitor call, closing the event loop it creates on a worker thread.

    The mock monitor runs on the SDK's executor threads and gives each one an event loop that
    is never closed; closing it here keeps the process free of ResourceWarnings.
    """
    if threading.current_thread() is threading.main_thread():
        return call()
    policy = asyncio.get_event_loop_policy()
    try:
        policy.get_event_loop()
    except RuntimeError:
        pass  # no loop yet: the call creates one, closed below
    else:
        return call()
    try:
        return call()
    finally:
        try:
            loop = policy.get_event_loop()
        except RuntimeError:
            loop = None
        policy.set_event_loop(None)
        if loop is not None:
            loop.close()


_awaited: Callable[[Callable[[], Any]], Callable[[], None]] = pulumi.runtime.test
"""`pulumi.runtime.test` (untyped in the SDK): runs a program and awaits the Output it returns."""

HOOK_KINDS = ("before_create", "before_update", "after_create", "after_update")


def _registration(request: Any, urn: str) -> RecordedResource:
    """A RegisterResource request of the mock monitor as a RecordedResource.

    The one place that reads the SDK's internal request (a protobuf message) and its
    property deserialiser; `tests/pulumi/test_pulumi_internals.py` pins both.
    """
    inputs = rpc.deserialize_properties(request.object)
    hooks = {
        kind: list(getattr(request.hooks, kind))
        for kind in HOOK_KINDS
        if list(getattr(request.hooks, kind))
    }
    return RecordedResource(
        type=request.type,
        name=request.name,
        urn=urn,
        parent=request.parent,
        custom=bool(request.custom),
        provider=request.provider,
        inputs=normalise(dict(inputs)),
        hooks=hooks,
        protect=bool(request.protect),
    )


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration in order, parents included."""

    def __init__(self, mocks: pulumi.runtime.Mocks | None = None) -> None:
        super().__init__(mocks or RecordingMocks())
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        register = super().RegisterResource
        response = _with_thread_loop(lambda: register(request))  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(_registration(request, response.urn))
        return response

    def Invoke(self, request: Any) -> Any:
        invoke = super().Invoke
        return _with_thread_loop(lambda: invoke(request))  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:
        read = super().ReadResource
        return _with_thread_loop(lambda: read(request))  # type: ignore[no-untyped-call]

    def clear(self) -> None:
        self.recorded.clear()
        self.resources.clear()


def install_mocks(
    project: str = "modelstack",
    stack: str = "offline",
    mocks: pulumi.runtime.Mocks | None = None,
) -> RecordingMonitor:
    """Install recording mocks as Pulumi's engine for this process; returns the monitor.

    Each installation starts from fresh settings and a new root stack resource, so resources
    never end up under the stack of an earlier run.
    """
    pulumi.runtime.reset_options(project=project, stack=stack)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
    )
    return monitor


def run_offline(
    program: Callable[[], Any],
    *,
    project: str = "modelstack",
    stack: str = "offline",
    mocks: pulumi.runtime.Mocks | None = None,
) -> tuple[list[RecordedResource], Any]:
    """Run `program` under recording mocks, synchronously, in a private event loop.

    Returns the recorded resources and the program's return value with every Output in it
    resolved. The loop is closed afterwards, so nothing is left running.
    """
    # The loop current before (if any) is restored afterwards; peek without creating one.
    previous = getattr(getattr(asyncio.get_event_loop_policy(), "_local", None), "_loop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    result: dict[str, Any] = {}
    try:
        monitor = install_mocks(project, stack, mocks)

        def body() -> pulumi.Output[None]:
            return pulumi.Output.from_input(program()).apply(
                lambda value: result.__setitem__("value", value)
            )

        _awaited(body)()
        return list(monitor.recorded), result.get("value")
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        if previous is None:
            # Forget our closed loop without marking "no loop" as set: a fresh default policy
            # lets later callers get a loop of their own, as they could before.
            asyncio.set_event_loop_policy(None)
        else:
            asyncio.set_event_loop(previous)
