from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.secrets import secret_in_key, secret_in_value
from modelstack.manifest.source import PathKey

_ADVICE = (
    "Secrets must not be in a manifest: store it in a secret manager and reference it, and "
    "rotate it now."
)


class SecretValue(Rule):
    id = "MS501"
    summary = "Manifests must not contain secrets"
    description = (
        "Values and keys that look like credentials (AWS access keys and secret keys, private "
        "keys including PGP blocks, API tokens, passwords in URLs, HTTP basic or bearer "
        "credentials, or any non-empty value under a key whose last word names a credential, "
        "such as DB_PASS, api_key or clientSecret) are errors: manifests live in git. Only the "
        "kind of secret is shown, never its characters. Reference a secret store instead (an "
        "AWS Secrets Manager or SSM ARN, a Google Secret Manager name, or a whole ${NAME} "
        "placeholder)."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        yield from _walk(ctx.source.data, ())


def _walk(value: Any, path: PathKey) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            kind = secret_in_value(key) if isinstance(key, str) else None
            if kind:
                yield Finding((*path, key), f"this key looks like {kind}. {_ADVICE}", at_key=True)
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))
    elif isinstance(value, str):
        key = path[-1] if path and isinstance(path[-1], str) else ""
        kind = secret_in_key(key, value)
        if kind:
            yield Finding(path, f"this value looks like {kind}. {_ADVICE}")
