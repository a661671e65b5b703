"""The runtime configuration: one JSON file written by the image builder.

The file lives at ``$MODELSTACK_RUNTIME_CONFIG`` (default ``/opt/modelstack/runtime.json``).
Its keys are a contract with the image builder and the CLI; :meth:`RuntimeConfig.from_dict`
rejects unknown keys and wrong types with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from modelstack_runtime.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MAX_CONCURRENCY",
    "GRAPH_OPTIMIZATION_LEVELS",
    "RuntimeConfig",
    "load_config",
]

CONFIG_ENV: Final = "MODELSTACK_RUNTIME_CONFIG"
DEFAULT_CONFIG_PATH: Final = "/opt/modelstack/runtime.json"
GRAPH_OPTIMIZATION_LEVELS: Final = ("disable", "basic", "extended", "all")
DEFAULT_MAX_CONCURRENCY: Final = 4
"""Cloud Run's default ``concurrency``: infer requests one instance admits at once."""


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Settings of one runtime process; JSON keys are the field names."""

    model_name: str
    model_version: str
    model_path: str
    execution_providers: Sequence[str] = ("CPUExecutionProvider",)  # stored as a tuple
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    graph_optimization: str = "all"
    optimized_model_path: str | None = None
    disable_prepacking: bool = False
    """``session.disable_prepacking``: set at build time only when measured not slower."""
    warmup: bool = True
    warmup_request: Mapping[str, Any] | None = None
    max_request_bytes: int = 10 * 1024 * 1024
    socket_timeout_s: float = 10.0
    request_timeout_s: float = 30.0
    max_json_values: int = 1024 * 1024
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_connections: int = 64
    allow_non_finite: bool = False
    routing: Mapping[str, Any] | None = None
    """The `routing` object (see ``routing_config``): None serves the model alone."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "execution_providers", tuple(self.execution_providers))
        if self.graph_optimization not in GRAPH_OPTIMIZATION_LEVELS:
            raise ConfigError(
                f"graph_optimization: expected one of {list(GRAPH_OPTIMIZATION_LEVELS)}, "
                f"got {self.graph_optimization!r}"
            )
        for key in ("intra_op_threads", "inter_op_threads"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0, got {getattr(self, key)}")
        for key in (
            "max_request_bytes",
            "socket_timeout_s",
            "request_timeout_s",
            "max_json_values",
            "max_concurrency",
            "max_connections",
        ):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key}: must be > 0, got {getattr(self, key)}")
        if not self.model_name or "/" in self.model_name:
            raise ConfigError(f"model_name: must be non-empty without '/', got {self.model_name!r}")

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], base_dir: str | Path | None = None
    ) -> RuntimeConfig:
        """Build a config from parsed JSON; relative paths resolve against ``base_dir``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"runtime config: expected a JSON object, got {_json_type(data)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(
                f"runtime config: unknown key(s) {unknown}; known keys are {sorted(fields)}"
            )
        missing = [
            name
            for name, f in fields.items()
            if f.default is dataclasses.MISSING and name not in data
        ]
        if missing:
            raise ConfigError(f"runtime config: missing required key(s) {missing}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = _check_type(key, value)
        for key in ("model_path", "optimized_model_path"):
            if values.get(key) is not None and base_dir is not None:
                values[key] = str(Path(base_dir, values[key]))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form; ``from_dict(to_dict())`` gives an equal config."""
        data = dataclasses.asdict(self)
        data["execution_providers"] = list(self.execution_providers)
        if self.warmup_request is not None:
            data["warmup_request"] = dict(self.warmup_request)
        if self.routing is not None:
            data["routing"] = dict(self.routing)
        return data


def load_config(path: str | Path | None = None) -> RuntimeConfig:
    """Read the config from ``path``, else ``$MODELSTACK_RUNTIME_CONFIG``, else the default."""
    config_path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read runtime config {config_path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"runtime config {config_path} is not valid JSON: {exc}") from exc
    return RuntimeConfig.from_dict(data, base_dir=config_path.parent)


# key -> (accepted Python types, JSON type name for messages, nullable)
_TYPES: Final[dict[str, tuple[tuple[type, ...], str, bool]]] = {
    "model_name": ((str,), "string", False),
    "model_version": ((str,), "string", False),
    "model_path": ((str,), "string", False),
    "execution_providers": ((list,), "list of strings", False),
    "intra_op_threads": ((int,), "integer", False),
    "inter_op_threads": ((int,), "integer", False),
    "graph_optimization": ((str,), "string", False),
    "optimized_model_path": ((str,), "string", True),
    "disable_prepacking": ((bool,), "boolean", False),
    "warmup": ((bool,), "boolean", False),
    "warmup_request": ((dict,), "object", True),
    "max_request_bytes": ((int,), "integer", False),
    "socket_timeout_s": ((int, float), "number", False),
    "request_timeout_s": ((int, float), "number", False),
    "max_json_values": ((int,), "integer", False),
    "max_concurrency": ((int,), "integer", False),
    "max_connections": ((int,), "integer", False),
    "allow_non_finite": ((bool,), "boolean", False),
    "routing": ((dict,), "object", True),
}


def _check_type(key: str, value: Any) -> Any:
    types, name, nullable = _TYPES[key]
    if value is None and nullable:
        return None
    is_bool = isinstance(value, bool)
    if not isinstance(value, types) or (is_bool and bool not in types):
        raise ConfigError(f"runtime config: {key}: expected {name}, got {_json_type(value)}")
    if isinstance(value, list):
        if not value or not all(isinstance(p, str) for p in value):
            raise ConfigError(
                f"runtime config: {key}: expected a non-empty list of strings, got {value!r}"
            )
        return tuple(value)
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
