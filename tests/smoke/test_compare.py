"""compare_outputs: the one place where a model's answers meet a smoke test's expectations."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelstack.manifest.model import Expectation
from modelstack.smoke.compare import Mismatch, compare_outputs


def only(mismatches: list[Mismatch]) -> Mismatch:
    assert len(mismatches) == 1, mismatches
    return mismatches[0]


# -- floats -------------------------------------------------------------------------------


def test_floats_within_atol_pass() -> None:
    expected = {"p": Expectation(data=[[0.966, 0.034, 0.0]], atol=1e-3, rtol=0.0)}
    actual = {"p": np.array([[0.9668, 0.0335, 0.0009]], dtype=np.float32)}
    assert compare_outputs(expected, actual) == []


def test_floats_within_rtol_pass() -> None:
    # 1000.09 is 9e-5 away relatively: inside rtol=1e-4 even though far outside atol.
    expected = {"y": Expectation(data=[1000.0, 2.0], atol=1e-9, rtol=1e-4)}
    actual = {"y": np.array([1000.09, 2.0], dtype=np.float64)}
    assert compare_outputs(expected, actual) == []


def test_floats_outside_tolerance_report_errors_and_index() -> None:
    # By hand: |2.5 - 2.0| = 0.5 at [1, 0]; relative 0.5 / 2.0 = 0.25. [0, 1] is off by 0.01
    # (relative 0.01 / 4.0 = 0.0025), also beyond atol=1e-3, rtol=1e-3 (limit 0.005).
    expected = {"y": Expectation(data=[[1.0, 4.0], [2.0, 8.0]], atol=1e-3, rtol=1e-3)}
    actual = {"y": np.array([[1.0, 4.01], [2.5, 8.0]], dtype=np.float64)}
    m = only(compare_outputs(expected, actual))
    assert m.output == "y"
    assert m.index == (1, 0)
    assert m.max_abs_error == pytest.approx(0.5)
    assert m.max_rel_error == pytest.approx(0.25)
    assert "2 of 4 values differ beyond atol=0.001, rtol=0.001" in m.message
    assert "max abs error 0.5 at index [1, 0] (expected 2, got 2.5)" in m.message
    assert "max rel error 0.25" in m.message


def test_float_error_just_outside_the_limit_fails() -> None:
    # The limit is atol + rtol * |expected| = 0.1 + 0.1 * 1.0 = 0.2; 1.25 is 0.25 away.
    expectation = Expectation(data=[1.0], atol=0.1, rtol=0.1)
    assert compare_outputs({"y": expectation}, {"y": np.array([1.15])}) == []
    m = only(compare_outputs({"y": expectation}, {"y": np.array([1.25])}))
    assert m.index == (0,)
    assert m.max_abs_error == pytest.approx(0.25)


def test_reported_index_is_a_failing_value() -> None:
    # 1000.05 is the largest absolute difference but passes (limit 0.1); only [1] fails.
    expected = {"y": Expectation(data=[1000.0, 0.5], atol=1e-5, rtol=1e-4)}
    actual = {"y": np.array([1000.05, 0.51])}
    m = only(compare_outputs(expected, actual))
    assert m.index == (1,)
    assert m.max_abs_error == pytest.approx(0.01)
    assert m.max_rel_error == pytest.approx(0.02)
    assert "1 of 2 values" in m.message


def test_passing_value_near_an_expected_zero_keeps_rel_error_finite() -> None:
    expected = {"y": Expectation(data=[0.0, 1.0], atol=1e-5, rtol=1e-4)}
    actual = {"y": np.array([1e-7, 2.0], dtype=np.float32)}
    m = only(compare_outputs(expected, actual))
    assert m.index == (1,)
    assert m.max_abs_error == pytest.approx(1.0)
    assert m.max_rel_error == pytest.approx(1.0)


def test_a_failing_expected_zero_has_infinite_rel_error() -> None:
    m = only(compare_outputs({"y": Expectation(data=[0.0])}, {"y": np.array([0.5])}))
    assert m.max_abs_error == pytest.approx(0.5)
    assert m.max_rel_error == math.inf


def test_nan_output_never_passes() -> None:
    m = only(compare_outputs({"y": Expectation(data=[1.0, 2.0])}, {"y": np.array([1.0, np.nan])}))
    assert m.index == (1,)
    assert "1 of 2 values" in m.message


# -- integers, labels, booleans -----------------------------------------------------------


def test_labels_exact_match() -> None:
    assert compare_outputs({"label": Expectation(data=[0, 2])}, {"label": np.array([0, 2])}) == []


def test_labels_report_first_difference_whatever_the_tolerance() -> None:
    # A huge atol does not make labels approximate.
    expected = {"label": Expectation(data=[[0, 1], [2, 3]], atol=10.0, rtol=10.0)}
    actual = {"label": np.array([[0, 1], [5, 7]], dtype=np.int64)}
    m = only(compare_outputs(expected, actual))
    assert m.index == (1, 0)
    assert m.message == "'label': expected 2 at index [1, 0], got 5"
    assert m.max_abs_error is None


def test_int64_beyond_float64_precision_is_exact() -> None:
    big = 2**53
    expected = {"id": Expectation(data=[big + 1])}
    m = only(compare_outputs(expected, {"id": np.array([big], dtype=np.int64)}))
    assert m.message == f"'id': expected {big + 1} at index [0], got {big}"
    assert compare_outputs(expected, {"id": np.array([big + 1], dtype=np.int64)}) == []


def test_uint64_values_above_int64_compare_exactly() -> None:
    value = 2**64 - 1
    expected = {"h": Expectation(data=[value])}
    assert compare_outputs(expected, {"h": np.array([value], dtype=np.uint64)}) == []
    m = only(compare_outputs(expected, {"h": np.array([value - 1], dtype=np.uint64)}))
    assert m.index == (0,)


def test_booleans() -> None:
    expected = {"ok": Expectation(data=[True, False, True])}
    assert compare_outputs(expected, {"ok": np.array([True, False, True])}) == []
    m = only(compare_outputs(expected, {"ok": np.array([True, True, True])}))
    assert m.message == "'ok': expected False at index [1], got True"


# -- strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actual",
    [
        np.array([b"cat", b"dog"], dtype=object),
        np.array(["cat", "dog"], dtype=object),
        np.array([b"cat", b"dog"]),
        np.array(["cat", "dog"]),
    ],
    ids=["bytes-object", "str-object", "bytes", "unicode"],
)
def test_strings_match_as_text_whether_bytes_or_str(actual: np.ndarray) -> None:
    assert compare_outputs({"tag": Expectation(data=["cat", "dog"])}, {"tag": actual}) == []
    m = only(compare_outputs({"tag": Expectation(data=["cat", "cow"])}, {"tag": actual}))
    assert m.index == (1,)
    assert m.message == "'tag': expected 'cow' at index [1], got 'dog'"


def test_utf8_bytes_are_decoded() -> None:
    actual = {"tag": np.array(["café".encode()], dtype=object)}
    assert compare_outputs({"tag": Expectation(data=["café"])}, actual) == []


# -- shapes -------------------------------------------------------------------------------


def test_shape_mismatch_with_a_different_size() -> None:
    m = only(compare_outputs({"y": Expectation(data=[1.0, 2.0])}, {"y": np.ones((1, 3))}))
    assert m.message == "'y': expected shape [2], got [1, 3]"
    assert m.index is None


def test_same_size_is_reshaped_to_the_output() -> None:
    expected = {"y": Expectation(data=[1.0, 2.0, 3.0, 4.0])}
    assert compare_outputs(expected, {"y": np.array([[1.0, 2.0], [3.0, 4.0]])}) == []
    m = only(compare_outputs(expected, {"y": np.array([[1.0, 2.0], [3.5, 4.0]])}))
    assert m.index == (1, 0)  # the index is in the output's shape


def test_labels_same_size_reshape() -> None:
    assert compare_outputs({"l": Expectation(data=[[3]])}, {"l": np.array([3])}) == []


# -- argmax and top_k ---------------------------------------------------------------------


def test_argmax_one_dimensional() -> None:
    expected = {"p": Expectation(argmax=(2,))}
    assert compare_outputs(expected, {"p": np.array([0.1, 0.2, 0.7])}) == []
    m = only(compare_outputs(expected, {"p": np.array([0.7, 0.2, 0.1])}))
    assert m.message == "'p': expected argmax [2], got [0]"


def test_argmax_per_row() -> None:
    actual = {"p": np.array([[0.9, 0.1, 0.0], [0.1, 0.1, 0.8]], dtype=np.float32)}
    assert compare_outputs({"p": Expectation(argmax=(0, 2))}, actual) == []
    m = only(compare_outputs({"p": Expectation(argmax=(0, 1))}, actual))
    assert m.message == "'p': expected argmax [0, 1], got [0, 2]"


def test_argmax_with_wrong_number_of_rows_fails() -> None:
    actual = {"p": np.array([[0.9, 0.1], [0.2, 0.8]])}
    assert compare_outputs({"p": Expectation(argmax=(0,))}, actual) != []


def test_top_k_includes() -> None:
    row = [0.05, 0.5, 0.3, 0.15]  # order: 1, 2, 3, 0
    actual = {"p": np.array([row], dtype=np.float32)}
    assert compare_outputs({"p": Expectation(top_k=(2, (1, 2)))}, actual) == []
    m = only(compare_outputs({"p": Expectation(top_k=(2, (2, 3)))}, actual))
    assert m.message == "'p' row 0: expected [3] among the top 2, got top 2 = [1, 2]"


def test_top_k_reports_each_failing_row() -> None:
    actual = {"p": np.array([[0.9, 0.1, 0.0], [0.0, 0.1, 0.9], [0.1, 0.0, 0.9]])}
    found = compare_outputs({"p": Expectation(top_k=(1, (2,)))}, actual)
    assert [m.message for m in found] == [
        "'p' row 0: expected [2] among the top 1, got top 1 = [0]"
    ]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.float16])
def test_top_k_on_quantized_scores(dtype: type) -> None:
    # Unsigned scores must not wrap around when ranked (quantized models answer in uint8).
    actual = {"p": np.array([[3, 200, 0, 100]], dtype=dtype) if dtype != np.int8 else
              np.array([[3, 120, 0, 100]], dtype=dtype)}  # fmt: skip
    assert compare_outputs({"p": Expectation(top_k=(2, (1, 3)))}, actual) == []
    assert compare_outputs({"p": Expectation(top_k=(1, (0,)))}, actual) != []


def test_data_argmax_and_top_k_are_all_checked() -> None:
    expected = {"p": Expectation(data=[[0.0, 1.0]], argmax=(0,), top_k=(1, (0,)))}
    found = compare_outputs(expected, {"p": np.array([[0.2, 0.8]])})
    assert len(found) == 3
    assert found[0].max_abs_error == pytest.approx(0.2)
    assert "argmax" in found[1].message
    assert "top 1" in found[2].message


# -- missing outputs ----------------------------------------------------------------------


def test_missing_output() -> None:
    found = compare_outputs(
        {"label": Expectation(data=[0]), "probabilities": Expectation(argmax=(0,))},
        {"label": np.array([0])},
    )
    assert [(m.output, m.message) for m in found] == [
        ("probabilities", "output 'probabilities' is missing from the response")
    ]


def test_extra_outputs_are_ignored() -> None:
    assert compare_outputs({}, {"y": np.array([1.0])}) == []


# -- properties ---------------------------------------------------------------------------

FLOATS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
    elements=st.floats(-1e6, 1e6, width=32),
)


@settings(max_examples=200, deadline=None)
@given(array=FLOATS)
def test_an_array_always_matches_itself(array: np.ndarray) -> None:
    expected = {"y": Expectation(data=array.tolist(), atol=0.0, rtol=0.0)}
    assert compare_outputs(expected, {"y": array}) == []


@settings(max_examples=100, deadline=None)
@given(
    array=hnp.arrays(
        np.int64, hnp.array_shapes(max_dims=3), elements=st.integers(-(2**63), 2**63 - 1)
    )
)
def test_an_integer_array_always_matches_itself(array: np.ndarray) -> None:
    assert compare_outputs({"y": Expectation(data=array.tolist())}, {"y": array}) == []


@settings(max_examples=300, deadline=None)
@given(
    array=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
        elements=st.floats(-1e3, 1e3),
    ),
    data=st.data(),
    atol=st.sampled_from([0.0, 1e-6, 1e-3, 0.1]),
    rtol=st.sampled_from([0.0, 1e-5, 1e-3, 0.1]),
    excess=st.floats(1.01, 1e3),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_one_perturbation_beyond_tolerance_is_reported_at_its_index(
    array: np.ndarray,
    data: st.DataObject,
    atol: float,
    rtol: float,
    excess: float,
    sign: float,
) -> None:
    index = data.draw(st.tuples(*(st.integers(0, n - 1) for n in array.shape)))
    x = float(array[index])
    delta = max(atol + rtol * abs(x), 1e-3) * excess
    actual = array.copy()
    actual[index] = x + sign * delta
    perturbation = abs(float(actual[index]) - x)  # what float64 actually stored
    expected = {"y": Expectation(data=array.tolist(), atol=atol, rtol=rtol)}
    m = only(compare_outputs(expected, {"y": actual}))
    assert m.index == index
    assert m.max_abs_error == perturbation
    assert f"index {list(index)}" in m.message
    assert "1 of" in m.message


@settings(max_examples=200, deadline=None)
@given(
    array=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
        elements=st.floats(-1e6, 1e6, width=32),
    )
)
def test_argmax_derived_from_the_array_passes(array: np.ndarray) -> None:
    rows = array.reshape(-1, array.shape[-1])
    expected = tuple(int(np.argmax(row)) for row in rows)
    assert compare_outputs({"p": Expectation(argmax=expected)}, {"p": array}) == []
    k = min(2, array.shape[-1])
    first_row_best = int(np.argmax(rows[0]))
    if rows.shape[0] == 1:
        found = compare_outputs({"p": Expectation(top_k=(k, (first_row_best,)))}, {"p": array})
        assert found == []


def test_messages_show_plain_numbers() -> None:
    # No numpy reprs such as np.float64(3.0) in messages people read.
    found = compare_outputs(
        {"a": Expectation(data=[1, 2, 3]), "b": Expectation(data=["x"])},
        {"a": np.array([1, 2, 4]), "b": np.array([b"y"], dtype=object)},
    )
    assert [m.output for m in found] == ["a", "b"]
    assert "expected 3" in found[0].message and "got 4" in found[0].message
    assert "'x'" in found[1].message and "'y'" in found[1].message
    assert not any(re.search(r"np\.\w+\(", m.message) for m in found), found
