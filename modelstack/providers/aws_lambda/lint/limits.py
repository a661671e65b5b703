from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.aws_lambda.lint import lambda_targets


class LambdaMemory(Rule):
    id = "MS301"
    summary = "Lambda memory must be 128-10240 MB"
    description = "AWS Lambda accepts memory_mb from 128 to 10240. CPU is allocated in proportion."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            if not 128 <= target.memory_mb <= 10240:
                yield Finding(
                    ("targets", target.name, "memory_mb"),
                    f"memory_mb {target.memory_mb} is outside what Lambda allows (128-10240)",
                )


class LambdaTimeout(Rule):
    id = "MS302"
    summary = "Lambda timeout must be 1-900 s"
    description = "A Lambda invocation runs at most 900 seconds (15 minutes)."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            if not 1 <= target.timeout_s <= 900:
                yield Finding(
                    ("targets", target.name, "timeout_s"),
                    f"timeout_s {target.timeout_s} is outside what Lambda allows (1-900)",
                )


class LambdaEphemeralStorage(Rule):
    id = "MS305"
    summary = "Lambda ephemeral storage must be 512-10240 MB"
    description = "AWS Lambda accepts ephemeral_storage_mb (the size of /tmp) from 512 to 10240."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            if not 512 <= target.ephemeral_storage_mb <= 10240:
                yield Finding(
                    ("targets", target.name, "ephemeral_storage_mb"),
                    f"ephemeral_storage_mb {target.ephemeral_storage_mb} is outside what Lambda "
                    "allows (512-10240)",
                )
