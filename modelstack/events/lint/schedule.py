from __future__ import annotations

from collections.abc import Iterator

from modelstack.events.cron import CronError, aws_schedule_expression, check_cron
from modelstack.events.lint.sources import event_sources
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.aws_lambda.lint import lambda_targets


class ScheduleCron(Rule):
    id = "MS936"
    summary = "A schedule's cron must be 5 valid fields (UTC)"
    description = (
        "schedule.cron is minute hour day-of-month month day-of-week, in UTC, such as "
        "'0 3 * * *'. AWS schedules take one of the two day fields, not both."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        aws = any(True for _ in lambda_targets(ctx))
        for index, source in event_sources(ctx):
            if source.schedule is None:
                continue
            try:
                check_cron(source.schedule.cron)
                if aws:
                    aws_schedule_expression(source.schedule.cron)
            except CronError as exc:
                yield Finding(("events", index, "schedule", "cron"), str(exc))
