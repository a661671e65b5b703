"""The routing table shared by the local engine (writer) and the router (reader).

It is a small JSON file, replaced atomically, with a generation number so the engine can wait
until the router has applied a change before it counts on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelstack.atomic_write import write_atomically

__all__ = ["Revision", "Routes", "read_routes", "write_routes"]


@dataclass(frozen=True)
class Revision:
    """One release's containers: HTTP backends, or a Lambda Runtime API port they poll."""

    version: str
    weight: int
    backends: tuple[str, ...] = ()
    runtime_api_port: int | None = None


@dataclass(frozen=True)
class Routes:
    flavour: str
    function_name: str
    generation: int = 0
    revisions: tuple[Revision, ...] = field(default_factory=tuple)

    def revision(self, version: str) -> Revision | None:
        return next((r for r in self.revisions if r.version == version), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "function_name": self.function_name,
            "generation": self.generation,
            "revisions": [
                {"version": r.version, "weight": r.weight, "backends": list(r.backends),
                 "runtime_api_port": r.runtime_api_port}
                for r in self.revisions
            ],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Routes:
        return cls(
            flavour=str(data["flavour"]),
            function_name=str(data["function_name"]),
            generation=int(data.get("generation", 0)),
            revisions=tuple(
                Revision(
                    str(r["version"]),
                    int(r["weight"]),
                    tuple(r.get("backends", ())),
                    r.get("runtime_api_port"),
                )
                for r in data.get("revisions", [])
            ),
        )


def read_routes(path: Path) -> Routes | None:
    try:
        return Routes.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def write_routes(path: Path, routes: Routes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(routes.to_dict(), indent=2))
