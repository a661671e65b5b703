"""Bucket rows without per-row Python work: the batch encoder writes what one ``json.dumps``
per row result wrote (FP32 in 9 digits, the same float32), the readers build arrays per
object, bounds kept."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
from event_model import expected
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.datatypes import numpy_dtype
from modelstack_runtime.events.jsonl_numeric import numeric_columns
from modelstack_runtime.events.outputs import jsonl_body
from modelstack_runtime.events.row_results import encode_rows
from modelstack_runtime.events.rows import MalformedObject, ObjectTooLarge, RowLimits, read_rows
from modelstack_runtime.events.s3 import score_rows, score_rows_jsonl
from modelstack_runtime.signature import Signature, TensorSpec
from modelstack_runtime.tensors import json_entry

LIMITS = RowLimits(max_object_bytes=1 << 20, max_rows=1000)


def one_by_one(name: str, version: str | None, key: str, first: int, outputs: Any) -> bytes:
    """What the adapter wrote before: a dict per row, dumped on its own."""
    count = next(iter(outputs.values())).shape[0]
    results = [
        {
            "model_name": name,
            "model_version": version,
            "id": f"{key}#{first + i}",
            "outputs": [json_entry(n, a[i : i + 1]) for n, a in outputs.items()],
        }
        for i in range(count)
    ]
    return jsonl_body(results)


DTYPES = st.sampled_from(["FP32", "FP64", "FP16", "INT64", "INT8", "UINT16", "BOOL"])


@st.composite
def output_sets(draw: st.DrawFn) -> dict[str, np.ndarray]:
    rows = draw(st.integers(min_value=1, max_value=6))
    outputs = {}
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        dtype = numpy_dtype(draw(DTYPES))
        row_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
        outputs[f"out{index}"] = draw(hnp.arrays(dtype, (rows, *row_shape)))
    return outputs


def parsed(body: bytes) -> list[Any]:
    """The lines as JSON, FP32 data as float32 arrays (the values the model returned)."""
    results = [json.loads(line) for line in body.decode().splitlines()]
    for result in results:
        for entry in result["outputs"]:
            if entry["datatype"] == "FP32":
                entry["data"] = np.array(entry["data"], dtype=np.float64).astype(np.float32)
    return results


def assert_same_results(body: bytes, expected_body: bytes) -> None:
    got, want = parsed(body), parsed(expected_body)
    assert len(got) == len(want)
    for line, wanted in zip(got, want, strict=True):
        assert {k: v for k, v in line.items() if k != "outputs"} == {
            k: v for k, v in wanted.items() if k != "outputs"
        }
        for entry, wanted_entry in zip(line["outputs"], wanted["outputs"], strict=True):
            assert entry.keys() == wanted_entry.keys()
            for field in ("name", "datatype", "shape"):
                assert entry[field] == wanted_entry[field]
            np.testing.assert_array_equal(entry["data"], wanted_entry["data"], strict=False)


@given(
    outputs=output_sets(),
    key=st.text(max_size=12),
    name=st.text(max_size=8),
    version=st.none() | st.text(max_size=4),
    first=st.integers(min_value=0, max_value=10**6),
)
@settings(max_examples=300, deadline=None)
def test_the_batch_encoder_writes_what_a_dump_per_row_wrote(
    outputs: dict[str, np.ndarray], key: str, name: str, version: str | None, first: int
) -> None:
    body = encode_rows(name, version, key, first, outputs)
    expected_body = one_by_one(name, version, key, first, outputs)
    if all(a.dtype != np.float32 for a in outputs.values()):
        assert body == expected_body  # only FP32 text differs from json.dumps
    else:
        assert_same_results(body, expected_body)


@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 8), st.integers(0, 4)),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    )
)
@settings(max_examples=300, deadline=None)
def test_fp32_text_gives_back_exactly_the_float32_and_is_strict_json(x: np.ndarray) -> None:
    body = encode_rows("m", "1", "k", 0, {"p": x, "label": np.arange(len(x))})

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    lines = [json.loads(line, parse_constant=refuse) for line in body.splitlines()]
    back = np.array([line["outputs"][0]["data"] for line in lines], dtype=np.float64)
    np.testing.assert_array_equal(back.astype(np.float32).view(np.uint32), x.view(np.uint32))
    assert [line["outputs"][1]["data"] for line in lines] == [[i] for i in range(len(x))]


def test_fp32_is_written_with_nine_significant_digits() -> None:
    body = encode_rows("m", None, "k", 7, {"p": np.array([[0.1, 1e-45, 3.4028235e38]], np.float32)})
    assert body == (
        b'{"model_name":"m","model_version":null,"id":"k#7","outputs":[{"name":"p",'
        b'"datatype":"FP32","shape":[1,3],"data":[0.100000001,1.40129846e-45,3.40282347e+38]}]}\n'
    )


@pytest.mark.parametrize("odd", [np.nan, -np.inf, -0.0])
def test_a_batch_with_a_nan_an_infinity_or_minus_zero_is_written_as_json_dumps_writes_it(
    odd: float,
) -> None:
    outputs = {"p": np.array([[0.5], [odd]], np.float32)}
    assert encode_rows("m", "1", "k", 0, outputs) == one_by_one("m", "1", "k", 0, outputs)


@given(st.lists(st.text(max_size=5), min_size=1, max_size=4))
@settings(max_examples=100, deadline=None)
def test_text_outputs_with_separators_in_them_are_encoded_row_by_row(texts: list[str]) -> None:
    outputs = {"label": np.array([[t, "],["] for t in texts], dtype=object)}
    assert encode_rows("m", "1", "k", 0, outputs) == one_by_one("m", "1", "k", 0, outputs)


def test_the_object_results_match_the_rows_scored_one_dict_at_a_time(
    dataplane: DataPlane,
) -> None:
    x = np.random.default_rng(1).random((41, 3), dtype=np.float32)
    body, rows = score_rows_jsonl(dataplane, {"x": x}, rows_per_batch=8, key="in/a%b.jsonl")
    old = jsonl_body(score_rows(dataplane, {"x": x}, rows_per_batch=8, key="in/a%b.jsonl"))
    assert rows == 41
    assert_same_results(body, old)
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["id"] for line in lines] == [f"in/a%b.jsonl#{i}" for i in range(41)]
    assert lines[40]["outputs"][0]["data"] == pytest.approx(expected(x[40:41]))


SIG = Signature(
    inputs=(TensorSpec("x", "FP32", (-1, 3)), TensorSpec("k", "INT64", (-1,))), outputs=()
)


@given(
    x=hnp.arrays(
        np.float32,
        st.tuples(st.integers(0, 20), st.just(3)),
        elements=st.floats(-1e6, 1e6, width=32),
    ),
)
@settings(max_examples=100, deadline=None)
def test_csv_rows_read_as_the_arrays_they_hold(x: np.ndarray) -> None:
    k = np.arange(x.shape[0], dtype=np.int64)
    lines = ["x,k,x,x"] + [f"{r[0]!r},{i},{r[1]!r},{r[2]!r}" for i, r in enumerate(x.tolist())]
    columns = read_rows("\n".join(lines).encode(), key="a.csv", signature=SIG, limits=LIMITS)
    np.testing.assert_array_equal(columns["x"], x)
    np.testing.assert_array_equal(columns["k"], k)


def test_a_ragged_csv_row_is_named_by_its_line() -> None:
    data = b'x,x,x,k\n1,2,3,4\n"5\n",6,7,8\n1,2,3\n'
    with pytest.raises(MalformedObject, match=r"a\.csv, line 5: 3 cells under a header of 4"):
        read_rows(data, key="a.csv", signature=SIG, limits=LIMITS)


def test_csv_cells_that_are_not_numbers_name_the_input() -> None:
    with pytest.raises(MalformedObject, match="input 'k' is not INT64"):
        read_rows(b"x,x,x,k\n1,2,3,1.5\n", key="a.csv", signature=SIG, limits=LIMITS)


def test_the_row_limit_holds_for_csv_and_jsonl() -> None:
    limits = RowLimits(max_object_bytes=1 << 20, max_rows=2)
    csv_data = b"x,x,x,k\n" + b"1,2,3,4\n" * 3
    jsonl = b'{"x": [1, 2, 3], "k": 4}\n' * 3
    for key, data in (("a.csv", csv_data), ("a.jsonl", jsonl)):
        with pytest.raises(ObjectTooLarge, match="MODELSTACK_MAX_EVENT_ROWS"):
            read_rows(data, key=key, signature=SIG, limits=limits)


def test_a_jsonl_line_nested_too_deep_is_malformed_not_a_crash() -> None:
    data = b'{"x": [1, 2, 3], "k": 1}\n' + b"[" * 100_000 + b"\n"
    with pytest.raises(MalformedObject, match="line 2: the JSON nests too deep"):
        read_rows(data, key="deep.jsonl", signature=SIG, limits=LIMITS)


def test_a_jsonl_record_with_other_names_is_named_by_its_line() -> None:
    data = b'{"x": [1, 2, 3], "k": 1}\n\n{"x": [1, 2, 3], "j": 1}\n'
    with pytest.raises(MalformedObject, match=r"line 3: the inputs must be exactly k, x"):
        read_rows(data, key="a.jsonl", signature=SIG, limits=LIMITS)


FLOATS = Signature(
    inputs=(TensorSpec("x", "FP32", (-1, 3)), TensorSpec("w_1", "FP64", (-1, 2, 2))), outputs=()
)
NOISE = st.sampled_from([" ", ",", "1", "0", "-", "+", ".", "e", "]", "[", '"', "n", "}", ":"])


def strict_oracle(lines: list[str]) -> dict[str, np.ndarray] | None:
    """What the general reader makes of the lines: arrays, or None when it refuses them."""
    try:
        records = [json.loads(line) for line in lines]
        if not all(isinstance(r, dict) and r.keys() == {"x", "w_1"} for r in records):
            return None
        x = np.array([r["x"] for r in records], dtype=np.float64)
        w = np.array([r["w_1"] for r in records], dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if x.shape != (len(lines), 3) or w.shape != (len(lines), 2, 2):
        return None
    return {"x": x.astype(np.float32), "w_1": w}


@given(
    values=st.lists(
        st.lists(st.floats(-1e30, 1e30, allow_nan=False), min_size=7, max_size=7),
        min_size=1,
        max_size=6,
    ),
    flips=st.lists(st.booleans(), min_size=6, max_size=6),
    edits=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 200), NOISE, st.booleans()), max_size=2
    ),
)
@settings(max_examples=400, deadline=None)
def test_the_numeric_jsonl_reader_agrees_with_json_or_steps_aside(
    values: list[list[float]], flips: list[bool], edits: list[tuple[int, int, str, bool]]
) -> None:
    lines = []
    for row, flip in zip(values, flips, strict=False):
        record = {"x": row[:3], "w_1": [row[3:5], row[5:7]]}
        if flip:
            record = {"w_1": record["w_1"], "x": record["x"]}
        lines.append(json.dumps(record))
    for line, at, char, delete in edits:
        if line < len(lines):
            text = lines[line]
            at %= len(text)
            lines[line] = text[:at] + text[at + 1 :] if delete else text[:at] + char + text[at:]
    lines = [line for line in lines if line.strip()]
    with warnings.catch_warnings():  # an edit may push a number past FP32: inf, as json's
        warnings.simplefilter("ignore", RuntimeWarning)
        oracle = strict_oracle(lines)
        fast = numeric_columns(lines, FLOATS)
    if not edits and len(set(flips[: len(values)])) == 1:
        assert fast is not None  # what json.dumps writes takes the fast path
    if fast is not None:
        assert oracle is not None, lines
        for name in ("x", "w_1"):
            np.testing.assert_array_equal(fast[name], oracle[name])
            assert fast[name].dtype == oracle[name].dtype


@pytest.mark.parametrize("numeral", [".5", "1.", "+1", "01", "-01", "1 2", "nan", "NaN", "1.e5"])
def test_numerals_json_refuses_are_left_to_the_general_reader(numeral: str) -> None:
    good = '{"x": [1, 2, 3], "w_1": [[1e-05, -0.5], [0, 2E+3]]}'
    lines = [good, good.replace("2, 3]", f"2, {numeral}]")]
    assert numeric_columns([good, good], FLOATS) is not None
    assert numeric_columns(lines, FLOATS) is None
    if numeral not in ("NaN",):  # Python's json reads NaN; the rest it refuses
        with pytest.raises(MalformedObject, match="line 2"):
            read_rows("\n".join(lines).encode(), key="a.jsonl", signature=FLOATS, limits=LIMITS)


def test_a_csv_with_one_long_cell_is_read_without_a_table_as_wide_as_it() -> None:
    import tracemalloc

    text = "x,x,x,k\n" + "1,2,3,4\n" * 2000 + "1,2,3," + "5" * 20_000 + "\n"
    limits = RowLimits(max_object_bytes=1 << 20, max_rows=10_000)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedObject, match="input 'k' is not INT64"):  # too large an int
            read_rows(text.encode(), key="a.csv", signature=SIG, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024  # a table of 8,004 cells 20,000 characters wide: 640 MB
