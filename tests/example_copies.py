"""Private copies of the checkout's examples, without their deploy state.

`scripts/quickstart` deploys examples/iris and leaves its state (`.modelstack/`) beside the
manifest. A test that copied that state would start from a deployment it did not make, so every
test that needs an example copies it with `copy_example`, never with a plain copytree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from modelstack.deploy.state import STATE_DIR

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_example(name: str, destination: Path) -> Path:
    """Copy examples/<name> to `destination` without `.modelstack/`; returns `destination`."""
    shutil.copytree(
        EXAMPLES / name, destination, ignore=shutil.ignore_patterns(STATE_DIR, "__pycache__")
    )
    return destination
