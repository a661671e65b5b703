"""A small JSON Schema (2020-12) validator for the manifest schema, written for people.

It supports exactly the keywords that `schemas/modelstack.v1.schema.json` uses (a test pins
the list) and produces one message per problem, meant to be read: enums list the allowed values,
unknown keys get the closest valid key, patterns quote the field's description. It is also much
faster to import than a general validator, which matters for a pre-commit hook. The general
`jsonschema` package checks the same schema in the test suite, and both must agree.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from modelstack.manifest.secrets import redact, secret_in_key, show_value
from modelstack.manifest.source import PathKey

__all__ = ["SUPPORTED_KEYWORDS", "SchemaIssue", "validate"]

SUPPORTED_KEYWORDS = frozenset(
    {
        # assertions
        "type", "enum", "const", "properties", "required", "additionalProperties",
        "propertyNames", "items", "minItems", "maxItems", "minProperties", "minimum",
        "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern",
        "$ref", "allOf", "if", "then", "oneOf",
        # annotations
        "$schema", "$id", "$defs", "title", "description", "default", "x-lint-rule",
    }
)  # fmt: skip

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@dataclass(frozen=True)
class SchemaIssue:
    """One way in which a document breaks the schema."""

    path: PathKey
    message: str
    at_key: bool = False
    """True when the issue is about a mapping key itself (an unknown key), not its value."""
    out_of_range: bool = False
    """True when only a numeric bound is broken: the value has its type and typed code can
    still read it (a semantic rule may then explain the platform's limit better)."""
    lint_rule: str = ""
    """The lint rule that explains this bound (the schema's `x-lint-rule`): a platform limit
    that lint reports, which loading a manifest for other commands leaves to lint."""


def validate(document: Any, schema: Mapping[str, Any]) -> list[SchemaIssue]:
    """Every schema issue in `document`, in document order."""
    return list(_Validator(schema).check(document, schema, ()))


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, expected: str) -> bool:
    actual = _type_of(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _show(value: Any, path: PathKey = ()) -> str:
    """A value as a message may quote it: short, and never a secret's characters."""
    if isinstance(value, str):
        key = path[-1] if path and isinstance(path[-1], str) else ""
        shown = show_value(key, value)
    elif isinstance(value, bool):
        shown = str(value).lower()
    elif value is None:
        shown = "null"
    elif isinstance(value, (dict, list)):
        noun = ("entry", "entries") if isinstance(value, dict) else ("item", "items")
        shown = f"{len(value)} {noun[len(value) != 1]}"  # its contents may hold a secret
    else:
        key = path[-1] if path and isinstance(path[-1], str) else ""
        shown = show_value(key, str(value)).strip("'")
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _where(path: PathKey) -> str:
    return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


class _Validator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            node: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def check(self, value: Any, schema: Mapping[str, Any], path: PathKey) -> Iterator[SchemaIssue]:
        schema = self.resolve(schema)
        if "const" in schema and value != schema["const"]:
            yield self._const(value, schema, path)
            return
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(value, t) for t in types):
                wanted = " or ".join(_TYPE_NAMES[t] for t in types)
                got = _TYPE_NAMES.get(_type_of(value), _type_of(value))
                yield SchemaIssue(path, f"expected {wanted}, got {got} ({_show(value, path)})")
                return
        if "enum" in schema and value not in schema["enum"]:
            yield self._enum(value, schema, path)
            return
        if isinstance(value, dict):
            yield from self._object(value, schema, path)
        elif isinstance(value, list):
            yield from self._array(value, schema, path)
        elif isinstance(value, str):
            yield from self._string(value, schema, path)
        elif _is_type(value, "number"):
            yield from self._number(value, schema, path)
        yield from self._combinators(value, schema, path)

    def _const(self, value: Any, schema: Mapping[str, Any], path: PathKey) -> SchemaIssue:
        name = path[-1] if path else "value"
        return SchemaIssue(
            path, f"unsupported {name} {_show(value, path)}; supported: {_show(schema['const'])}"
        )

    def _enum(self, value: Any, schema: Mapping[str, Any], path: PathKey) -> SchemaIssue:
        allowed = schema["enum"]
        message = f"{_show(value, path)} is not allowed; use one of: {', '.join(map(str, allowed))}"
        if isinstance(value, str) and not secret_in_key(str(path[-1]) if path else "", value):
            close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1, cutoff=0.6)
            if close:
                message += f". Did you mean '{close[0]}'?"
        return SchemaIssue(path, message)

    def _object(
        self, value: dict[str, Any], schema: Mapping[str, Any], path: PathKey
    ) -> Iterator[SchemaIssue]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                hint = self.resolve(properties.get(key, {})).get("description", "")
                where = f" in {_where(path)}" if path else ""
                yield SchemaIssue(
                    path, f"missing required key '{key}'{where}" + (f": {hint}" if hint else "")
                )
        if len(value) < schema.get("minProperties", 0):
            yield SchemaIssue(path, f"needs at least {schema['minProperties']} entry")
        additional = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for key, item in value.items():
            child = (*path, key)
            if names and not _pattern(names["pattern"]).search(key):
                yield SchemaIssue(
                    child, f"invalid name '{redact(key)}': {_name_rule(names)}", at_key=True
                )
            elif key in properties:
                yield from self.check(item, properties[key], child)
            elif additional is False:
                yield SchemaIssue(child, _unknown_key(key, list(properties)), at_key=True)
            elif isinstance(additional, Mapping):
                yield from self.check(item, additional, child)

    def _array(
        self, value: list[Any], schema: Mapping[str, Any], path: PathKey
    ) -> Iterator[SchemaIssue]:
        if len(value) < schema.get("minItems", 0):
            yield SchemaIssue(path, f"needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield SchemaIssue(path, f"has {len(value)} items; at most {schema['maxItems']}")
        if "items" in schema:
            for index, item in enumerate(value):
                yield from self.check(item, schema["items"], (*path, index))

    def _string(
        self, value: str, schema: Mapping[str, Any], path: PathKey
    ) -> Iterator[SchemaIssue]:
        if len(value) < schema.get("minLength", 0):
            yield SchemaIssue(path, "must not be empty")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield SchemaIssue(
                path, f"is {len(value)} characters long; at most {schema['maxLength']}"
            )
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            hint = schema.get("description", f"it must match {schema['pattern']}")
            yield SchemaIssue(path, f"{_show(value, path)} is not valid here. {hint}")

    def _number(
        self, value: float, schema: Mapping[str, Any], path: PathKey
    ) -> Iterator[SchemaIssue]:
        shown = _show(value, path)
        rule = str(schema.get("x-lint-rule", ""))
        if "minimum" in schema and value < schema["minimum"]:
            message = f"{shown} is too small; the minimum is {schema['minimum']}"
            yield SchemaIssue(path, message, out_of_range=True, lint_rule=rule)
        if "maximum" in schema and value > schema["maximum"]:
            message = f"{shown} is too large; the maximum is {schema['maximum']}"
            yield SchemaIssue(path, message, out_of_range=True, lint_rule=rule)
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            message = f"must be greater than {schema['exclusiveMinimum']}"
            yield SchemaIssue(path, message, out_of_range=True, lint_rule=rule)

    def _combinators(
        self, value: Any, schema: Mapping[str, Any], path: PathKey
    ) -> Iterator[SchemaIssue]:
        for sub in schema.get("allOf", []):
            yield from self.check(value, sub, path)
        if "if" in schema and not any(True for _ in self.check(value, schema["if"], path)):
            yield from self.check(value, schema.get("then", {}), path)
        if "oneOf" in schema:
            branches = schema["oneOf"]
            matched = sum(1 for b in branches if not any(True for _ in self.check(value, b, path)))
            if matched != 1:
                yield SchemaIssue(path, _one_of_message(branches, matched))


def _unknown_key(key: str, allowed: list[str]) -> str:
    if redact(key) != key:
        return f"unknown key {redact(key)}; allowed keys here: {', '.join(sorted(allowed))}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key '{key}'. Did you mean '{close[0]}'?"
    return f"unknown key '{key}'; allowed keys here: {', '.join(sorted(allowed))}"


def _name_rule(names: Mapping[str, Any]) -> str:
    return str(names.get("description", f"names must match {names['pattern']}"))


def _one_of_message(branches: list[Mapping[str, Any]], matched: int) -> str:
    keys = [b["required"][0] for b in branches if list(b) == ["required"]]
    if len(keys) == len(branches):
        listed = " or ".join(f"'{k}'" for k in keys)
        return f"give {listed}" if matched == 0 else f"give only one of {listed}, not both"
    return "does not match exactly one of the allowed forms"
