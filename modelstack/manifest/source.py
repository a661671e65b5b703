"""Safe YAML loading that keeps the source position of every key and value.

A manifest is untrusted input. This module reads it as plain data (mappings, sequences, strings,
numbers, booleans, null) and nothing else: no Python object tags, no custom constructors. It
refuses files over a size bound, text that is not UTF-8, duplicate keys, documents nested too
deep, recursive aliases, and documents whose aliases expand into more values than any real
manifest has (the "billion laughs" attack).

Positions are kept 0-based here, exactly as PyYAML reports them; `Span.start()` converts them to
1-based editor positions, and that is the only place where the conversion happens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelstack.errors import (
    ManifestFileError,
    ManifestParseError,
    SourcePosition,
    UnsafeFileError,
)
from modelstack.manifest.files import read_regular
from modelstack.manifest.limits import MANIFEST_BYTES
from modelstack.manifest.secrets import redact

__all__ = [
    "MAX_DEPTH",
    "MAX_MANIFEST_BYTES",
    "MAX_VALUES",
    "PathKey",
    "Source",
    "Span",
    "load_source",
    "parse_source",
]

MAX_MANIFEST_BYTES = MANIFEST_BYTES.default
"""The default size limit of a manifest (a real one is a few kilobytes); the
MODELSTACK_MAX_MANIFEST_BYTES setting changes it."""

MAX_VALUES = 100_000
"""Documents that expand (through aliases) into more values than this are refused."""

MAX_DEPTH = 64
"""Documents nested deeper than this are refused (a real manifest is under 10 levels deep)."""

PathKey = tuple[str | int, ...]
"""The location of a value in the document: mapping keys and sequence indexes from the root."""

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
"""A `<<` key is kept as a plain key named '<<' (the schema then rejects it by name)."""
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True)
class Span:
    """A 0-based region of the source text, as PyYAML reports it."""

    line: int
    column: int
    end_line: int
    end_column: int

    def start(self, file: str) -> SourcePosition:
        """The 1-based start position, the form people and editors use."""
        return SourcePosition(file, self.line + 1, self.column + 1)


@dataclass
class Source:
    """A parsed YAML document: its plain data and where each part of it came from."""

    file: str
    text: str
    data: Any
    values: dict[PathKey, Span] = field(default_factory=dict)
    keys: dict[PathKey, Span] = field(default_factory=dict)

    def span(self, path: Sequence[str | int], *, key: bool = False) -> Span:
        """The span of the value at `path` (or of its key), else of its nearest known parent."""
        table = self.keys if key else self.values
        current: PathKey = tuple(path)
        while current:
            if current in table:
                return table[current]
            if current in self.values:
                return self.values[current]
            current = current[:-1]
        return self.values.get((), Span(0, 0, 0, 0))

    def position(self, path: Sequence[str | int], *, key: bool = False) -> SourcePosition:
        return self.span(path, key=key).start(self.file)


def load_source(path: str | os.PathLike[str]) -> Source:
    """Read and parse the YAML file at `path`, refusing non-regular, oversize or non-UTF-8 files.

    At most MODELSTACK_MAX_MANIFEST_BYTES plus one byte is read. A directory, device, FIFO or
    socket raises ManifestFileError (exit 2) without reading anything.
    """
    name = os.fspath(path)
    start = SourcePosition(name, 1, 1)
    try:
        raw = read_regular(name, MANIFEST_BYTES)
    except UnsafeFileError as exc:
        if exc.kind == UnsafeFileError.NOT_REGULAR:
            reason = f"{exc.reason}; give the path of a manifest file"
            raise ManifestFileError(reason, start) from None
        if exc.kind == UnsafeFileError.TOO_LARGE:
            raise ManifestParseError(
                f"{exc.reason}. Keep large data (smoke-test inputs, models) in separate files "
                "next to the manifest.",
                start,
            ) from None
        raise ManifestParseError(f"cannot read the manifest ({exc.reason})", start) from None
    return parse_source(raw, name)


def parse_source(raw: bytes | str, file: str = "<string>") -> Source:
    """Parse YAML text (bytes must be UTF-8) into a `Source`."""
    text = _decode(raw, file) if isinstance(raw, bytes) else raw
    if "\x00" in text:
        raise ManifestParseError(
            "the file contains NUL bytes; is it binary?", _pos(file, text, text.index("\x00"))
        )
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestParseError(
            f"invalid YAML: {problem}", SourcePosition(file, line + 1, column + 1)
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestParseError(f"invalid YAML: {exc}", SourcePosition(file, 1, 1)) from None
    source = Source(file=file, text=text, data=None)
    if node is None:
        raise ManifestParseError(
            "the file is empty; a manifest starts with 'apiVersion: modelstack.dev/v1'",
            SourcePosition(file, 1, 1),
        )
    source.data = _Builder(source).build(node, ())
    return source


def _check_depth(text: str, file: str) -> None:
    """Refuse deep nesting from the event stream, before composing.

    Composing a deeply nested document recurses once per level (in C with the libyaml loader,
    where too many levels crash the process), so the depth is measured on the flat event
    stream first.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event.start_mark, file)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # Newer libyaml builds stop at their own nesting limit while reading ahead.
        if "nesting depth" in str(exc.problem):
            raise _too_deep(exc.problem_mark, file) from None
        raise


def _too_deep(mark: Any, file: str) -> ManifestParseError:
    line, column = (mark.line, mark.column) if mark else (0, 0)
    return ManifestParseError(
        f"the document is nested more than {MAX_DEPTH} levels deep",
        Span(line, column, line, column).start(file),
    )


def _decode(raw: bytes, file: str) -> str:
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    raw = raw[bom:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        raise ManifestParseError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start + bom}); save it as UTF-8",
            _pos(file, prefix, len(prefix)),
        ) from None


def _pos(file: str, text: str, offset: int) -> SourcePosition:
    before = text[:offset]
    line = before.count("\n")
    column = offset - (before.rfind("\n") + 1)
    return SourcePosition(file, line + 1, column + 1)


def _span(node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(start.line, start.column, end.line, end.column)


class _Builder:
    """Turns a composed node tree into plain data, recording spans and counting values."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.open: set[int] = set()
        """Ids of the collection nodes being built: an alias to one of them is a cycle."""

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise ManifestParseError(
                f"the document expands to more than {MAX_VALUES:,} values; "
                "aliases that multiply content (a 'billion laughs' document) are refused",
                _span(node).start(self.source.file),
            )
        self.source.values.setdefault(path, _span(node))
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self._scalar(node)
        if node.tag != (_MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG):
            raise self._unsupported(node)
        if id(node) in self.open:
            raise ManifestParseError(
                "an alias refers to a mapping or list that contains it (a recursive document)",
                _span(node).start(self.source.file),
            )
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _unsupported(self, node: yaml.Node) -> ManifestParseError:
        return ManifestParseError(
            f"unsupported YAML tag '{node.tag}'; manifests hold plain data only",
            _span(node).start(self.source.file),
        )

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ManifestParseError(
                    "mapping keys must be plain strings", _span(key_node).start(self.source.file)
                )
            if key_node.tag not in _SCALAR_TAGS and key_node.tag != _MERGE_TAG:
                raise self._unsupported(key_node)
            key = str(key_node.value)
            child: PathKey = (*path, key)
            if key in result:
                first = self.source.keys[child].start(self.source.file)
                raise ManifestParseError(
                    f"duplicate key '{redact(key)}' (first defined at line {first.line}); "
                    "YAML keeps only one of them, so remove or rename the other",
                    _span(key_node).start(self.source.file),
                )
            self.source.keys[child] = _span(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._unsupported(node)
        if node.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return str(node.value)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, KeyError, IndexError):  # an explicit tag such as `!!int abc`
            kind = node.tag.rsplit(":", 1)[-1]
            raise ManifestParseError(
                f"'{redact(str(node.value))}' is not a valid {kind} (tagged !!{kind})",
                _span(node).start(self.source.file),
            ) from None
