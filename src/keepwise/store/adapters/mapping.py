"""``keepwise import mapping FILE.yaml DATA.csv``: any CSV, mapped onto a contract table by a small YAML file.

Example (a till's sales export)::

    table: orders                 # the contract table the file fills
    source: till                  # its ids become till:ID (the same sale from two exports is one row)
    columns:                      # contract column: the file's column
      order_id: Receipt
      line_no: Line
      ordered_at: Date
      product_id: Item
      quantity: Qty
      unit_price: Price
    customer:                     # who the row belongs to, matched like every import (or map customer_id)
      email: Customer e-mail      # also: id (the tool's customer id), client (a name), name
    create_customers: true        # unknown e-mail -> a new customer (default for orders); false: report them
    date_format: "%d.%m.%Y %H:%M" # how the dates are written (default: ISO 8601)
    timezone: Europe/Warsaw       # the zone of times written without one
    currency: PLN                 # a constant for every row of a column not in the file
    constants:
      category: bakery

Amounts may use a decimal comma. Errors name the data file, its row and its column, as for every import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import as_utc, localize, money, normal_email, timestamps, zone
from keepwise.store.schema import SCHEMA

__all__ = ["load_mapping"]

_KEYS = {
    "table",
    "source",
    "columns",
    "customer",
    "create_customers",
    "date_format",
    "timezone",
    "currency",
    "constants",
}
_WHO = {"email": "_email", "id": "_ext", "client": "_client", "name": "_name"}


def load_mapping(path: str | Path) -> Adapter:
    """The adapter a mapping file describes; a mistake in the file names the file and what to fix."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KeepwiseInputError(
            f"{path.name}: cannot be read as YAML ({str(exc).splitlines()[0]})"
        ) from None
    if not isinstance(spec, dict):
        raise KeepwiseInputError(f"{path.name}: expected keys such as table, columns, customer")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise KeepwiseInputError(
            f"{path.name}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_KEYS))}"
        )
    name = spec.get("table")
    if name not in SCHEMA or not SCHEMA[name].loadable:
        known = ", ".join(t for t, s in SCHEMA.items() if s.loadable)
        raise KeepwiseInputError(f"{path.name}: table must be one of {known} (got {name!r})")
    table = SCHEMA[name]
    columns: dict[str, str] = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
    who: dict[str, str] = {str(k): str(v) for k, v in (spec.get("customer") or {}).items()}
    for col in columns:
        if col not in table.column_names:
            raise KeepwiseInputError(
                f"{path.name}: {name} has no column {col!r}; its columns: {', '.join(table.column_names)}"
            )
    for key in who:
        if key not in _WHO:
            raise KeepwiseInputError(f"{path.name}: customer takes email, id, client or name (got {key!r})")
    constants = {str(k): str(v) for k, v in (spec.get("constants") or {}).items()}
    if spec.get("currency") and "currency" in table.column_names:
        constants.setdefault("currency", str(spec["currency"]))
    matched = bool(who) and "customer_id" in table.column_names and "customer_id" not in columns
    missing = [
        c.name
        for c in table.columns
        if c.required
        and c.name not in columns
        and c.name not in constants
        and not (c.name == "customer_id" and matched)
    ]
    if missing:
        raise KeepwiseInputError(
            f"{path.name}: map the {name} column(s) {', '.join(missing)} (under columns or constants)"
        )
    source = str(spec.get("source") or path.stem)
    settings = {
        "table": name,
        "source": source,
        "columns": columns,
        "who": who if matched else {},
        "constants": constants,
        "date_format": spec.get("date_format"),
        "timezone": spec.get("timezone"),
        "prefix": bool(spec.get("source")),
    }
    file_columns = tuple(dict.fromkeys([*columns.values(), *(who.values() if matched else [])]))

    def mapper(frame: pd.DataFrame, ctx: Context) -> Mapped:
        return _map(frame, ctx, settings)

    return Adapter(
        name=f"{source}-mapping",
        title=f"{path.name} mapping",
        where=f"the mapping file {path.name}",
        required=tuple((c,) for c in file_columns),
        signature=file_columns or ("",),
        reads=file_columns,
        map=mapper,
        creates_customers=bool(spec.get("create_customers", name == "orders")),
        source=source,
    )


def _map(frame: pd.DataFrame, ctx: Context, s: dict[str, Any]) -> Mapped:
    table = SCHEMA[s["table"]]
    out = Mapped()
    rows: dict[str, Any] = {}
    tz = s["timezone"] or ctx.timezone
    for col in table.columns:
        if col.name in s["columns"]:
            source = s["columns"][col.name]
            if col.type == "timestamp":
                rows[col.name] = as_utc(_times(frame, source, ctx, s["date_format"], tz))
            elif col.type in ("money", "quantity", "minutes"):
                values = money(frame, source, ctx.name, default=None)
                rows[col.name] = values.round(4)
            elif col.type == "currency":
                rows[col.name] = frame[source].str.upper()
            else:
                rows[col.name] = frame[source].where(frame[source] != "", None)
        elif col.name in s["constants"]:
            rows[col.name] = s["constants"][col.name]
    key = table.key[0]
    if s["prefix"] and key.endswith("_id") and key != "customer_id" and key in rows:
        rows[key] = s["source"] + ":" + rows[key].astype(str)
    result = pd.DataFrame(rows, index=frame.index)
    result[ROW] = frame[ROW]
    if s["who"]:
        for key_name, internal in _WHO.items():
            column = s["who"].get(key_name)
            value = frame[column] if column else pd.Series("", index=frame.index)
            result[internal] = normal_email(value) if key_name == "email" else value
    out.tables[table.name] = result
    out.columns[table.name] = {**s["columns"], **{_WHO[k]: v for k, v in s["who"].items()}}
    return out


def _times(frame: pd.DataFrame, column: str, ctx: Context, fmt: str | None, tz: str | None) -> pd.Series:
    if not fmt:
        return timestamps(frame, column, ctx.name, tz)
    parsed = pd.to_datetime(frame[column], format=fmt, errors="coerce", utc="%z" in fmt)
    bad = parsed.isna() & (frame[column] != "")
    if bool(bad.any()):
        at = bad.to_numpy().nonzero()[0][0]
        from keepwise.exceptions import LoadError

        raise LoadError(
            ctx.name,
            f"unreadable date '{frame[column].iloc[at]}' (expected {fmt})",
            row=int(frame[ROW].iloc[at]),
            column=column,
        )
    if "%z" in fmt:
        return parsed
    return localize(parsed, zone(tz, ctx.name, f"times in '{column}'"))
