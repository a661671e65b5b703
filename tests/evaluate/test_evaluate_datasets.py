"""The data set readers: CSV and JSON lines (property-tested), and .npz members checked by
header before anything is loaded."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from modelstack.evaluate.columns import dataset_names, parse_column
from modelstack.evaluate.npzfile import read_npz
from modelstack.evaluate.tabular import parse_csv, parse_jsonl

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
tables = st.tuples(st.integers(1, 12), st.integers(1, 5)).flatmap(
    lambda shape: st.tuples(
        arrays(np.float64, shape, elements=finite), arrays(np.float64, shape[0], elements=finite)
    )
)


def to_csv(x: np.ndarray, y: np.ndarray) -> str:
    header = [f"x[{i}]" for i in range(x.shape[1])] + ["y"]
    rows = [
        ",".join(repr(float(v)) for v in [*row, label]) for row, label in zip(x, y, strict=True)
    ]
    return "\n".join([",".join(header), *rows]) + "\n"


@given(tables)
def test_csv_round_trips_vector_and_scalar_columns(table: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = table
    columns = parse_csv(to_csv(x, y), max_rows=100)
    assert set(columns) == {"x", "y"}
    np.testing.assert_array_equal(columns["x"], x)
    np.testing.assert_array_equal(columns["y"], y)


@given(tables)
def test_jsonl_round_trips(table: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = table
    text = "\n".join(
        json.dumps({"x": r.tolist(), "y": float(v)}) for r, v in zip(x, y, strict=True)
    )
    columns = parse_jsonl(text, max_rows=100)
    np.testing.assert_array_equal(columns["x"], x)
    np.testing.assert_array_equal(columns["y"], y)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_csv_and_jsonl_refuse_garbage_with_value_errors_only(text: str) -> None:
    for parse in (parse_csv, parse_jsonl):
        try:
            parse(text, max_rows=5)
        except ValueError as exc:
            assert str(exc)
        # anything else (IndexError, KeyError, ...) fails the test


@given(st.integers(1, 30), st.integers(1, 29))
def test_max_rows_is_enforced_while_reading(rows: int, limit: int) -> None:
    text = "x\n" + "1\n" * rows
    if rows <= limit:
        assert len(parse_csv(text, max_rows=limit)["x"]) == rows
        return
    with pytest.raises(ValueError, match=rf"line {limit + 2}: more than evaluation.max_rows"):
        parse_csv(text, max_rows=limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x[0],x[2]\n1,2\n", "line 1: 'x' has no column for element(s) [1]"),
        ("x,x[0]\n1,2\n", "repeats or mixes NAME and NAME[i]"),
        ("x[0],y\n1,2\n3\n", "line 3: 1 values for 2 columns"),
        ("x,y\n1,two\n", "line 2: a value is not a number"),
        ("x\n", "a header but no rows"),
    ],
)
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_csv(text, max_rows=10)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"x": [1, 2]}\n{"x": [1]}\n', "line 2: 'x' has shape [1], earlier lines [2]"),
        ('{"x": 1}\n{"y": 1}\n', "line 2: names ['y'] differ"),
        ('{"x": [[1], [1, 2]]}\n', "line 1: 'x' is a ragged list"),
        ('{"x": ["a"]}\n', "line 1: 'x' must hold numbers"),
        ("[1]\n", "line 1: each line must be a JSON object"),
    ],
)
def test_jsonl_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_jsonl(text, max_rows=10)
    assert message in str(info.value)


def test_column_names() -> None:
    assert parse_column("pixels[12]") == ("pixels", 12)
    assert parse_column(" label ") == ("label", None)
    with pytest.raises(ValueError, match="is not NAME or NAME"):
        parse_column("x[-1]")


def test_an_object_array_is_refused_from_its_header_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    # A pickled object array: np.load(allow_pickle=True) would run the pickle.
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="dtype object; data sets hold numbers or booleans only"):
        read_npz(path, max_bytes=1 << 20)


def test_an_npz_member_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", buffer.getvalue())  # a header that promises 8 GB, no data
    with pytest.raises(ValueError, match="holds 8,000,000,000 bytes, more than evaluation"):
        read_npz(path, max_bytes=1 << 20)


def test_an_archive_that_unpacks_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, x=np.zeros(1_000_000))  # a few KB on disk, 8 MB unpacked
    with pytest.raises(ValueError, match="unpacks to 8,000,128 bytes"):
        read_npz(path, max_bytes=1 << 20)


def test_non_npy_members_and_broken_archives_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"member 'notes\.txt' is not a \.npy array"):
        read_npz(path, max_bytes=1 << 20)
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"not a readable \.npz archive"):
        read_npz(path, max_bytes=1 << 20)


def test_names_come_from_the_header_only(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("x[0],x[1],label\n" + "1,2,3\n" * 5)
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"x": [1], "label": 0}\nnot json at all\n')
    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.ones(2), label=np.zeros(2))
    assert dataset_names(csv) == ["x", "label"]
    assert dataset_names(jsonl) == ["x", "label"]
    assert dataset_names(npz) == ["x", "label"]


def test_csv_module_errors_are_value_errors_with_their_line() -> None:
    # Regression: csv.Error escaped from parse_csv (and became exit 3), first for a stray
    # carriage return (now read as a line break), still for a field over the csv limit.
    assert parse_csv("x\n\r1\n", max_rows=10)["x"].tolist() == [1.0]
    with pytest.raises(ValueError, match=r"line 2: not valid CSV \(field larger than"):
        parse_csv('x\n"' + "1" * 200_000 + '"\n', max_rows=10)
