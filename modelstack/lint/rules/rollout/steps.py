from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class RolloutSteps(Rule):
    id = "MS601"
    summary = "Rollout steps must increase and end at 100"
    description = (
        "Each step is the new version's share of traffic. Steps must strictly increase and the "
        "last must be 100, or the rollout never completes. all-at-once needs no steps."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        rollout = ctx.manifest.rollout
        steps = rollout.steps
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                yield Finding(
                    ("rollout", "steps", i),
                    f"step {steps[i]}% does not increase on the step before it ({steps[i - 1]}%)",
                )
        if steps and steps[-1] != 100:
            yield Finding(
                ("rollout", "steps", len(steps) - 1),
                f"the last step is {steps[-1]}%; it must be 100 so the rollout completes",
            )
        if rollout.strategy != "all-at-once" and len(steps) < 2:
            yield Finding(
                ("rollout", "steps"),
                f"a {rollout.strategy} rollout needs at least two steps, such as [10, 100]",
            )
