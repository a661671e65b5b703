from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.source import PathKey

# Well-known credential formats, matched anywhere in a string value.
_TOKEN_PATTERNS = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|AIPA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "a Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "a Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "an API secret key": re.compile(r"\b(?:sk|rk)[-_](?:live_|proj-)?[A-Za-z0-9]{20,}\b"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
}
# Keys whose values are credentials, whatever they look like.
_SECRET_KEY = re.compile(
    r"(secret|passw(or)?d|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)",
    re.IGNORECASE,
)
# Values that point at a secret store rather than holding the secret.
_REFERENCE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm|kms):|projects/.+/secrets/|\$\{)")


class SecretValue(Rule):
    id = "MS501"
    summary = "Manifests must not contain secrets"
    description = (
        "Values that look like credentials (AWS access keys, private keys, API tokens, or any "
        "non-empty value under a key named like secret/password/token/api_key) are errors: "
        "manifests live in git. Reference a secret store (AWS Secrets Manager or SSM ARN, "
        "Google Secret Manager name) instead."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        yield from _walk(ctx.source.data, ())


def _walk(value: Any, path: PathKey) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))
    elif isinstance(value, str):
        reason = _secret_reason(path, value)
        if reason:
            yield Finding(
                path,
                f"this value looks like {reason} ({_mask(value)}). Secrets must not be in a "
                "manifest: store it in a secret manager and reference it, and rotate it now.",
            )


def _secret_reason(path: PathKey, value: str) -> str | None:
    for name, pattern in _TOKEN_PATTERNS.items():
        if pattern.search(value):
            return name
    key = path[-1] if path and isinstance(path[-1], str) else ""
    if key and _SECRET_KEY.search(key) and value.strip() and not _REFERENCE.match(value):
        return f"a credential (the key '{key}' names one)"
    return None


def _mask(value: str) -> str:
    shown = value.strip()[:4]
    return f"'{shown}…', {len(value)} characters"
