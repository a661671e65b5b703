"""Run the Lambda handler under ``awslambdaric`` in images not based on the AWS Lambda image.

``python -m modelstack_runtime.lambda_bootstrap [HANDLER]``

The handler is the one Lambda names, as the AWS base images' runtime chooses it: the image's
``CMD`` (the first argument, which a function's ``ImageConfig.Command`` overrides), else the
``_HANDLER`` environment variable, else ``modelstack_runtime.lambda_handler.handler``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["HANDLER", "handler_name", "main"]

HANDLER: Final = "modelstack_runtime.lambda_handler.handler"


def handler_name(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The handler to run: CMD (``argv[1]``), then ``_HANDLER``, then the default."""
    if len(argv) > 1 and argv[1].strip():
        return argv[1].strip()
    return environ.get("_HANDLER", "").strip() or HANDLER


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv if argv is None else argv)
    try:
        from awslambdaric.__main__ import main as ric_main
    except ImportError:
        print(
            "awslambdaric is not installed; add it to the image: pip install awslambdaric",
            file=sys.stderr,
        )
        return 2
    ric_main([arguments[0] if arguments else "bootstrap", handler_name(arguments, os.environ)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
