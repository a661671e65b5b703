"""The minimal build context of one image, computed in memory and written only when needed.

    Dockerfile          rendered from templates/<flavour>.Dockerfile
    requirements.txt    the pinned requirements (+ build.python_packages)
    model/<stem>.onnx   the verified model's graph, packed for a fast start (`fast_start`)
    model/<stem>.weights    its weights, one aligned external data file (when it has any)
    app/modelstack_runtime/...   the runtime package, copied from the installed one
    runtime.json        the runtime config (paths relative to /opt/modelstack)
    ca.pem              the CA bundle for pip (builder stage only), when one is given

The content tag is computed from these entries before anything touches the build folder; the
packed model is made once per bundle and kept under `.modelstack/packed/`, so deciding that an
unchanged bundle needs no build costs a hash of the model and a few small files. The shipped
model itself never enters the context: the weights are in it (and in the image) once.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from modelstack.errors import UsageError
from modelstack.image.dockerfile import (
    APP_DIR,
    CA_FILE,
    MODEL_DIR,
    RUNTIME_CONFIG,
    DockerfileOptions,
    render_dockerfile,
    render_requirements,
)
from modelstack.image.fast_start import FastStart, evaluation_feeds, prepare_fast_start
from modelstack.image.flavours import Flavour
from modelstack.image.labels import LABEL_PREFIX, image_labels, provenance_labels
from modelstack.image.runtime_requirements import runtime_packages
from modelstack.image.tags import content_tag
from modelstack.manifest.model import Manifest
from modelstack.monitor.profile import with_reference_profile
from modelstack.processing.bundle import image_additions
from modelstack.providers import provider_for
from modelstack.runtime_config import runtime_config
from modelstack.smoke.local import LocalBundle

__all__ = ["BuildContext", "render_context", "resolve_ca_bundle", "runtime_package_dir"]

RUNTIME_PACKAGE: Final = "modelstack_runtime"
_CODE_SUFFIXES: Final = (".py", ".typed")


@dataclass(frozen=True)
class BuildContext:
    """The files of a build context (relative path -> bytes or a file to copy) and its tag."""

    files: dict[str, bytes | Path]
    tag: str
    flavour: Flavour
    base_image: str
    platform: str
    labels: dict[str, str] = field(default_factory=dict)
    """The content labels, rendered into the Dockerfile (and so covered by the tag)."""
    build_labels: dict[str, str] = field(default_factory=dict)
    """Provenance labels set by the engine at build time, outside the content tag."""
    fast_start: FastStart | None = None
    """The packed model and the measured prepacking choice."""

    def write(self, directory: Path) -> Path:
        """Write every file under `directory` (created if needed); returns `directory`."""
        for relative, content in self.files.items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                _link_or_copy(content, target)
            else:
                target.write_bytes(content)
            os.chmod(target, 0o644)  # readable by the image's non-root user
        return directory


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (a multi-GB model is not copied again
    to be sent to the engine), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def runtime_package_dir() -> Path:
    """The folder of the installed `modelstack_runtime` package (its source is shipped)."""
    import modelstack_runtime

    return Path(modelstack_runtime.__file__).resolve().parent


def resolve_ca_bundle(manifest: Manifest, cli_value: str | None) -> Path | None:
    """The CA bundle file: `--ca-bundle` as given, else `build.ca_bundle` inside the bundle."""
    if cli_value is not None:
        path = Path(cli_value).expanduser()
        if not path.is_file():
            raise UsageError(f"--ca-bundle {cli_value}: no such file")
        return path.resolve()
    relative = manifest.build.ca_bundle
    if relative is None:
        return None
    where = f"{manifest.path}: build.ca_bundle '{relative}'"
    if os.path.isabs(relative) or relative.startswith("~"):
        raise UsageError(
            f"{where} must be relative to the manifest's folder; pass a file elsewhere with "
            "--ca-bundle FILE"
        )
    root = manifest.directory
    resolved = (root / relative).resolve()
    if root not in resolved.parents:
        raise UsageError(
            f"{where} leads outside the manifest's folder ({resolved}); keep it inside {root} "
            "or pass it with --ca-bundle FILE"
        )
    if not resolved.is_file():
        raise UsageError(f"{where}: no such file in {root}")
    return resolved


def render_context(
    manifest: Manifest,
    target_name: str,
    flavour: Flavour,
    bundle: LocalBundle,
    *,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    runtime_source: Path | None = None,
) -> BuildContext:
    """Every file of the image's build context, and the content tag that names it."""
    base = base_image or manifest.build.base_image or flavour.default_base
    asked = manifest.runtime.optimize_at_build
    fast = prepare_fast_start(
        bundle, manifest.directory, evaluation_feeds(manifest, bundle), optimize=asked
    )
    packed = fast.packed
    model_files: dict[str, bytes | Path] = {f"{MODEL_DIR}/{p.name}": p for p in packed.files}
    model_name = f"{MODEL_DIR}/{packed.graph.name}"
    optimize = asked and fast.optimize is not None and fast.optimize.use
    optimized = f"{MODEL_DIR}/{packed.graph.stem}.optimized.onnx" if optimize else None
    target = manifest.targets[target_name]
    concurrency = provider_for(target).runtime_concurrency(target)
    config = runtime_config(
        manifest, model_name, bundle.cases, optimized_model_path=optimized,
        concurrency=concurrency, disable_prepacking=fast.prepacking.disable,
        routing=bundle.config.routing,
    )  # fmt: skip
    config = with_reference_profile(manifest, bundle, config)
    labels = image_labels(manifest, target_name, flavour.name, base)
    labels[f"{LABEL_PREFIX}.model.packed.sha256"] = packed.digest
    processing_labels, processing_packages = image_additions(bundle.config)
    labels.update(processing_labels)
    options = DockerfileOptions(
        base, labels, ca_bundle=ca_bundle is not None, optimize=optimize,
        packed_files=tuple(sorted(model_files)),
    )  # fmt: skip
    files: dict[str, bytes | Path] = {
        "Dockerfile": render_dockerfile(flavour, options).encode("utf-8"),
        "requirements.txt": render_requirements(
            flavour,
            base,
            (
                *manifest.build.python_packages,
                *processing_packages,
                *runtime_packages(manifest, target_name, flavour, base),
            ),
        ).encode("utf-8"),
        **model_files,
        RUNTIME_CONFIG: (json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n").encode(),
        **_runtime_files(runtime_source or runtime_package_dir()),
    }
    if ca_bundle is not None:
        files[CA_FILE] = ca_bundle.read_bytes()
    platform = manifest.build.platform
    tag = content_tag(manifest.metadata.name, files, {"platform": platform})
    return BuildContext(
        files=files,
        tag=tag,
        flavour=flavour,
        base_image=base,
        platform=platform,
        labels=labels,
        build_labels=provenance_labels(manifest.directory),
        fast_start=fast,
    )


def _runtime_files(package: Path) -> dict[str, bytes | Path]:
    if not (package / "__init__.py").is_file():
        raise UsageError(f"{package} is not the {RUNTIME_PACKAGE} package (no __init__.py)")
    files: dict[str, bytes | Path] = {}
    for path in sorted(package.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix in _CODE_SUFFIXES:
            relative = path.relative_to(package).as_posix()
            files[f"{APP_DIR}/{RUNTIME_PACKAGE}/{relative}"] = path.read_bytes()
    return files
