"""keepwise.jsonio's indented writer against the standard library: the same text, character for character.

``dumps(doc)`` (what ``--json`` prints) writes indented JSON with its own loop instead of ``json.dumps``'s
pure-Python generators; the golden documents of the demo store (review, profit, win-back, flows) and a
document of every awkward value must come out exactly as ``json.dumps(..., indent=2, default=default,
ensure_ascii=False)`` writes them.
"""

from __future__ import annotations

import enum
import gzip
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keepwise.jsonio import default, dumps

GOLDEN = Path(__file__).parent / "golden"


def _library(doc, indent=2):
    return json.dumps(doc, indent=indent, default=default, ensure_ascii=False)


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.json.gz")))
def test_golden_documents_are_written_as_the_library_writes_them(name):
    doc = json.loads(gzip.decompress((GOLDEN / name).read_bytes()))
    assert dumps(doc) == _library(doc)
    assert dumps(doc, indent=4) == _library(doc, indent=4)


class Level(enum.IntEnum):
    LOW = 1


class Text(str):
    pass


def test_awkward_values_are_written_as_the_library_writes_them():
    doc = {
        "decimal": Decimal("1234.5000"),
        "negative zero": Decimal("-0.00"),
        "floats": [0.1, -0.0, 1e300, float("nan"), float("inf"), float("-inf"), np.float64(2.5)],
        "ints": [0, -7, 10**30, True, False, Level.LOW, np.int64(3), np.bool_(True)],
        "text": ["naïve", 'quote " and \\ backslash', "line\nbreak\ttab\u2028", "\u0000", Text("sub")],
        "empty": [[], {}, (), ""],
        "nested": [[[]], [{}], {"a": [{"b": []}]}, (1, (2, 3))],
        "times": [
            datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
            date(2025, 1, 2),
            pd.Timestamp("2025-01-02"),
        ],
        "frame": pd.DataFrame({"a": [1]}).to_dict("records"),
        "numpy": np.array([1, 2]).tolist(),
        "keys": [{1: "int", 2.5: "float", None: "null", "text": "str"}, {True: "bool"}, {Level.LOW: "enum"}],
        "not a number": Decimal("NaN"),
        None: None,
    }
    assert dumps(doc) == _library(doc)
    assert dumps([]) == _library([]) and dumps("x") == _library("x") and dumps(None) == _library(None)


def test_what_the_library_refuses_is_refused_the_same_way():
    with pytest.raises(TypeError):
        dumps({(1, 2): "tuple key"})
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular"):
        dumps(cycle)


@pytest.mark.parametrize("batch", [1, 3, 2048])
def test_utf8_writes_the_one_line_text_in_pieces(monkeypatch, batch):
    """``utf8`` (the review's stored document) is ``dumps(doc, indent=None)`` as UTF-8, byte for byte."""
    from keepwise import jsonio

    monkeypatch.setattr(jsonio, "_BATCH", batch)
    docs = [json.loads(gzip.decompress(p.read_bytes())) for p in sorted(GOLDEN.glob("*.json.gz"))]
    awkward = {
        "rows": [{"id": f"C{i}", "v": Decimal(i) / 8, "é": [i, None, float("nan")]} for i in range(7)],
        "keys": [{1: [1] * 5, 2.5: (1, 2, 3, 4), None: {}, False: []}, {Level.LOW: "enum"}, {True: 1}],
        "text": ["naïve \u2028", Text("sub"), "\u0000"],
        "day": date(2025, 1, 2),
        "empty": [[], {}, (), ""],
    }
    for doc in [*docs, awkward, [], {}, [[1, 2]] * 9, "x", None]:
        assert bytes(jsonio.utf8(doc)) == _library(doc, indent=None).encode()


@pytest.mark.parametrize("piece", [1, 7, 65536])
def test_dump_writes_the_indented_text_in_pieces(monkeypatch, piece):
    """``dump`` (what ``--json`` prints) writes exactly ``dumps(doc)``, however the text is cut."""
    from keepwise import jsonio

    monkeypatch.setattr(jsonio, "_PIECE", piece)
    docs = [json.loads(gzip.decompress(p.read_bytes())) for p in sorted(GOLDEN.glob("*.json.gz"))]
    for doc in [*docs, {"a": [1, {"b": Decimal("2.50")}], "é": None}, [], "x"]:
        pieces: list[str] = []
        jsonio.dump(doc, pieces.append, indent=2)
        assert "".join(pieces) == dumps(doc)
    with pytest.raises(TypeError):
        jsonio.dump({(1, 2): "tuple key"}, pieces.append)


def test_records_are_written_as_the_list_of_their_rows(monkeypatch):
    """Columns in ``Records`` give the text of the list of row dicts in every writer, however batched."""
    from keepwise import jsonio
    from keepwise.jsonio import Records

    columns = {
        "id": [f"C{i}" for i in range(11)],
        "v": [Decimal(i) / 4 for i in range(11)],
        "é": [None] * 11,
        "x%s": [float("nan"), 1.5, -0.0, float("inf"), 2, True, None, "t", Level.LOW, np.int64(4), 1e300],
        "n": list(range(11)),
    }
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    monkeypatch.setattr(jsonio, "_BATCH", 3)
    monkeypatch.setattr(jsonio, "_ROWS", 4)
    for as_rows, as_records in [
        ({"lost": {"customers": rows, "n": 11}}, {"lost": {"customers": Records(columns), "n": 11}}),
        ([rows, []], [Records(columns), Records({"id": []})]),
        (rows * 1, Records(columns)),
    ]:
        assert dumps(as_records) == dumps(as_rows)
        assert dumps(as_records, indent=None) == _library(as_rows, indent=None)
        assert bytes(jsonio.utf8(as_records)) == bytes(jsonio.utf8(as_rows))
        pieces: list[str] = []
        jsonio.dump(as_records, pieces.append)
        assert "".join(pieces) == dumps(as_rows)
    records = Records(columns)
    assert records == rows and len(records) == 11 and records[-1] == rows[-1] and records[2:4] == rows[2:4]
    with pytest.raises(ValueError, match="lengths"):
        Records({"a": [1], "b": []})
