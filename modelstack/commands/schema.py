"""`modelstack schema`: print the manifest's JSON schema (for editors and other tools)."""

from __future__ import annotations

import sys

from modelstack.resources import SCHEMA_FILE, data_path


def schema() -> int:
    sys.stdout.write(data_path("schemas", SCHEMA_FILE).read_text(encoding="utf-8"))
    return 0
