"""The reporting currency of a store: the setting when it is given, else the one currency of the records.

A business whose every record is in one currency (a grocery chain pricing in New Taiwan dollars) needs no
exchange-rate table and no setting: its reports are in that currency, and the reports say so in a note.
Records in several currencies need rates (``[value] fx``) for all of them but the reporting currency; when
``[value] reporting_currency`` is not set, it is the one currency of the records without a rate (or USD, the
currency the rates are read in, when every one has a rate). Otherwise the error names the currencies and the
settings to add.

Every stage that shows money calls :func:`resolve_currency` (or :func:`reporting_currency`) once, at its front
door, and passes the resolved :class:`~keepwise.config.Config` on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store, as_store
from keepwise.store.currencies import listed, missing_rates, record_currencies
from keepwise.store.inventory import Note

__all__ = ["FALLBACK", "reporting_currency", "resolve_currency"]

#: The currency of a store with no records yet, and the one ``[value] fx`` rates are read in when every
#: currency of the records has a rate and ``reporting_currency`` is not set.
FALLBACK = "USD"


def _where(found: dict[str, tuple[str, ...]]) -> str:
    """``orders`` when every currency is one of the orders', else ``your records``."""
    every = {c for codes in found.values() for c in codes}
    return "orders" if every <= set(found.get("orders", ())) else "your records"


def resolve_currency(store: Store | Any, config: Config) -> tuple[Config, Note | None]:
    """``config`` with ``[value] reporting_currency`` set, and the note saying how it was chosen.

    Parameters
    ----------
    store:
        The store (an Ibis backend is accepted too).
    config:
        The assumptions; returned unchanged (and no note) when ``reporting_currency`` is set.

    Returns
    -------
    tuple
        ``(config, note)``: the note (input ``value.reporting_currency``) says which currency was used and
        why; ``None`` when the setting was given.

    Raises
    ------
    KeepwiseInputError
        The records are in several currencies, the setting is not given, and two or more of them have no
        rate in ``[value] fx``: the message names them and the settings to add.
    """
    value = config.value
    if value.reporting_currency is not None:
        return config, None
    found = record_currencies(as_store(store))
    every = sorted({c for codes in found.values() for c in codes})
    if not every:
        code, why = FALLBACK, "the store holds no amounts yet"
    elif len(every) == 1:
        code, why = (
            every[0],
            f"the one currency of {'the orders' if _where(found) == 'orders' else 'your records'}",
        )
    else:
        without = [c for c in every if c not in value.fx]
        if len(without) == 1:
            code = without[0]
            why = f"{_where(found)} are in {listed(every)} and {code} is the one without a rate in [value] fx"
        elif not without:
            code = FALLBACK
            why = (
                f"every currency of {_where(found)} has a rate in [value] fx, read as what 1 unit is "
                f"worth in {FALLBACK}"
            )
        else:
            code = _suggested(store, without, found.get("orders", ()))
            raise KeepwiseInputError(
                missing_rates(_where(found), every, code, [c for c in without if c != code])
            )
    resolved = dataclasses.replace(config, value=dataclasses.replace(value, reporting_currency=code))
    return resolved, Note("value.reporting_currency", "not set", f"amounts are reported in {code}, {why}")


def reporting_currency(store: Store | Any, config: Config) -> str:
    """The currency a stage reports in (:func:`resolve_currency`), for code that only needs the code."""
    code = resolve_currency(store, config)[0].value.reporting_currency
    assert code is not None
    return code


def _suggested(store: Store | Any, without: list[str], of_orders: tuple[str, ...]) -> str:
    """The currency to suggest reporting in when several lack a rate.

    USD when it is one of the orders' currencies without a rate, else the orders' commonest currency without
    one, else USD or the first currency without a rate (e.g. staff rates in another currency).
    """
    in_orders = [c for c in without if c in of_orders]
    if FALLBACK in in_orders:
        return FALLBACK
    if in_orders:
        return _commonest(store, in_orders)
    return FALLBACK if FALLBACK in without else without[0]


def _commonest(store: Store | Any, codes: list[str]) -> str:
    """The currency of ``codes`` with the most order lines (the natural one to report in)."""
    orders = as_store(store).table("orders")
    counts = orders.filter(orders.currency.isin(codes)).currency.value_counts()
    frame = as_store(store).to_pandas(counts)
    if frame.empty:
        return codes[0]
    frame = frame.sort_values([frame.columns[1], frame.columns[0]], ascending=[False, True])
    return str(frame.iloc[0, 0])
