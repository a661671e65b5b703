from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.aws_lambda.lint import lambda_targets


class ProvisionedWithinReserved(Rule):
    id = "MS303"
    summary = "Provisioned concurrency must not exceed reserved concurrency"
    description = (
        "When reserved_concurrency caps the function, provisioned concurrency (max, and every "
        "schedule's max) must fit under the cap, or AWS rejects the configuration."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            pc, reserved = target.provisioned_concurrency, target.reserved_concurrency
            if pc is None or reserved is None:
                continue
            base = ("targets", target.name, "provisioned_concurrency")
            if max(pc.min, pc.max) > reserved:
                yield Finding(
                    (*base, "max"),
                    f"provisioned concurrency {max(pc.min, pc.max)} exceeds reserved_concurrency "
                    f"{reserved}; raise reserved_concurrency or lower provisioned_concurrency.max",
                )
            for i, schedule in enumerate(pc.schedules):
                if schedule.max > reserved:
                    yield Finding(
                        (*base, "schedules", i, "max"),
                        f"schedule '{schedule.name}' provisions {schedule.max}, above "
                        f"reserved_concurrency {reserved}",
                    )


class ProvisionedOnWeightedAlias(Rule):
    id = "MS304"
    summary = "Provisioned concurrency cannot sit on a weighted alias"
    description = (
        "AWS rejects provisioned concurrency on an alias that has routing weights, which is "
        "what canary and linear rollouts use. Attach it to the version instead "
        "(provisioned_concurrency.attach_to: version), which also warms the new version before "
        "it gets traffic."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.manifest.rollout.strategy == "all-at-once":
            return
        for target in lambda_targets(ctx):
            pc = target.provisioned_concurrency
            if pc is not None and pc.attach_to == "alias":
                yield Finding(
                    ("targets", target.name, "provisioned_concurrency", "attach_to"),
                    f"a {ctx.manifest.rollout.strategy} rollout gives the alias routing weights, "
                    "and AWS rejects provisioned concurrency on a weighted alias. "
                    "Set attach_to: version (the default).",
                )


class ProvisionedMinMax(Rule):
    id = "MS308"
    summary = "Provisioned concurrency min must not exceed max"
    description = "Auto scaling needs min <= max, for the base settings and for every schedule."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            pc = target.provisioned_concurrency
            if pc is None:
                continue
            base = ("targets", target.name, "provisioned_concurrency")
            if pc.min > pc.max:
                yield Finding((*base, "min"), f"min {pc.min} is above max {pc.max}")
            for i, s in enumerate(pc.schedules):
                if s.min > s.max:
                    yield Finding(
                        (*base, "schedules", i, "min"),
                        f"schedule '{s.name}': min {s.min} is above max {s.max}",
                    )
