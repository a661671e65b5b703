"""`modelstack evaluate`: metrics, latency and size on the labelled data sets, and the gates."""

from __future__ import annotations

from pathlib import Path

from modelstack.deploy.state import StateStore
from modelstack.errors import UsageError
from modelstack.evaluate import evaluate_manifest, format_evaluation
from modelstack.evaluate.endpoints import endpoint_client
from modelstack.evaluate.recorded import recorded_scores
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest
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
    sweep: str | None = None,
) -> int:
    """Exit 0 when every gate passes, 1 when one fails. With `against`, the model is reached
    through that target's deployed endpoint instead of in this process, and the result `up`
    recorded for the serving release (when this checkout has it) is the baseline, so
    `max_drop` catches drift since the deploy. `stack` and `backend` locate a cloud target's
    Pulumi stack. A manifest with `routing.escalate` is evaluated as its cascade (`sweep`:
    `CONDITION=START:STOP[:STEP]` also tries each threshold of the first rule)."""
    manifest = load_manifest(manifest_path)
    routing = manifest.source.data.get("routing") or {}
    if against is None and routing.get("escalate"):
        return _evaluate_cascade(manifest, target=target, sweep=sweep, fmt=fmt, output=output)
    if sweep is not None:
        raise UsageError(
            "--sweep evaluates a cascade: it needs a manifest with routing.escalate rules, "
            "evaluated in this process (without --against)"
        )
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


def _evaluate_cascade(
    manifest: Manifest, *, target: str | None, sweep: str | None, fmt: str, output: str | None
) -> int:
    from modelstack.routing.cascade_eval_report import CASCADE_FORMATS, format_cascade
    from modelstack.routing.cascade_eval_run import evaluate_cascade, runtime_decision
    from modelstack.routing.cascade_eval_sweep import parse_sweep
    from modelstack.routing.spec import ESCALATE_CONDITIONS, parse_routing

    if fmt not in CASCADE_FORMATS:
        raise UsageError(f"a cascade's evaluation is reported as {' or '.join(CASCADE_FORMATS)}")
    chosen = parse_sweep(sweep, ESCALATE_CONDITIONS) if sweep is not None else None
    routing = parse_routing(manifest.source.data.get("routing"), manifest.directory)
    result = evaluate_cascade(manifest, routing, runtime_decision, target=target, sweep=chosen)
    text = format_cascade(result, fmt)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        if fmt != "text":
            print(format_cascade(result, "text"))
    else:
        print(text)
    return 0 if result.passed else 1
