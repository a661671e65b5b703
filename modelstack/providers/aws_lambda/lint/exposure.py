from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.aws_lambda.lint import lambda_targets


class PublicFunctionUrl(Rule):
    id = "MS306"
    severity = "warning"
    summary = "A function URL without auth is public"
    description = (
        "function_url.auth: NONE lets anyone on the internet invoke the model and run up the "
        "bill. Prefer AWS_IAM and sign requests; keep NONE only for deliberate public demos."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in lambda_targets(ctx):
            if target.function_url.enabled and target.function_url.auth == "NONE":
                yield Finding(
                    ("targets", target.name, "function_url", "auth"),
                    "this function URL is public (auth: NONE): anyone can invoke it",
                )


class ArchitectureMatchesPlatform(Rule):
    id = "MS307"
    summary = "Lambda architecture must match the image platform"
    description = (
        "An arm64 function needs a linux/arm64 image and x86_64 needs linux/amd64; a mismatch "
        "fails at the first invocation with an exec format error."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        platform = ctx.manifest.build.platform
        for target in lambda_targets(ctx):
            wanted = "linux/arm64" if target.architecture == "arm64" else "linux/amd64"
            if platform != wanted:
                yield Finding(
                    ("targets", target.name, "architecture"),
                    f"architecture {target.architecture} needs build.platform {wanted}, "
                    f"but the image is built for {platform}",
                )
