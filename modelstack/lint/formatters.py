"""Output formats for diagnostics: text (like a compiler), json, github annotations, sarif."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

from modelstack.lint.diagnostic import Diagnostic

__all__ = ["FORMATTERS", "format_github", "format_json", "format_sarif", "format_text"]

_DOCS = "https://modelstack.dev/rules"
_SRCROOT = "SRCROOT"


def format_text(diagnostics: Sequence[Diagnostic], files: int) -> str:
    lines = [str(d) for d in diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    noun = "manifest" if files == 1 else "manifests"
    if diagnostics:
        lines.append(f"{errors} error(s), {warnings} warning(s) in {files} {noun}")
    else:
        lines.append(f"{files} {noun} checked, no problems")
    return "\n".join(lines)


def format_json(diagnostics: Sequence[Diagnostic], files: int) -> str:
    return json.dumps([d.to_dict() for d in diagnostics], indent=2, sort_keys=True)


def _escape_github(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def format_github(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """GitHub Actions workflow commands, shown as annotations on the pull request."""
    lines = []
    for d in diagnostics:
        props = (
            f"file={_escape_github(d.file, prop=True)},line={d.line},col={d.column},"
            f"endLine={d.end_line},endColumn={d.end_column},title={d.rule_id}"
        )
        lines.append(f"::{d.severity} {props}::{_escape_github(d.message)}")
    return "\n".join(lines)


def format_sarif(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """SARIF 2.1.0, for GitHub code scanning and other security dashboards."""
    from modelstack import __version__
    from modelstack.lint.rules import RULES_BY_ID

    root = Path.cwd().resolve()
    used = sorted({d.rule_id for d in diagnostics})
    rules = [
        {
            "id": rule_id,
            "name": RULES_BY_ID[rule_id].__name__,
            "shortDescription": {"text": RULES_BY_ID[rule_id].summary},
            "fullDescription": {"text": RULES_BY_ID[rule_id].description},
            "helpUri": f"{_DOCS}#{rule_id.lower()}",
            "defaultConfiguration": {"level": RULES_BY_ID[rule_id].severity},
        }
        for rule_id in used
    ]
    results = [
        {
            "ruleId": d.rule_id,
            "ruleIndex": used.index(d.rule_id),
            "level": d.severity,
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(d.file, root),
                        "region": {
                            "startLine": d.line,
                            "startColumn": d.column,
                            "endLine": d.end_line,
                            "endColumn": d.end_column,
                        },
                    }
                }
            ],
        }
        for d in diagnostics
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelstack",
                        "version": __version__,
                        "informationUri": _DOCS,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {_SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


def _artifact(file: str, root: Path) -> dict[str, str]:
    """A relative, percent-encoded URI against SRCROOT (the working directory) where possible.

    Code scanning resolves SRCROOT to the repository; a file outside it keeps an absolute
    file: URI.
    """
    path = Path(os.path.abspath(file))
    try:
        relative = path.relative_to(root)
    except ValueError:
        return {"uri": path.as_uri()}
    return {"uri": quote(relative.as_posix(), safe="/"), "uriBaseId": _SRCROOT}


FORMATTERS: dict[str, Callable[[Sequence[Diagnostic], int], str]] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
    "sarif": format_sarif,
}
