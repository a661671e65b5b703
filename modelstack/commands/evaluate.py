"""`modelstack evaluate`: metrics, latency and size on the labelled data sets, and the gates."""

from __future__ import annotations

from pathlib import Path

from modelstack.deploy.state import StateStore
from modelstack.errors import UsageError
from modelstack.evaluate import evaluate_manifest, format_evaluation
from modelstack.evaluate.endpoints import endpoint_client
from modelstack.evaluate.recorded import recorded_scores
from modelstack.manifest import load_manifest
from modelstack.providers import provider_for


def evaluate(
    manifest_path: str,
    *,
    target: str | None = None,
    against: str | None = None,
    fmt: str = "text",
    output: str | None = None,
    stack: str | None = None,
    backend: str | None = None,
) -> int:
    """Exit 0 when every gate passes, 1 when one fails. With `against`, the model is reached
    through that target's deployed endpoint instead of in this process, and the result `up`
    recorded for the serving release (when this checkout has it) is the baseline, so
    `max_drop` catches drift since the deploy. `stack` and `backend` locate a cloud target's
    Pulumi stack."""
    manifest = load_manifest(manifest_path)
    if against is None:
        result = evaluate_manifest(manifest, target=target)
    else:
        chosen = manifest.targets.get(against)
        if (stack or backend) and chosen is not None and not provider_for(chosen).is_cloud:
            raise UsageError("--stack and --backend are for cloud targets")
        client = endpoint_client(manifest, against, stack=stack, backend=backend)
        try:
            store = StateStore(manifest.directory, against, stack)
            baseline = recorded_scores(store.load().stable, str(store.state_path))
            result = evaluate_manifest(manifest, target=against, client=client, baseline=baseline)
        finally:
            client.close()
    text = format_evaluation(result, fmt)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        if fmt != "text":
            print(format_evaluation(result, "text"))
    else:
        print(text)
    return 0 if result.passed else 1
