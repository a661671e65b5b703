"""`modelstack schema`: print the manifest's JSON schema, or a Markdown reference made from it,
or write a copy into a repository for editors that work offline."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from modelstack.atomic_write import write_atomically
from modelstack.errors import UsageError
from modelstack.resources import SCHEMA_FILE, data_path, load_schema

__all__ = ["SOURCE_REPOSITORY", "schema", "schema_reference", "schema_url", "write_schema"]

SOURCE_REPOSITORY = "https://github.com/modelstack/modelstack"
_RAW = "https://raw.githubusercontent.com/modelstack/modelstack"


def schema(fmt: str = "json", write: str | None = None) -> int:
    if write is not None:
        print(f"wrote {write_schema(Path(write))}")
    elif fmt == "markdown":
        print(schema_reference(load_schema()))
    else:
        sys.stdout.write(data_path("schemas", SCHEMA_FILE).read_text(encoding="utf-8"))
    return 0


def schema_url(version: str | None = None) -> str:
    """Where the installed version's schema is published: the file at its release tag."""
    return f"{_RAW}/v{version or _installed_version()}/schemas/{SCHEMA_FILE}"


def write_schema(path: Path) -> Path:
    """Copy the schema to `path` (a file, or a folder to put modelstack.v1.schema.json in)."""
    target = path / SCHEMA_FILE if path.is_dir() else path
    if not target.parent.is_dir():
        raise UsageError(f"no such folder: {target.parent}; create it first")
    text = data_path("schemas", SCHEMA_FILE).read_text(encoding="utf-8")
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def _installed_version() -> str:
    from modelstack._distribution import installed_version

    return installed_version()


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
        if provider:  # other conditions only tighten fields listed above
            yield from _fields(root, then, f"{prefix}({provider}).")
