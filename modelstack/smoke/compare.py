"""Comparing a model's outputs with a smoke test's expectations. The only implementation:
local runs, container runs and pre-traffic checks of a candidate all come through here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from modelstack.manifest.model import Expectation

__all__ = ["Mismatch", "compare_outputs"]


@dataclass(frozen=True)
class Mismatch:
    """How one output differs from what was expected."""

    output: str
    message: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    index: tuple[int, ...] | None = None


def compare_outputs(
    expected: Mapping[str, Expectation], actual: Mapping[str, np.ndarray]
) -> list[Mismatch]:
    """Every way in which `actual` misses `expected` (empty when the test passes)."""
    mismatches: list[Mismatch] = []
    for name, expectation in expected.items():
        if name not in actual:
            mismatches.append(Mismatch(name, f"output '{name}' is missing from the response"))
            continue
        value = np.asarray(actual[name])
        if expectation.data is not None:
            mismatch = _compare_data(name, expectation, value)
            if mismatch:
                mismatches.append(mismatch)
        if expectation.argmax is not None:
            mismatches.extend(_compare_argmax(name, expectation.argmax, value))
        if expectation.top_k is not None:
            mismatches.extend(_compare_top_k(name, *expectation.top_k, value))
    return mismatches


def _compare_data(name: str, expectation: Expectation, value: np.ndarray) -> Mismatch | None:
    kind = value.dtype.kind
    if kind in "SUO":
        want = np.asarray(expectation.data, dtype=object).astype(str).astype(object)
        got = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in value.flat], dtype=object
        ).reshape(value.shape)
    elif kind in "fc":
        want = np.asarray(expectation.data, dtype=np.float64)
        got = value.astype(np.float64)
    else:  # integers and booleans compare exactly, as Python ints (no float64 rounding)
        want = np.asarray(expectation.data, dtype=object)
        got = value.astype(object)
    if want.shape != got.shape:
        if want.size != got.size:
            return Mismatch(
                name, f"'{name}': expected shape {list(want.shape)}, got {list(got.shape)}"
            )
        want = want.reshape(got.shape)
    if kind in "fc":
        return _compare_close(name, want, got, expectation.atol, expectation.rtol)
    if not np.array_equal(want, got):
        index = tuple(int(i) for i in np.argwhere(want != got)[0])
        return Mismatch(
            name,
            f"'{name}': expected {want[index]!r} at index {list(index)}, got {got[index]!r}",
            index=index,
        )
    return None


def _compare_close(
    name: str, want: np.ndarray, got: np.ndarray, atol: float, rtol: float
) -> Mismatch | None:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf/NaN are results
        abs_err = np.abs(got - want)
        rel_err = np.where(want != 0, abs_err / np.abs(want), np.where(abs_err > 0, np.inf, 0.0))
    bad = ~(abs_err <= atol + rtol * np.abs(want))
    if not bad.any():
        return None
    # Report the worst of the values that fail, so the index points at a real failure and a
    # passing value next to an expected 0 does not make the relative error infinite.
    worst = np.where(bad, abs_err, -1.0)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(worst)), abs_err.shape))
    worst_abs, worst_rel = float(abs_err[bad].max()), float(rel_err[bad].max())
    return Mismatch(
        name,
        f"'{name}': {int(bad.sum())} of {bad.size} values differ beyond atol={atol:g}, "
        f"rtol={rtol:g}; max abs error {worst_abs:.6g} at index {list(index)} "
        f"(expected {want[index]:.6g}, got {got[index]:.6g}), max rel error {worst_rel:.6g}",
        max_abs_error=worst_abs,
        max_rel_error=worst_rel,
        index=index,
    )


def _rows(value: np.ndarray) -> np.ndarray:
    return value.reshape(1, -1) if value.ndim <= 1 else value.reshape(-1, value.shape[-1])


def _compare_argmax(name: str, expected: tuple[int, ...], value: np.ndarray) -> list[Mismatch]:
    got = [int(i) for i in np.argmax(_rows(value), axis=-1)]
    if got != list(expected):
        return [Mismatch(name, f"'{name}': expected argmax {list(expected)}, got {got}")]
    return []


def _compare_top_k(
    name: str, k: int, includes: tuple[int, ...], value: np.ndarray
) -> list[Mismatch]:
    mismatches = []
    for row_index, row in enumerate(_rows(value)):
        top = [int(i) for i in np.argsort(-row.astype(np.float64), kind="stable")[:k]]
        missing = [i for i in includes if i not in top]
        if missing:
            mismatches.append(
                Mismatch(
                    name,
                    f"'{name}' row {row_index}: expected {missing} among the top {k}, "
                    f"got top {k} = {top}",
                )
            )
    return mismatches
