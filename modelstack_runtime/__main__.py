"""``python -m modelstack_runtime``: serve the model over HTTP on ``$HOST:$PORT``."""

from __future__ import annotations

import sys

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.http_server import serve


def main() -> int:
    try:
        return serve()
    except ConfigError as exc:
        print(f"modelstack-runtime: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
