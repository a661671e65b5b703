"""`modelstack schema`: print the manifest's JSON schema, or a Markdown reference made from it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from modelstack.resources import SCHEMA_FILE, data_path, load_schema


def schema(fmt: str = "json") -> int:
    if fmt == "markdown":
        print(schema_reference(load_schema()))
    else:
        sys.stdout.write(data_path("schemas", SCHEMA_FILE).read_text(encoding="utf-8"))
    return 0


def schema_reference(root: Mapping[str, Any]) -> str:
    """A Markdown table of every manifest field: path, type, default and description."""
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for path, node in _fields(root, root, ""):
        default = json.dumps(node["default"]) if "default" in node else ""
        description = str(node.get("description", "")).replace("|", "\\|")
        lines.append(f"| `{path}` | {_type(node)} | {default} | {description} |")
    return "\n".join(lines)


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type(node: Mapping[str, Any]) -> str:
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _fields(
    root: Mapping[str, Any], node: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    node = _resolve(root, node)
    for name, child in node.get("properties", {}).items():
        child = _resolve(root, child)
        path = f"{prefix}{name}"
        if path.endswith(".provider") and prefix.startswith("targets.") and "const" in child:
            continue
        yield path, child
        yield from _fields(root, child, f"{path}.")
        if child.get("type") == "array" and "items" in child:
            yield from _fields(root, child["items"], f"{path}[].")
        extra = child.get("additionalProperties")
        if isinstance(extra, Mapping) and child.get("type") == "object":
            yield from _fields(root, extra, f"{path}.<name>.")
    for branch in node.get("allOf", []):
        then = _resolve(root, branch.get("then", {}))
        provider = branch.get("if", {}).get("properties", {}).get("provider", {}).get("const")
        label = f"{prefix}({provider})." if provider else prefix
        yield from _fields(root, then, label)
