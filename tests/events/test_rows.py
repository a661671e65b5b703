"""The bounded row readers: .npz, .jsonl and .csv objects as the model's input columns."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack_runtime.events.rows import (
    MAX_EVENT_OBJECT_BYTES_ENV,
    MAX_EVENT_ROWS_ENV,
    MalformedObject,
    ObjectTooLarge,
    RowLimits,
    batches,
    read_rows,
)
from modelstack_runtime.signature import Signature, TensorSpec

SIGNATURE = Signature(
    inputs=(TensorSpec("x", "FP32", (-1, 3)), TensorSpec("k", "INT64", (-1,))),
    outputs=(TensorSpec("y", "FP32", (-1, 2)),),
)
LIMITS = RowLimits()
X = np.arange(12, dtype=np.float32).reshape(4, 3)
K = np.array([5, 6, 7, 8], dtype=np.int64)


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def csv_text(x: np.ndarray, k: np.ndarray) -> bytes:
    lines = ["x,x,x,k"] + [
        ",".join([*map(str, row.tolist()), str(kk)]) for row, kk in zip(x, k, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("a.npz", npz(x=X, k=K)),
        ("a.jsonl", jsonl([{"x": r.tolist(), "k": int(k)} for r, k in zip(X, K, strict=True)])),
        ("a.csv", csv_text(X, K)),
    ],
)
def test_each_format_reads_the_same_columns(key: str, data: bytes) -> None:
    columns = read_rows(data, key=key, signature=SIGNATURE, limits=LIMITS)
    np.testing.assert_array_equal(columns["x"], X)
    np.testing.assert_array_equal(columns["k"], K)
    assert columns["x"].dtype == np.float32 and columns["k"].dtype == np.int64


@pytest.mark.parametrize(
    ("key", "data", "says"),
    [
        ("a.jsonl", b'{"x": [1, 2, 3], "k": 1}\n{"x": [1, 2], "k": 1}\n',
         "not FP32 rows of one shape"),
        ("a.jsonl", b'{"x": [1, 2, 3], "k": 1}\nnot json\n', "line 2: not JSON"),
        ("a.jsonl", b'{"x": [1, 2, 3]}\n', "line 1: the inputs must be exactly k, x (missing: k"),
        ("a.jsonl", b"[1, 2]\n", "line 1: a record must be a JSON object"),
        ("a.csv", b"x,x,x,k\n1,2,3,4\n1,2\n", "line 3: 2 cells under a header of 4"),
        ("a.csv", b"x,x,k\n1,2,3\n", "has 2 column(s) per row"),
        ("a.csv", b"x,x,x,k\n1,2,a,4\n", "not FP32 rows"),
        ("a.csv", b"", "is empty"),
        ("a.npz", b"PK not a zip", "is not an .npz archive"),
        ("a.npz", npz(x=X, k=K[:3]), "do not have the same number of rows"),
        ("a.npz", npz(x=X.astype(np.float64), k=K.astype(np.float32)), "'k' is float32"),
        ("a.npz", npz(x=X[:, :2], k=K), "has shape [4, 2]; the model takes [-1, 3]"),
        ("a.txt", b"", "has no reader"),
        ("a.jsonl", b"\xff\xfe", "not UTF-8"),
    ],
)  # fmt: skip
def test_malformed_objects_are_named_with_the_place(key: str, data: bytes, says: str) -> None:
    with pytest.raises(MalformedObject) as info:
        read_rows(data, key=key, signature=SIGNATURE, limits=LIMITS)
    assert says in str(info.value)
    assert key in str(info.value)
    assert info.value.status == 400


def test_limits_name_the_setting_to_raise() -> None:
    small = RowLimits(max_object_bytes=100, max_rows=2)
    with pytest.raises(ObjectTooLarge, match=MAX_EVENT_OBJECT_BYTES_ENV):
        read_rows(b"x" * 101, key="a.jsonl", signature=SIGNATURE, limits=small)
    rows = jsonl([{"x": [1, 2, 3], "k": 1}] * 3)
    with pytest.raises(ObjectTooLarge, match=MAX_EVENT_ROWS_ENV):
        read_rows(rows, key="a.jsonl", signature=SIGNATURE, limits=RowLimits(max_rows=2))
    with pytest.raises(ObjectTooLarge, match=MAX_EVENT_ROWS_ENV):
        read_rows(csv_text(X, K), key="a.csv", signature=SIGNATURE, limits=RowLimits(max_rows=3))


def test_an_npz_bomb_is_refused_by_its_unpacked_size() -> None:
    zeros = np.zeros((200_000, 3), dtype=np.float32)  # 2.4 MB that compresses to a few KB
    data = npz(x=zeros, k=np.zeros(200_000, dtype=np.int64))
    assert len(data) < 100_000
    with pytest.raises(ObjectTooLarge, match="unpacks to"):
        read_rows(
            data, key="a.npz", signature=SIGNATURE, limits=RowLimits(max_object_bytes=100_000)
        )


def test_limits_come_from_the_environment() -> None:
    env = {MAX_EVENT_OBJECT_BYTES_ENV: "2048", MAX_EVENT_ROWS_ENV: "7"}
    assert RowLimits.from_env(env) == RowLimits(max_object_bytes=2048, max_rows=7)
    assert RowLimits.from_env({}) == RowLimits()
    with pytest.raises(ValueError, match=MAX_EVENT_ROWS_ENV):
        RowLimits.from_env({MAX_EVENT_ROWS_ENV: "0"})


def test_batches_cover_every_row_in_order() -> None:
    sizes = [len(b["x"]) for b in batches({"x": X, "k": K}, 3)]
    assert sizes == [3, 1]
    joined = np.concatenate([b["k"] for b in batches({"x": X, "k": K}, 3)])
    np.testing.assert_array_equal(joined, K)


ROWS = st.lists(
    st.tuples(
        st.lists(st.floats(-1e6, 1e6, width=32), min_size=3, max_size=3),
        st.integers(-(2**40), 2**40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(ROWS, st.sampled_from(["a.npz", "a.jsonl", "a.csv"]))
def test_rows_round_trip_through_every_format(
    rows: list[tuple[list[float], int]], key: str
) -> None:
    x = np.array([r[0] for r in rows], dtype=np.float32)
    k = np.array([r[1] for r in rows], dtype=np.int64)
    data = {
        "a.npz": lambda: npz(x=x, k=k),
        "a.jsonl": lambda: jsonl(
            [{"x": r.tolist(), "k": int(kk)} for r, kk in zip(x, k, strict=True)]
        ),
        "a.csv": lambda: csv_text(x, k),
    }[key]()
    columns = read_rows(data, key=key, signature=SIGNATURE, limits=LIMITS)
    np.testing.assert_array_equal(columns["x"], x)
    np.testing.assert_array_equal(columns["k"], k)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["a.npz", "a.jsonl", "a.csv"]))
def test_any_bytes_are_read_or_refused_as_malformed(data: bytes, key: str) -> None:
    try:
        read_rows(data, key=key, signature=SIGNATURE, limits=LIMITS)
    except (MalformedObject, ObjectTooLarge) as exc:
        assert key in str(exc)
