"""MS501: credentials are found by their shape or their key, and never echoed in any output."""

from __future__ import annotations

import base64
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.lint.diagnostic import Diagnostic
from modelstack.lint.engine import LintOptions, lint_source
from modelstack.lint.formatters import FORMATTERS
from modelstack.manifest.secrets import secret_in_key
from modelstack.manifest.source import parse_source

HEAD = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: tiny, version: 1.0.0}
model:
  path: model.onnx
  sha256: f0b3d4135ae9f16fa368eebdd648411a115e5540aeb33856d09688f2d7714e1a
targets:
  dev:
    provider: local
    environment:
"""
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
NOWHERE = "/nonexistent-bundle/modelstack.yaml"  # nothing beside it is read


def lint_env(key: str, value: str) -> list[Diagnostic]:
    text = HEAD + f"      {key}: {json.dumps(value)}\n"
    return lint_source(parse_source(text, NOWHERE), LintOptions(model_checks=False))


def ms501(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.rule_id == "MS501"]


def _mixed(s: str) -> bool:
    return (
        any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s)
    )


def _fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


password = st.text(ALNUM + "!#$%^&*()-_=+~.", min_size=8, max_size=24).filter(_mixed)
access_key_id = st.builds(lambda p, r: p + r, st.sampled_from(["AKIA", "ASIA"]),
                          _fixed(string.ascii_uppercase + string.digits, 16))  # fmt: skip
secret_key = _fixed(B64, 40).filter(_mixed)
url_credentials = st.builds(
    lambda scheme, user, pw, host: (f"{scheme}://{user}:{pw}@{host}/db", pw),
    st.sampled_from(["postgres", "mysql", "https", "redis", "amqp"]),
    st.text(string.ascii_lowercase, min_size=1, max_size=12),
    password.filter(lambda p: not set(p) & set("/@:")),
    st.sampled_from(["db.internal", "10.0.0.5:5432", "localhost"]),
)
basic_auth = st.builds(
    lambda user, pw: (
        "Authorization: Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode(),
        base64.b64encode(f"{user}:{pw}".encode()).decode(),
    ),
    st.text(string.ascii_lowercase, min_size=1, max_size=12),
    password,
)
pgp_block = st.builds(
    lambda kind, body: (f"-----BEGIN {kind}PRIVATE KEY{' BLOCK' if kind == 'PGP ' else ''}-----"
                        f"\n{body}\n-----END-----", body),
    st.sampled_from(["PGP ", "RSA ", "EC ", "OPENSSH ", ""]),
    _fixed(B64, 48).filter(_mixed),
)  # fmt: skip
github_token = st.builds(lambda t: "ghp_" + t, _fixed(ALNUM, 36).filter(_mixed))
bearer = st.builds(lambda t: ("Bearer " + t, t), password.filter(lambda p: p.isalnum()))
# (the value written into the manifest, the characters that must never be echoed)
SHAPED = st.one_of(
    access_key_id.map(lambda v: (v, v)),
    secret_key.map(lambda v: (v, v)),
    github_token.map(lambda v: (v, v)),
    url_credentials,
    basic_auth,
    pgp_block,
    bearer,
)
NEUTRAL_KEY = st.lists(
    st.sampled_from(["APP", "UPSTREAM", "SETTING", "MODE", "VALUE", "X", "CONFIG", "NOTE"]),
    min_size=1, max_size=3,
).map("_".join)  # fmt: skip
SECRET_KEY_NAME = st.sampled_from(
    ["DB_PASS", "DB_PASSWORD", "API_KEY", "apiKey", "clientSecret", "HF_TOKEN", "SECRET",
     "AWS_SECRET_ACCESS_KEY", "access_token", "pwd", "SIGNING_KEY", "PASSPHRASE"]
)  # fmt: skip
BENIGN_KEY = st.one_of(
    NEUTRAL_KEY,
    st.sampled_from(["TOKENIZER", "MAX_TOKENS", "PASSWORD_MIN_LENGTH", "SECRET_NAME",
                     "TOKEN_URL", "SECRET_ARN", "PASSWORD_FILE", "KEY_ID"]),
)  # fmt: skip
BENIGN_VALUE = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.from_regex(r"\A[a-z]{2,10}(-[a-z0-9]{1,8}){0,3}\Z"),
    st.from_regex(r"\Ahttps://[a-z]{3,10}\.example\.com(/[a-z]{1,8}){0,3}\Z"),
    _fixed("0123456789abcdef", 40),
    _fixed("0123456789abcdef", 64),
    st.from_regex(r"\A(prod|dev|staging)/[a-z]{1,10}\Z"),
    st.from_regex(r"\A[a-z]{3,10}( [a-z]{3,10}){0,5}\Z"),
    st.sampled_from(["info", "debug", "true", "false", "bert-base-uncased", "eu-west-1"]),
)


@settings(max_examples=60, deadline=None)
@given(SHAPED, NEUTRAL_KEY)
def test_shaped_secrets_are_caught_under_a_neutral_key(secret: tuple[str, str], key: str) -> None:
    value, _ = secret
    assert secret_in_key(key, value) is not None
    [finding] = ms501(lint_env(key, value))
    assert finding.path == f"targets.dev.environment.{key}"


@settings(max_examples=40, deadline=None)
@given(SECRET_KEY_NAME, password)
def test_any_value_under_a_credential_key_is_caught(key: str, value: str) -> None:
    assert ms501(lint_env(key, value)), (key, value)


@settings(max_examples=40, deadline=None)
@given(SECRET_KEY_NAME, password)
def test_a_placeholder_with_text_around_it_is_not_a_reference(key: str, value: str) -> None:
    assert ms501(lint_env(key, "${x}" + value))
    assert ms501(lint_env(key, "${DB_PASSWORD}")) == []


@settings(max_examples=150, deadline=None)
@given(BENIGN_KEY, BENIGN_VALUE)
def test_benign_configuration_is_not_a_secret(key: str, value: str) -> None:
    assert secret_in_key(key, value) is None, (key, value)
    assert ms501(lint_env(key, value)) == []


def test_the_values_that_used_to_block_up_pass() -> None:
    for key, value in [("TOKENIZER", "bert-base-uncased"), ("MAX_TOKENS", "512"),
                       ("PASSWORD_MIN_LENGTH", "12"), ("SECRET_NAME", "prod/db"),
                       ("TOKEN_URL", "https://auth.example.com/token")]:  # fmt: skip
        assert ms501(lint_env(key, value)) == [], key


ECHO_CASES = st.one_of(
    SHAPED.map(lambda s: ("SETTING", *s)),
    password.map(lambda p: ("DB_PASS", p, p)),
)


@settings(max_examples=60, deadline=None)
@given(ECHO_CASES)
def test_no_output_format_contains_the_secret(case: tuple[str, str, str]) -> None:
    key, value, hidden = case
    diagnostics = lint_env(key, value)
    assert ms501(diagnostics)
    windows = {hidden[i : i + 8] for i in range(len(hidden) - 7)}
    for fmt, render in FORMATTERS.items():
        out = render(diagnostics, 1)
        assert [w for w in windows if w in out] == [], fmt


def test_an_access_key_id_used_as_a_key_is_caught_and_not_echoed() -> None:
    diagnostics = lint_env("AKIAQWERTYUIOPASDFGH", "x")
    [finding] = ms501(diagnostics)
    assert "AKIAQWERTYUIOPASDFGH" not in str(finding)
    assert finding.path == "targets.dev.environment.<an AWS access key id>"
    assert "key looks like an AWS access key id" in finding.message


def test_the_mask_shows_no_characters_of_the_secret() -> None:
    [finding] = ms501(lint_env("DB_PASS", "hunter2"))
    assert "hunt" not in str(finding) and "7 characters" not in str(finding)
    assert "a credential (its key names one: pass)" in finding.message
