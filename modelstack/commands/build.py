"""`modelstack build`: build the target's image, smoke-test it in a container, optionally push.

Steps: load the manifest -> verify the model and smoke cases -> render the build context and
its content tag -> build (skipped when the tag is already present) -> run the image locally
and run every smoke test against it -> with --push, push and record the digest reference.
A failing smoke test stops before the push and exits 1. These are the image steps of
`modelstack up` (`modelstack.deploy.pipeline`), shown through the same progress display.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from modelstack.deploy.pipeline import (
    BuildOptions,
    build_step,
    container_smoke_step,
    push_step,
)
from modelstack.deploy.progress import Progress
from modelstack.errors import UsageError
from modelstack.image.engine import docker_client
from modelstack.image.flavours import flavour_for
from modelstack.image.push import PushedImage
from modelstack.image.record import BuildRecord, write_record
from modelstack.image.steps import destination
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target
from modelstack.smoke.local import prepare_local
from modelstack.smoke.report import format_report


def build(
    manifest: str,
    *,
    target: str | None = None,
    push: bool = False,
    base_image: str | None = None,
    ca_bundle: str | None = None,
    quiet: bool = False,
    registry: str | None = None,
    fmt: str = "text",
    verbose: bool = False,
) -> int:
    """Exit 0 when the image is built and passes its smoke tests (and is pushed with --push)."""
    if registry and not push:
        raise UsageError("--registry only matters with --push")
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other; pass one of them")
    started = time.perf_counter()
    loaded = load_manifest(manifest)
    chosen = select_target(loaded, target)
    flavour = flavour_for(chosen)
    bundle = prepare_local(loaded)
    where = destination(loaded, chosen, registry) if push else None
    options = BuildOptions(base_image, ca_bundle, registry, verbose=verbose)
    progress = Progress(quiet=quiet)
    client = docker_client()
    try:
        try:
            image = build_step(client, loaded, chosen, bundle, options, progress)
            result = container_smoke_step(client, image, loaded, chosen, bundle, progress)
            pushed: PushedImage | None = None
            if result.report.passed and where is not None:
                pushed = push_step(client, image, where, progress)
        except BaseException as exc:
            progress.abort(str(exc))
            raise
    finally:
        client.close()
    record = BuildRecord(
        model=loaded.name,
        version=loaded.metadata.version,
        target=chosen.name,
        flavour=flavour.name,
        tag=image.tag,
        image_id=image.image_id,
        size_bytes=image.size_bytes,
        built=image.built,
        build_seconds=round(image.seconds, 3),
        cold_start_seconds=round(result.cold_start_s, 3),
        smoke_passed=result.report.passed,
        reference=pushed.reference if pushed else None,
        digest=pushed.digest if pushed else None,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        packed_model_sha256=image.packed_model_sha256,
    )
    path = write_record(loaded.directory, record)
    _print(
        record,
        format_report(result.report, "text", loaded.name),
        path,
        fmt,
        time.perf_counter() - started,
        push,
    )
    if not result.report.passed:
        print(
            "smoke tests failed in the container: nothing was pushed"
            if push
            else "smoke tests failed in the container",
            file=sys.stderr,
        )
        return 1
    return 0


def _print(
    record: BuildRecord, report: str, path: Path, fmt: str, seconds: float, push: bool
) -> None:
    if fmt == "json":
        print(json.dumps({**record.to_dict(), "record": str(path)}, indent=2, sort_keys=True))
        return
    print(report)
    rows = [
        ("image", f"{record.tag} ({'built' if record.built else 'unchanged'})"),
        ("size", f"{record.size_bytes / 2**20:.1f} MiB"),
        ("cold start", f"{record.cold_start_seconds:.2f} s"),
        ("pushed", record.reference or ("no: smoke tests failed" if push else "no (--push)")),
        ("record", str(path)),
        ("took", f"{seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
