"""From ModelServiceArgs to a checked ServiceSpec: the manifest loaded and linted, the target
chosen, the image parsed, the traffic settings validated. Everything here runs before any
resource is registered, so bad input fails fast with a message and no partial stack."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from modelstack.errors import ManifestError, UsageError
from modelstack.manifest import load_manifest, targets
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget, Manifest
from modelstack.providers import provider_for
from modelstack.pulumi.args import ModelServiceArgs, SmokeRunner
from modelstack.pulumi.image import ImageRef, parse_image, placeholder_image
from modelstack.pulumi.naming import base_name

__all__ = [
    "CloudTarget",
    "ServiceOutputs",
    "ServiceSpec",
    "load_checked_manifest",
    "resolve",
    "select_target",
]

CloudTarget = AwsLambdaTarget | CloudRunTarget
_T = TypeVar("_T")


@dataclass(frozen=True)
class ServiceSpec:
    """Checked input for the resource builders."""

    manifest: Manifest
    target_name: str
    target: CloudTarget
    image: ImageRef
    base: str
    candidate_percent: int
    stable_version: str | None
    memory_mb: int | None
    smoke_gate: bool
    smoke_runner: SmokeRunner | None
    alarm_actions: tuple[str, ...]
    registry_only: bool = False
    deletion_protection: bool | None = None
    image_output: Any = None
    """A `pulumi.Output[str]` (the checked reference) when the image was given as an Output;
    `image` is a placeholder then."""

    @property
    def image_input(self) -> Any:
        """The image reference to deploy: a str, or the Output it was given as."""
        return str(self.image) if self.image_output is None else self.image_output

    def from_image(self, derive: Callable[[ImageRef], _T]) -> _T | Any:
        """`derive(image)` now for a plain image; for an Output, an Output of it, computed
        from the checked reference when it resolves."""
        if self.image_output is None:
            return derive(self.image)
        return self.image_output.apply(lambda ref: derive(parse_image(ref)))

    @property
    def splits_traffic(self) -> bool:
        """True when both a stable version and the candidate receive traffic."""
        return self.stable_version is not None and 0 < self.candidate_percent < 100


def _lint_errors(path: Path) -> list[str]:
    """Error-level lint findings, as text."""
    from modelstack.lint import lint_file

    return [str(d) for d in lint_file(path) if d.severity == "error"]


def load_checked_manifest(
    manifest: str | os.PathLike[str] | Manifest, *, lint: bool = True
) -> Manifest:
    """Load (if given a path) and lint a manifest; refuse it when lint reports errors."""
    path = manifest.path if isinstance(manifest, Manifest) else Path(manifest)
    if lint:
        errors = _lint_errors(path)
        if errors:
            raise ManifestError(
                f"{path} has {len(errors)} lint error(s); fix them before deploying:\n  "
                + "\n  ".join(errors)
            )
    return manifest if isinstance(manifest, Manifest) else load_manifest(path)


def select_target(manifest: Manifest, name: str | None) -> tuple[str, CloudTarget]:
    """The named cloud target, or the only cloud target when `name` is None."""
    target = targets.select_target(manifest, name, default="cloud")
    if not provider_for(target).is_cloud:
        raise UsageError(
            f"target {target.name!r} is a local target, which runs on Docker (`modelstack up`), "
            f"not through Pulumi; targets: {targets.describe_targets(manifest)}"
        )
    return target.name, cast(CloudTarget, target)  # is_cloud: one of the cloud providers' types


def _image(value: Any) -> tuple[ImageRef, Any]:
    """A str is parsed now; an Output is checked when it resolves."""
    if isinstance(value, str):
        return parse_image(value), None
    import pulumi

    checked = pulumi.Output.from_input(value).apply(lambda ref: str(parse_image(str(ref))))
    return placeholder_image("pending-output"), checked


def resolve(args: ModelServiceArgs) -> ServiceSpec:
    """Check the arguments and the manifest; raise a ModelstackError naming any problem."""
    image, image_output = _image(args.image)
    if not 0 <= args.candidate_percent <= 100:
        raise UsageError(f"candidate_percent must be 0-100, not {args.candidate_percent}")
    if args.memory_mb is not None and args.memory_mb <= 0:
        raise UsageError(f"memory_mb must be positive, not {args.memory_mb}")
    manifest = load_checked_manifest(args.manifest, lint=args.lint)
    target_name, target = select_target(manifest, args.target)
    stable = args.stable_version or None
    spec = ServiceSpec(
        manifest=manifest,
        target_name=target_name,
        target=target,
        image=image,
        base=base_name(manifest, target_name, args.name),
        candidate_percent=args.candidate_percent,
        stable_version=stable,
        memory_mb=args.memory_mb,
        smoke_gate=args.smoke_gate,
        smoke_runner=args.smoke_runner,
        alarm_actions=tuple(args.alarm_actions),
        registry_only=args.registry_only,
        deletion_protection=args.deletion_protection,
        image_output=image_output,
    )
    provider_for(target).check_spec(spec)
    return spec


@dataclass(frozen=True)
class ServiceOutputs:
    """What a builder hands back to the component (values may be pulumi Outputs)."""

    endpoint: Any
    candidate_address: Any
    candidate_version: Any
    stable_version: Any
    registry: Any
    resource_names: dict[str, Any]

    @classmethod
    def registry_only(cls, registry: Any, repository: Any) -> ServiceOutputs:
        """The outputs of a registry-only deployment: nothing serves yet."""
        return cls(
            endpoint="",
            candidate_address={},
            candidate_version="",
            stable_version="",
            registry=registry,
            resource_names={"repository": repository},
        )
