"""A cascade, evaluated: which model answers each row, the merged outputs, and their numbers.

Every model of the cascade (the entry's own, then each tier an escalation rule names) runs once
over the evaluation data; then, for a set of escalation rules, each row walks the rules in
order exactly as the runtime does with a one-row request (the runtime's own decision function
decides, so evaluation and serving cannot disagree), and takes the outputs of the model that
answered it. Trying another threshold only repeats the walk, not the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelstack.routing.spec import SELF

__all__ = [
    "SELF",
    "CascadeModel",
    "Decide",
    "answering",
    "merge_outputs",
]

Decide = Callable[[Any, Mapping[str, np.ndarray]], bool]
"""(escalation rule, one row's outputs of the model answering so far) -> escalate?"""


@dataclass(frozen=True)
class CascadeModel:
    """One model of the cascade and its outputs on every row of each data set."""

    name: str
    """`self` or the tier's name."""
    label: str
    """The model's manifest name (the v2 `model_name` it answers with)."""
    outputs: tuple[dict[str, np.ndarray], ...]


def _row(outputs: Mapping[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    return {name: array[i : i + 1] for name, array in outputs.items()}


def answering(
    rules: Sequence[Any],
    models: Mapping[str, CascadeModel],
    decide: Decide,
    dataset: int,
    rows: int,
) -> list[tuple[str, ...]]:
    """For each row of data set `dataset`, the models it visits: `self` first, then the tier of
    each rule that holds on the answer so far, until one does not; the last one answers it."""
    paths: list[tuple[str, ...]] = []
    for i in range(rows):
        path = [SELF]
        for rule in rules:
            if not decide(rule, _row(models[path[-1]].outputs[dataset], i)):
                break  # as the runtime: the first rule that does not hold ends the cascade
            path.append(rule.to)
        paths.append(tuple(path))
    return paths


def merge_outputs(
    models: Mapping[str, CascadeModel], chosen: Sequence[str], dataset: int
) -> dict[str, np.ndarray]:
    """Each output, row by row from the model that answered the row."""
    own = models[SELF].outputs[dataset]
    merged: dict[str, np.ndarray] = {}
    picks = np.asarray(chosen)
    for name, array in own.items():
        result = array.copy()
        for model in models.values():
            if model.name == SELF:
                continue
            mask = picks == model.name
            if mask.any():
                other = model.outputs[dataset].get(name)
                if other is None or other.shape[1:] != array.shape[1:]:
                    from modelstack.errors import EvaluationError

                    raise EvaluationError(
                        f"routing tier '{model.name}' ({model.label}) has no output '{name}' "
                        f"shaped like the entry's {list(array.shape[1:])}; a cascade's models "
                        "must answer with the same outputs"
                    )
                result = result.astype(np.result_type(result, other), copy=False)
                result[mask] = other[mask]
        merged[name] = result
    return merged
