"""`modelstack serve`: the image's HTTP runtime on 127.0.0.1, for development."""

from __future__ import annotations

import errno
import sys

from modelstack.errors import SmokeTestError, UsageError
from modelstack.manifest import load_manifest
from modelstack.smoke.local import LocalBundle, prepare_local
from modelstack_runtime.http_server import serve as serve_http

_PORT_PROBLEMS = {
    errno.EADDRINUSE: "is already in use (another server, or an earlier `modelstack serve`?)",
    errno.EACCES: "needs privileges on this machine (ports below 1024 usually do)",
    errno.EADDRNOTAVAIL: "cannot be bound on this host",
}


def serve(manifest_path: str, port: int = 8080, host: str = "127.0.0.1") -> int:
    """Serve until Ctrl-C or SIGTERM; exit 0 after a clean shutdown."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port; choose one from 1 to 65535")
    manifest = load_manifest(manifest_path)
    bundle = prepare_local(manifest)
    _check_warmup(manifest_path, bundle)
    name = manifest.name
    print(
        f"serving {name} {manifest.metadata.version} on http://{host}:{port}\n"
        f"  curl http://{host}:{port}/v2/models/{name}\n"
        f"  curl -d @request.json http://{host}:{port}/v2/models/{name}/infer\n"
        "Ctrl-C stops.",
        file=sys.stderr,
    )
    try:
        return serve_http(bundle.config, host=host, port=port)
    except OSError as exc:
        problem = _PORT_PROBLEMS.get(exc.errno or 0)
        if problem is None:
            raise
        raise UsageError(f"port {port} on {host} {problem}; choose another with --port") from None


def _check_warmup(manifest_path: str, bundle: LocalBundle) -> None:
    """Fail before listening when the model fails on its warm-up input (a smoke test's)."""
    if not bundle.config.warmup or bundle.config.warmup_request is None:
        return
    from modelstack_runtime.dataplane import load_dataplane
    from modelstack_runtime.errors import BadRequest
    from modelstack_runtime.model import WarmupFailed

    try:
        load_dataplane(bundle.config)
    except (WarmupFailed, BadRequest) as exc:
        raise SmokeTestError(
            f"{manifest_path}: warm-up failed: {str(exc).rstrip()}. "
            f"`modelstack test {manifest_path}` reports the failing case"
        ) from None
