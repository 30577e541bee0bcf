"""keepwise's one JSON encoding: decimals and timestamps as strings, NumPy scalars as numbers.

The CLI's ``--json`` output, the web API and the documents stored by the stages all use :func:`dumps`, so
a figure reads the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

__all__ = ["Records", "default", "dump", "dumps", "jsonable", "utf8"]

_INF = float("inf")


class Records(Sequence[dict[str, Any]]):
    """Rows of a JSON document kept as columns: written as a list of objects, one per row, in column order.

    A section listing millions of customers (the lost-customer ledger) can put
    ``Records({"customer_id": [...], "lost_at": [...], ...})`` in its data instead of a list of dicts:
    :func:`dumps`, :func:`dump` and :func:`utf8` write exactly the text of ``[{"customer_id": ...,
    "lost_at": ...}, ...]`` while making the rows' dicts a batch at a time, and the standard library's
    encoder gets the list through :func:`default`.
    Indexing and iterating give the rows as dicts; a ``Records`` equals the list of its rows.
    """

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        self.columns = dict(columns)
        lengths = {len(values) for values in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self._rows = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(self._rows))]
        i = range(self._rows)[index]  # negative indices; IndexError past the end
        return self._row(i)

    def _row(self, i: int) -> dict[str, Any]:
        return {key: values[i] for key, values in self.columns.items()}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches():
            yield from batch

    def batches(self, size: int = 2048) -> Iterator[list[dict[str, Any]]]:
        """The rows as dicts, ``size`` at a time."""
        keys = list(self.columns)
        for start in range(0, self._rows, size):
            parts = [values[start : start + size] for values in self.columns.values()]
            yield [dict(zip(keys, row, strict=True)) for row in zip(*parts, strict=True)]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Records | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Records({self._rows} rows: {', '.join(self.columns)})"


def default(value: Any) -> Any:
    """How a value JSON does not know is written: Decimal as its string, dates ISO 8601, NumPy as Python."""
    if isinstance(value, Records):
        return list(value)
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def dumps(document: Any, *, indent: int | None = 2) -> str:
    """``document`` as JSON text (UTF-8 characters kept, ``indent`` spaces; ``None`` for one line).

    The text is exactly ``json.dumps(document, indent=indent, default=default, ensure_ascii=False)``; with an
    indent it is written by :func:`_indented`, several times faster than the standard library's encoder,
    which is pure Python when it indents.
    """
    if indent is None:
        return json.dumps(document, indent=None, default=default, ensure_ascii=False)
    try:
        return _indented(document, " " * indent)
    except (TypeError, ValueError, RecursionError):  # a key JSON cannot hold, a cycle: the library's error
        return json.dumps(document, indent=indent, default=default, ensure_ascii=False)


def dump(document: Any, write: Callable[[str], Any], *, indent: int = 2) -> None:
    """Write :func:`dumps` ``(document, indent=indent)`` through ``write`` in pieces of about a megabyte.

    The same text, never held whole: a document of millions of rows (the review's lost customers) costs its
    pieces, not its text and the list of its tokens at once. A value JSON cannot hold raises the standard
    library's error, possibly after the first pieces were written.
    """
    try:
        _indented(document, " " * indent, write)
    except (TypeError, ValueError, RecursionError):
        json.dumps(document, indent=indent, default=default, ensure_ascii=False)  # the library's error
        raise


def _float(value: float) -> str:
    """A float as the standard library writes it (``NaN``, ``Infinity`` and ``-Infinity`` allowed)."""
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return float.__repr__(value)


#: How a value of each exact plain type is written (subclasses go through the full rules).
_PLAIN: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float,
    bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null",
}


def _key(key: Any) -> str:
    """A dictionary key as the standard library writes it (strings, numbers, booleans and None)."""
    if isinstance(key, str):
        return encode_basestring(key)
    if isinstance(key, float):
        return encode_basestring(_float(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return encode_basestring(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


#: Tokens :func:`dump` gathers before it writes them.
_PIECE = 65536


def _indented(document: Any, indent: str, write: Callable[[str], Any] | None = None) -> str:
    """``document`` as indented JSON, token for token what ``json.dumps(..., indent=...)`` writes.

    The same rules in the same order as the standard library's ``_make_iterencode`` (strings, None, booleans,
    integers, floats, lists and tuples, dicts, then :func:`default`), appended to one list instead of yielded
    through a generator per level of nesting; values of the plain types (:data:`_PLAIN`) are written in the
    loop over their container, and each distinct text key is encoded once. With ``write`` the text goes
    through it every :data:`_PIECE` tokens (and ``""`` is returned).
    """
    out: list[str] = []
    keys: dict[str, str] = {}

    if write is None:
        put = out.append
    else:
        flush = write

        def put(token: str) -> None:
            out.append(token)
            if len(out) >= _PIECE:
                flush("".join(out))
                out.clear()

    def encode(o: Any, level: int) -> None:
        if isinstance(o, str):
            put(encode_basestring(o))
        elif o is None:
            put("null")
        elif o is True:
            put("true")
        elif o is False:
            put("false")
        elif isinstance(o, int):
            put(int.__repr__(o))
        elif isinstance(o, float):
            put(_float(o))
        elif isinstance(o, list | tuple):
            if not o:
                put("[]")
                return
            inner = "\n" + indent * (level + 1)
            sep = "[" + inner
            for item in o:
                write = _PLAIN.get(type(item))
                if write is None:
                    put(sep)
                    encode(item, level + 1)
                else:
                    put(sep + write(item))
                sep = "," + inner
            put("\n" + indent * level + "]")
        elif isinstance(o, dict):
            if not o:
                put("{}")
                return
            inner = "\n" + indent * (level + 1)
            sep = "{" + inner
            for k, v in o.items():
                if type(k) is str:
                    name = keys.get(k)
                    if name is None:
                        name = keys[k] = encode_basestring(k) + ": "
                else:
                    name = _key(k) + ": "
                write = _PLAIN.get(type(v))
                if write is None:
                    put(sep + name)
                    encode(v, level + 1)
                else:
                    put(sep + name + write(v))
                sep = "," + inner
            put("\n" + indent * level + "}")
        elif isinstance(o, Records) and len(o):  # its rows a batch at a time, as the list of them
            inner = "\n" + indent * (level + 1)
            sep = "[" + inner
            for batch in o.batches():
                for item in batch:
                    put(sep)
                    encode(item, level + 1)
                    sep = "," + inner
            put("\n" + indent * level + "]")
        else:
            encode(default(o), level)

    encode(document, 0)
    if write is None:
        return "".join(out)
    write("".join(out))
    return ""


#: Items of a list written by one call of the standard library's encoder in :func:`utf8`.
_BATCH = 2048


def utf8(document: Any) -> bytearray:
    """``dumps(document, indent=None)`` as UTF-8 bytes, written piece by piece into one buffer.

    The same text, byte for byte, without ever holding it as one Python string: dictionaries are written key
    by key and long lists :data:`_BATCH` items at a time by the standard library's encoder, each piece
    encoded to UTF-8 and appended, so that a document of millions of rows costs its bytes once (the whole
    text as ``str``, the encoder's list of pieces and a UTF-8 copy cost four to five times that).
    """
    out = bytearray()
    _compact(document, out)
    return out


def _compact(o: Any, out: bytearray) -> None:
    """Append ``o`` to ``out`` as :func:`utf8` writes it."""
    kind = type(o)
    if kind is dict and o:
        sep = "{"
        for k, v in o.items():
            out += (sep + _key(k) + ": ").encode()
            _compact(v, out)
            sep = ", "
        out += b"}"
    elif kind is list and len(o) > _BATCH:
        for i in range(0, len(o), _BATCH):
            out += b", " if i else b"["
            out += _whole(o[i : i + _BATCH])[1:-1].encode()
        out += b"]"
    elif kind is Records and o:
        _records(o, out)
    else:
        out += _whole(o).encode()


#: Rows of :class:`Records` :func:`utf8` writes at a time.
_ROWS = 65536


def _records(records: Records, out: bytearray) -> None:
    """Append ``records`` as the list of its rows' objects, column by column: no dict made per row.

    Each column's values become their JSON texts (one call over the column for a column of one plain type),
    and each row is its texts put into one format of the row's keys.
    """
    names = [_key(k) + ": " for k in records.columns]
    row = "{" + ", ".join(name.replace("%", "%%") + "%s" for name in names) + "}"
    for start in range(0, len(records), _ROWS):
        texts = [_texts(values[start : start + _ROWS]) for values in records.columns.values()]
        out += b", " if start else b"["
        out += ", ".join(map(row.__mod__, zip(*texts, strict=True))).encode()
    out += b"]"


def _texts(values: Sequence[Any]) -> list[str]:
    """The JSON text of each of ``values``, as the standard library writes it."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        write = _PLAIN.get(next(iter(kinds)))
        if write is not None:
            return list(map(write, values))
    if all(kind in _PLAIN for kind in kinds):
        return [_PLAIN[type(v)](v) for v in values]
    return [_whole(v) for v in values]


def _whole(o: Any) -> str:
    """``o`` as one line of JSON by the standard library (what :func:`dumps` writes with no indent)."""
    return json.dumps(o, indent=None, default=default, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """``value`` with every leaf JSON knows, as :func:`dumps` would write it (a round trip through JSON)."""
    return json.loads(dumps(value, indent=None))
