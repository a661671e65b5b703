"""The part of a manifest that semantic rules can still check when the schema is broken.

One schema error must not hide every other finding. Values that break the schema are pruned
(with what holds them, up to the nearest mapping entry: a broken list item drops its list, so
list indexes stay those of the file) until what remains is valid; a value that only breaks a
numeric bound is kept, because it is typed and a rule may explain the platform's limit. When
only the document root is left broken (a required top-level key is missing), there is no
typed manifest.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from modelstack.manifest import schema_issues
from modelstack.manifest.model import Manifest, from_document
from modelstack.manifest.source import PathKey, Source
from modelstack.manifest.validator import SchemaIssue

__all__ = ["usable_manifest"]

MAX_PRUNE_ROUNDS = 16
"""Each round removes every broken value; removing one can break its parent (a required key)."""


def usable_manifest(source: Source, issues: list[SchemaIssue]) -> Manifest | None:
    """The typed manifest built from the valid part of `source`, or None if nothing is."""
    data: Any = source.data
    for _ in range(MAX_PRUNE_ROUNDS):
        broken = [i for i in issues if not i.out_of_range]
        if not broken:
            return from_document(dataclasses.replace(source, data=data))
        if data is source.data:
            data = copy.deepcopy(data)
        for issue in broken:
            target = _entry(issue.path)
            if not target:
                return None
            _remove(data, target)
        issues = schema_issues(dataclasses.replace(source, data=data))
    return None


def _entry(path: PathKey) -> PathKey:
    """The path of the mapping entry to remove for a problem at `path`."""
    while path and isinstance(path[-1], int):
        path = path[:-1]
    return path


def _remove(data: Any, path: PathKey) -> None:
    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return  # already removed with a parent
    if isinstance(node, dict):
        node.pop(path[-1], None)
