"""Recognising credentials in manifest values and keys, and hiding them wherever text is echoed.

Two signals make a value a secret: its own shape (a well-known credential format found anywhere
in the string), or the key it sits under naming a credential (`DB_PASS`, `api_key`,
`clientSecret`). A key names a credential when its last word does: `PASSWORD_MIN_LENGTH`,
`SECRET_NAME`, `TOKEN_URL` and `MAX_TOKENS` describe settings, not credentials. A value that is
nothing but a reference to a secret store is never a secret.

Only the kind of secret is ever shown: `redact()` replaces any value, or text that contains one,
with a placeholder that names the kind.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["redact", "secret_in_key", "secret_in_value", "show_value"]

_AWS_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_BASIC_AUTH = re.compile(r"\bBasic\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])")

# Well-known credential formats, matched anywhere in a string.
_TOKEN_PATTERNS: dict[str, re.Pattern[str]] = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|AIPA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "a Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "a Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "an API secret key": re.compile(r"\b(?:sk|rk)[-_](?:live_|proj-)?[A-Za-z0-9]{20,}\b"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a password in a URL": re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@"),
    "a bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]*[0-9][A-Za-z0-9._~+/-]*={0,2}"),
}

# The last word of a key that names a credential, and the word pairs that do.
_SECRET_WORDS = frozenset(
    {"secret", "password", "passwd", "pass", "pwd", "passphrase", "token", "credential",
     "credentials", "apikey", "privatekey", "authorization", "secretkey", "accesskey"}
)  # fmt: skip
_KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "account", "auth"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# Values that are only a reference to a secret store rather than the secret itself.
_REFERENCE = re.compile(
    r"^(?:arn:aws[a-z-]*:(?:secretsmanager|ssm|kms):[A-Za-z0-9:/_+=.@-]+"
    r"|projects/[^/\s]+/secrets/[^/\s]+(?:/versions/[^/\s]+)?"
    r"|\$\{[A-Za-z_][A-Za-z0-9_.:/-]*\})$"
)


def secret_in_value(value: str) -> str | None:
    """The kind of credential found in the text, or None."""
    for kind, pattern in _TOKEN_PATTERNS.items():
        if pattern.search(value):
            return kind
    for match in _AWS_SECRET_KEY.finditer(value):
        key = match.group(0)
        if _mixed(key):
            return "an AWS secret access key"
    for match in _BASIC_AUTH.finditer(value):
        if _is_basic_credential(match.group(1)):
            return "HTTP basic auth credentials"
    return None


def secret_in_key(key: str, value: str) -> str | None:
    """The kind of credential `value` holds given the key it sits under, or None."""
    found = secret_in_value(value)
    if found:
        return found
    if not value.strip() or _REFERENCE.match(value.strip()):
        return None
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return None
    last = words[-1]
    named = last in _SECRET_WORDS or (
        last == "key" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS
    )
    return f"a credential (its key names one: {last})" if named else None


def redact(text: str) -> str:
    """`text` with every credential-shaped part replaced by a placeholder naming its kind."""
    for kind, pattern in _TOKEN_PATTERNS.items():
        text = pattern.sub(f"<{kind}>", text)
    text = _AWS_SECRET_KEY.sub(
        lambda m: "<an AWS secret access key>" if _mixed(m.group(0)) else m.group(0), text
    )
    return _BASIC_AUTH.sub(
        lambda m: (
            "<HTTP basic auth credentials>" if _is_basic_credential(m.group(1)) else m.group(0)
        ),
        text,
    )


def show_value(key: str, value: str) -> str:
    """How a string value may be echoed in a message: quoted, or only its kind if a secret."""
    kind = secret_in_key(key, value)
    return f"<{kind}>" if kind else repr(value)


def _mixed(candidate: str) -> bool:
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() for c in candidate)
    )


def _is_basic_credential(encoded: str) -> bool:
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded
