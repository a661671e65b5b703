from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.gcp_cloud_run.lint import cloud_run_targets


class PublicService(Rule):
    id = "MS406"
    severity = "warning"
    summary = "A public Cloud Run service can be invoked by anyone"
    description = (
        "public: true grants roles/run.invoker to allUsers. Keep services private and list "
        "invokers unless the model is meant for the open internet."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in cloud_run_targets(ctx):
            if target.public:
                yield Finding(
                    ("targets", target.name, "public"),
                    "this service is public (allUsers may invoke it)",
                )
