"""The one use of Pulumi SDK internals (`offline._registration`, reading the mock monitor's
RegisterResource request): pinned here against the installed Pulumi, so that an upgrade that
renames or drops a field fails this test by name instead of `plan` silently recording less."""

from __future__ import annotations

import inspect
from importlib.metadata import version as installed
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from modelstack.pulumi.offline import HOOK_KINDS, RecordingMonitor, run_offline

PULUMI = installed("pulumi")


def test_the_mock_monitor_still_has_the_methods_recording_overrides() -> None:
    for method in ("RegisterResource", "Invoke", "ReadResource"):
        assert list(inspect.signature(getattr(MockMonitor, method)).parameters) == [
            "self",
            "request",
        ], f"pulumi {PULUMI} changed MockMonitor.{method}"
    assert callable(rpc.deserialize_properties)
    assert issubclass(RecordingMonitor, MockMonitor)


def test_a_registration_keeps_parent_provider_hooks_protect_and_inputs() -> None:
    async def hook(args: pulumi.ResourceHookArgs) -> None:
        return None

    def program() -> dict[str, Any]:
        parent = pulumi.ComponentResource("test:index:Parent", "parent", None)
        provider = pulumi.ProviderResource("testpkg", "explicit", {})
        binding = pulumi.ResourceHookBinding(
            **{kind: [pulumi.ResourceHook(f"check-{kind}", hook)] for kind in HOOK_KINDS}
        )
        thing = pulumi.CustomResource(
            "testpkg:index:Thing",
            "thing",
            {"size": 3, "nested": {"camel_case": True}},
            pulumi.ResourceOptions(parent=parent, provider=provider, protect=True, hooks=binding),
        )
        return {"urn": thing.urn, "parent": parent.urn}

    recorded, outputs = run_offline(program, project="pin", stack="internals")
    thing = next(r for r in recorded if r.type == "testpkg:index:Thing")
    version = PULUMI
    assert thing.name == "thing" and thing.urn == outputs["urn"], version
    assert thing.parent == outputs["parent"], f"pulumi {version}: request.parent changed"
    assert thing.provider.startswith("urn:pulumi:") and "explicit" in thing.provider, version
    assert thing.custom and thing.protect, f"pulumi {version}: request.custom/protect changed"
    assert thing.inputs == {"size": 3, "nested": {"camel_case": True}}, version
    assert thing.hooks == {kind: [f"check-{kind}"] for kind in HOOK_KINDS}, (
        f"pulumi {version}: request.hooks changed"
    )
