from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class BaseImagePinned(Rule):
    id = "MS502"
    severity = "warning"
    summary = "The base image should be pinned by digest"
    description = (
        "A tag such as python:3.12-slim can point at a different image tomorrow; a digest "
        "(image@sha256:...) makes builds reproducible and reviewable."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        image = ctx.manifest.build.base_image
        if image is not None and "@sha256:" not in image:
            yield Finding(
                ("build", "base_image"),
                f"base image '{image}' is not pinned by digest; use {image}@sha256:<digest>",
            )
