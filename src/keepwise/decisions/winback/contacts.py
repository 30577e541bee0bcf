"""Whom the stored win-back ranking says to contact, with which offer (in their language) and why.

The message flows (:func:`keepwise.messages.flows.due`) call :func:`contacts`: the win-back letters go only
to customers ``keepwise winback`` ranked worth a contact, each with the offer the ranking chose for them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, overload

import pandas as pd

from keepwise.store import Store, as_store

__all__ = ["COLUMNS", "contacts"]

#: The columns of :func:`contacts`' frame.
COLUMNS = ("customer_id", "rank", "offer", "reason", "expected_value", "month")

_TABLE = "winback"


def _month_end(month: str) -> pd.Timestamp:
    return (pd.Period(month, "M") + 1).start_time.tz_localize("UTC")


def _stored_month(store: Store, as_of: datetime | None) -> str | None:
    """The latest month of the stored ranking that ended by ``as_of`` (any month when ``as_of`` is None)."""
    if not store.has_table(_TABLE):
        return None
    months = sorted(set(store.read(_TABLE, columns=["month"])["month"].astype(str)), reverse=True)
    for month in months:
        if as_of is None or _month_end(month) <= pd.Timestamp(as_of):
            return month
    return None


def _words(store: Store, month: str) -> dict[str, dict[str, str]]:
    """``{customer_id: {language: offer words}}`` from the month's stored ranking document."""
    from keepwise.store.store import DOCUMENTS

    if not store.has_table(DOCUMENTS):
        return {}
    docs = store.read(DOCUMENTS, where={"kind": "winback", "month": month})
    if docs.empty:
        return {}
    body = json.loads(docs.sort_values("written_at").body.iloc[-1])
    out: dict[str, dict[str, str]] = {}
    for row in body.get("ranked", []):
        words = (row.get("offer") or {}).get("words")
        if words:
            out[str(row["customer_id"])] = dict(words)
    return out


def _languages(store: Store, ids: list[str]) -> dict[str, str]:
    if not ids or not store.has_table("customers"):
        return {}
    frame = store.read("customers", columns=["customer_id", "language"])
    frame = frame[frame["customer_id"].astype(str).isin(ids)]
    return {
        str(c): str(lang or "en") for c, lang in zip(frame["customer_id"], frame["language"], strict=True)
    }


def _why(reasons: Any, recommendation: Any) -> str:
    lines = str(reasons or "").splitlines()
    ev = [line for line in lines if line.startswith("expected value")]
    return f"{recommendation}; {ev[-1]}" if ev else str(recommendation)


@overload
def contacts(
    store: Store, month: str | None = None, *, as_of: datetime | None = None, compute: Literal[True] = True
) -> pd.DataFrame: ...


@overload
def contacts(
    store: Store, month: str | None = None, *, as_of: datetime | None = None, compute: bool
) -> pd.DataFrame | None: ...


def contacts(
    store: Store, month: str | None = None, *, as_of: datetime | None = None, compute: bool = True
) -> pd.DataFrame | None:
    """The customers the stored win-back ranking says to contact: ``customer_id, rank, offer, reason, ...``.

    Parameters
    ----------
    store:
        The store.
    month:
        The ranking's month, ``YYYY-MM``; default: the latest month stored in the ``winback`` table that
        ended by ``as_of`` (``keepwise winback`` stores it). With no stored ranking the ranking of the last
        complete month is computed (not stored), or with ``compute=False`` ``None`` is returned.
    as_of:
        The moment the contacts are for (the flows' run).
    compute:
        Compute the ranking when none is stored (else return ``None``): the flows act on a stored one only.

    Returns
    -------
    pandas.DataFrame
        One row per customer worth a contact, best first: ``offer`` is the chosen offer in the customer's
        language (``customers.language``; English when the study has no words in it), ``reason`` the
        ranking's recommendation and its expected-value line, ``expected_value`` a decimal, ``month`` the
        ranking's month.
    """
    store = as_store(store)
    chosen = month or _stored_month(store, as_of)
    if chosen is None and not compute:
        return None
    if chosen is None:
        from keepwise.decisions.winback.stage import rows_frame, run

        result = run(store, save=False)
        rows, chosen = rows_frame(result.ranking, store), result.month
        words = {
            r.customer.customer_id: dict(r.offer.words)
            for r in result.ranking.top()
            if r.offer is not None and r.offer.words
        }
    else:
        rows = store.read(_TABLE, where={"month": chosen})
        words = _words(store, chosen)
    rows = rows[rows["status"].astype(str) == "contact"].sort_values("rank")
    ids = [str(c) for c in rows["customer_id"]]
    languages = _languages(store, ids)
    offers = []
    for cid, text in zip(ids, rows["offer"], strict=True):
        mine = words.get(cid, {})
        offers.append(mine.get(languages.get(cid, "en")) or mine.get("en") or str(text))
    return pd.DataFrame(
        {
            "customer_id": ids,
            "rank": rows["rank"].astype("Int64").to_numpy(),
            "offer": offers,
            "reason": [_why(r, c) for r, c in zip(rows["reasons"], rows["recommendation"], strict=True)],
            "expected_value": list(rows["expected_value"]),
            "month": chosen,
        },
        columns=list(COLUMNS),
    )
