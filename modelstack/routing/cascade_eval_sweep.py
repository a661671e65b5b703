"""`--sweep CONDITION=START:STOP[:STEP]`: the thresholds a cascade is evaluated at.

`max_prob_below=0.5:0.99` evaluates the first escalation rule with `max_prob_below` at 0.50,
0.55, ..., 0.95 (STEP defaults to 0.05; STOP is included when the steps land on it). At most
:data:`MAX_SWEEP_POINTS` thresholds, so a typo cannot start a long run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from modelstack.errors import UsageError

__all__ = ["DEFAULT_STEP", "MAX_SWEEP_POINTS", "Sweep", "parse_sweep"]

DEFAULT_STEP: Final = 0.05
MAX_SWEEP_POINTS: Final = 1000


@dataclass(frozen=True)
class Sweep:
    condition: str
    thresholds: tuple[float, ...]


def _number(text: str, what: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--sweep {flag}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--sweep {flag}: {what} must be a finite number, not {text!r}")
    return value


def parse_sweep(text: str, conditions: tuple[str, ...]) -> Sweep:
    """The sweep `text` asks for; UsageError naming what is wrong and the expected form."""
    form = "expected CONDITION=START:STOP[:STEP], e.g. max_prob_below=0.5:0.99"
    condition, sep, spec = text.partition("=")
    condition = condition.strip()
    if not sep or not condition:
        raise UsageError(f"--sweep {text!r}: {form}")
    if condition not in conditions:
        raise UsageError(
            f"--sweep {text!r}: {condition!r} is not an escalation condition; "
            f"use one of {', '.join(conditions)}"
        )
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--sweep {text!r}: {form}")
    start = _number(parts[0], "START", text)
    stop = _number(parts[1], "STOP", text)
    step = _number(parts[2], "STEP", text) if len(parts) == 3 else DEFAULT_STEP
    if step <= 0:
        raise UsageError(f"--sweep {text!r}: STEP must be above 0")
    if stop < start:
        raise UsageError(f"--sweep {text!r}: STOP must not be below START")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise UsageError(
            f"--sweep {text!r}: {count} thresholds, more than {MAX_SWEEP_POINTS}; use a larger STEP"
        )
    values = tuple(round(start + i * step, 10) for i in range(count))
    return Sweep(condition, values)
