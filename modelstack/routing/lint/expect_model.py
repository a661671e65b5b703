"""MS915: a smoke test's `expect_model` names a model that can answer this service."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ManifestError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.model import Manifest
from modelstack.routing.graph import tiers_of
from modelstack.routing.lint.tiers import spec_of

__all__ = ["ExpectModel"]


def graph_models(manifest: Manifest) -> list[str]:
    """The model names that may answer `manifest`: its own, then every tier's it can reach
    (tiers that cannot be read are left out: MS911 and MS912 report them)."""
    from modelstack.routing.deploy_graph import deploy_order

    try:
        return [manifest.name, *(node.manifest.name for node in deploy_order(manifest))]
    except ManifestError:
        pass
    from modelstack.routing.spec import routing_of

    spec = routing_of(manifest)
    direct = [t.manifest.name for t in tiers_of(spec) if t.manifest] if spec else []
    return [manifest.name, *direct]


class ExpectModel(Rule):
    id = "MS915"
    summary = "A smoke test's expect_model names a model of the routing graph"
    description = (
        "smoke_tests[].expect_model is the v2 model_name that must answer the case: this "
        "service's own metadata.name, or the name of a tier's model (directly or through its "
        "tiers). Any other name could never match."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        manifest = ctx.manifest
        if manifest is None or not any(t.expect_model for t in manifest.smoke_tests):
            return
        routed = "routing" in ctx.source.data
        if routed and spec_of(ctx) is None:
            return  # the section itself is wrong: MS910 says how
        models = graph_models(manifest) if routed else [manifest.name]
        names = ", ".join(dict.fromkeys(models))
        for test in manifest.smoke_tests:
            if test.expect_model is not None and test.expect_model not in models:
                yield Finding(
                    (*test.path, "expect_model"),
                    f"smoke test '{test.name}' expects model '{test.expect_model}', which never "
                    f"answers this service (the models that can: {names}); use one of them",
                )
