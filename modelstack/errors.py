"""Exceptions raised by modelstack, with one root.

    ModelstackError                 anything modelstack reports to its user (exit 1 unless noted)
     ├── UsageError                 a command was called wrongly (exit 2)
     ├── ManifestError              a manifest cannot be read or is invalid (exit 1)
     │    └── ManifestParseError    YAML that cannot be parsed, too big, not UTF-8, ...
     │         └── ManifestFileError  the manifest path is a directory, device, FIFO... (exit 2)
     ├── ModelError                 the ONNX model is missing, corrupt or does not match
     │    └── ExternalDataError     its external data lies outside the bundle
     ├── SmokeTestError             smoke tests failed (exit 1)
     ├── EvaluationError            an evaluation cannot run as asked (exit 2)
     │    └── DatasetError          a data set is missing, oversize, or does not fit the model
     ├── GateFailedError            an evaluation gate failed (exit 1)
     ├── CostError                  a traffic profile, price table or cost question is bad (exit 2)
     ├── UnsafeFileError            an input file is not a regular file or over its limit (exit 2)
     ├── DeployStateError           the deploy state under .modelstack/ is unreadable (exit 2)
     ├── MissingDependencyError     an optional extra is not installed (exit 2)
     └── InfrastructureError        Docker, a registry or a cloud API failed (exit 3)
          ├── DockerUnavailableError
          └── RegistryError

Every message is written for the person reading it: what is wrong, where, and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelstack._distribution import install_line

__all__ = [
    "CostError",
    "DatasetError",
    "DeployStateError",
    "DockerUnavailableError",
    "EvaluationError",
    "ExternalDataError",
    "GateFailedError",
    "InfrastructureError",
    "ManifestError",
    "ManifestFileError",
    "ManifestParseError",
    "MissingDependencyError",
    "ModelError",
    "ModelstackError",
    "RegistryError",
    "SmokeTestError",
    "UnsafeFileError",
    "UsageError",
]


class ModelstackError(Exception):
    """Root of every error that modelstack reports to its user."""

    exit_code: int = 1


class UsageError(ModelstackError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class ManifestError(ModelstackError):
    """A manifest cannot be read, or it is invalid."""


@dataclass(frozen=True)
class SourcePosition:
    """A 1-based position in a file, as editors and compilers show it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ManifestParseError(ManifestError):
    """The manifest file is not valid YAML, not UTF-8, too large, or unsafe to expand."""

    def __init__(self, message: str, position: SourcePosition) -> None:
        super().__init__(f"{position}: {message}")
        self.reason = message
        self.position = position


class ManifestFileError(ManifestParseError):
    """The manifest path names something other than a regular file."""

    exit_code = 2


class ModelError(ModelstackError):
    """The ONNX model is missing, unreadable, or disagrees with the manifest."""


class ExternalDataError(ModelError):
    """The model's external data files are missing or outside the bundle."""


class SmokeTestError(ModelstackError):
    """One or more smoke tests failed."""


class EvaluationError(ModelstackError):
    """An evaluation or optimisation cannot run as the manifest and arguments ask."""

    exit_code = 2


class GateFailedError(ModelstackError):
    """The model was evaluated and missed one of its evaluation gates."""


class UnsafeFileError(ModelstackError):
    """A file is not a regular file, cannot be opened, or is larger than its limit allows.

    `reason` says why without the path, so that callers can place it (a manifest position, a
    smoke test's name) and re-raise it as their own error.
    """

    exit_code = 2

    NOT_REGULAR = "not-regular"
    TOO_LARGE = "too-large"
    UNREADABLE = "unreadable"

    def __init__(self, path: str, reason: str, kind: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.kind = kind
        """One of NOT_REGULAR, TOO_LARGE and UNREADABLE."""


class DeployStateError(ModelstackError):
    """A deploy state or history file is unreadable; the message says how to repair it."""

    exit_code = 2


class CostError(ModelstackError):
    """A traffic profile, a price table or the question asked of the cost model is bad."""

    exit_code = 2


class DatasetError(EvaluationError):
    """A data set is missing, oversize, unreadable, or does not fit the model."""


class MissingDependencyError(ModelstackError):
    """An optional dependency is not installed; the message says what to install."""

    exit_code = 2

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the '{extra}' extra, which is not installed. "
            f"Install it with: {install_line(extra)}"
        )
        self.extra = extra


class InfrastructureError(ModelstackError):
    """Docker, a registry or a cloud API failed."""

    exit_code = 3


class DockerUnavailableError(InfrastructureError):
    """The Docker engine cannot be reached."""


class RegistryError(InfrastructureError):
    """A container registry refused or failed an operation."""
