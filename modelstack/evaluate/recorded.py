"""Evaluation results recorded with a release: what `up` stores, and the baseline it reads
back for the next version's relative gates (`max_drop`, `min_improvement_pct`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from modelstack.deploy.release import Release
from modelstack.errors import DeployStateError
from modelstack.evaluate.runner import EvaluationResult
from modelstack.evaluate.scoring import ModelScores

__all__ = ["record_of", "recorded_scores"]


def record_of(result: EvaluationResult | None) -> dict[str, Any] | None:
    """What a release keeps of its evaluation: the scores (metrics, latency, size)."""
    return None if result is None else result.candidate.to_dict()


def recorded_scores(release: Release | None, where: str) -> ModelScores | None:
    """The scores recorded with `release` (the serving one), labelled with its version; None
    when there is no release or it was deployed without an evaluation. `where` names the
    state file for the error when the record cannot be read."""
    if release is None or release.evaluation is None:
        return None
    try:
        scores = ModelScores.from_dict(release.evaluation)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DeployStateError(
            f"the evaluation recorded with version {release.version} in {where} is "
            f"unreadable ({exc!r}); remove its 'evaluation' entry to evaluate without a "
            "baseline, or restore the file from history.jsonl"
        ) from None
    return dataclasses.replace(scores, model=f"serving version {release.version}")
