"""Only `modelstack/providers/` may ask which provider a target belongs to.

Everything else goes through `provider_for(target)` and the `Provider` protocol, so that adding
a provider, or a capability to all of them, touches one folder per provider. The check reads
the syntax tree of every module: no isinstance (or match) against a target class, no
comparison with a provider name, no comparison of a `.provider` attribute.
"""

from __future__ import annotations

import ast
from pathlib import Path

from modelstack.providers import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "modelstack"
TARGET_CLASSES = frozenset(p.target_type.__name__ for p in PROVIDERS.values())
PROVIDER_NAMES = frozenset(PROVIDERS)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _classes(node: ast.expr) -> list[str]:
    """The class names an isinstance() second argument names (a tuple, a union, a name)."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for e in node.elts for n in _classes(e)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _classes(node.left) + _classes(node.right)
    name = _name(node)
    return [name] if name else []


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def provider_checks(source: str, filename: str = "<source>") -> list[str]:
    """Every place in `source` that tests which provider a target is, as `file:line: what`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and _name(node.func) == "isinstance" and len(node.args) == 2:
            hits = TARGET_CLASSES.intersection(_classes(node.args[1]))
            found += [f"{where}: isinstance against {h}" for h in sorted(hits)]
        elif isinstance(node, ast.MatchClass) and _name(node.cls) in TARGET_CLASSES:
            found.append(f"{where}: match against {_name(node.cls)}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = PROVIDER_NAMES.intersection(s for o in operands for s in _strings(o))
            found += [f"{where}: comparison with {n!r}" for n in sorted(names)]
            if any(isinstance(o, ast.Attribute) and o.attr == "provider" for o in operands):
                found.append(f"{where}: comparison of .provider")
    return found


def _hits_outside_the_providers() -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if PACKAGE / "providers" in path.parents:
            continue
        name = str(path.relative_to(ROOT))
        found = provider_checks(path.read_text(encoding="utf-8"), name)
        if found:
            hits[name] = found
    return hits


def test_no_module_outside_the_providers_tests_the_provider() -> None:
    found = [hit for lines in _hits_outside_the_providers().values() for hit in lines]
    assert found == [], "ask provider_for(target) instead:\n" + "\n".join(found)


def test_the_check_sees_each_kind_of_provider_test() -> None:
    source = """
if isinstance(target, AwsLambdaTarget): pass
if isinstance(target, (LocalTarget, int)): pass
if isinstance(target, model.CloudRunTarget | None): pass
if target.provider == "x": pass
if "gcp-cloud-run" != kind: pass
if kind in ("local", "other"): pass
match target:
    case LocalTarget(): pass
if isinstance(target, dict) and target.name == "aws": pass
"""
    assert [hit.split(": ", 1)[1] for hit in provider_checks(source)] == [
        "isinstance against AwsLambdaTarget",
        "isinstance against LocalTarget",
        "isinstance against CloudRunTarget",
        "comparison of .provider",
        "comparison with 'gcp-cloud-run'",
        "comparison with 'local'",
        "match against LocalTarget",
    ]


def test_every_provider_is_registered_under_its_own_name() -> None:
    assert {name: p.name for name, p in PROVIDERS.items()} == {n: n for n in PROVIDERS}
    assert len(TARGET_CLASSES) == len(PROVIDERS)
