"""`modelstack evaluate`: metrics, latency and size on the labelled data sets, and the gates."""

from __future__ import annotations

from pathlib import Path

from modelstack.evaluate import evaluate_manifest, format_evaluation
from modelstack.manifest import load_manifest


def evaluate(
    manifest_path: str,
    *,
    target: str | None = None,
    fmt: str = "text",
    output: str | None = None,
) -> int:
    """Exit 0 when every gate passes, 1 when one fails."""
    manifest = load_manifest(manifest_path)
    result = evaluate_manifest(manifest, target=target)
    text = format_evaluation(result, fmt)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        if fmt != "text":
            print(format_evaluation(result, "text"))
    else:
        print(text)
    return 0 if result.passed else 1
