"""Run the Lambda handler under ``awslambdaric`` in images not based on the AWS Lambda image.

``python -m modelstack_runtime.lambda_bootstrap``
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = ["HANDLER", "main"]

HANDLER: Final = "modelstack_runtime.lambda_handler.handler"


def main() -> int:
    try:
        from awslambdaric.__main__ import main as ric_main
    except ImportError:
        print(
            "awslambdaric is not installed; add it to the image: pip install awslambdaric",
            file=sys.stderr,
        )
        return 2
    ric_main([sys.argv[0], HANDLER])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
