from __future__ import annotations

import sys
from pathlib import Path

# The evaluation tests' bundle writer (tests/evaluate/evalbundle.py) is shared with these.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
