"""`modelstack serve`: the image's HTTP runtime on 127.0.0.1, for development."""

from __future__ import annotations

import sys

from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack_runtime.http_server import serve as serve_http


def serve(manifest_path: str, port: int = 8080, host: str = "127.0.0.1") -> int:
    """Serve until Ctrl-C or SIGTERM; exit 0 after a clean shutdown."""
    manifest = load_manifest(manifest_path)
    bundle = prepare_local(manifest)
    name = manifest.name
    print(
        f"serving {name} {manifest.metadata.version} on http://{host}:{port}\n"
        f"  curl http://{host}:{port}/v2/models/{name}\n"
        f"  curl -d @request.json http://{host}:{port}/v2/models/{name}/infer\n"
        "Ctrl-C stops.",
        file=sys.stderr,
    )
    return serve_http(bundle.config, host=host, port=port)
