"""The win-back stage's front door (:func:`run`) and the hook the message flows call (:func:`offer_for`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from keepwise.config import Config, load_config
from keepwise.decisions._frames import money, stamps, text
from keepwise.decisions.winback.ranking import WinbackRanking, rank_winback
from keepwise.exceptions import BadInput
from keepwise.store import Store, as_store
from keepwise.store.memo import once

if TYPE_CHECKING:
    from keepwise.conjoint.study import Study

__all__ = ["TABLE", "WinbackResult", "cut", "offer_for", "rows_frame", "run", "stored"]

#: The store table of the ranking's rows, one per lost customer of the month's ledger (``month`` column).
TABLE = "winback"


@dataclass
class WinbackResult:
    """What :func:`run` returns: the whole ranking, and how many of the ranked customers to show."""

    ranking: WinbackRanking
    top: int | None = None
    #: rows written to the ``winback`` table (``None``: not saved)
    saved: int | None = None

    @property
    def month(self) -> str:
        """The month of the ledger, ``YYYY-MM``."""
        return self.ranking.month

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise winback --json`` prints: the ranking with the ranked list cut to ``top``."""
        return self.ranking.to_json(top=self.top)


def rows_frame(ranking: WinbackRanking, store: Store | None = None) -> pd.DataFrame:
    """One row per lost customer of the ranking, as the ``winback`` table holds them (without ``month``).

    Money columns are decimals of the reporting currency; ``chance`` is the customer's own chance
    (empty for those not ranked); ``reasons`` are the reasons, one per line. ``store``: the store the
    frame is for (its engine decides how money travels, :mod:`keepwise.decisions._frames`).
    """
    rows = ranking.rows

    def amounts(name: str) -> pd.Series:
        return money([getattr(r, name) for r in rows], store)

    return pd.DataFrame(
        {
            "customer_id": text([r.customer.customer_id for r in rows]),
            "rank": pd.Series([r.rank for r in rows], dtype="Int64"),
            "status": text([r.status for r in rows]),
            "recommendation": text([r.recommendation for r in rows]),
            "lost_at": stamps([r.customer.lost_at for r in rows]),
            "how": text([r.customer.how for r in rows]),
            "reason": text([r.customer.reason for r in rows]),
            "competitor": text([r.customer.competitor for r in rows]),
            "tier": text([r.customer.tier for r in rows]),
            "wanted_back": pd.Series([r.customer.wanted_back for r in rows], dtype="boolean"),
            "failed_attempts": pd.Series([r.customer.failed_attempts for r in rows], dtype="Int64"),
            "lifetime_profit": money([r.customer.profit for r in rows], store),
            "chance": pd.Series(
                [None if r.used_chance is None else round(r.used_chance, 4) for r in rows], dtype="Float64"
            ),
            "offer": text([None if r.offer is None else r.offer.text for r in rows]),
            "offer_cost": money([None if r.offer is None else r.offer.cost for r in rows], store),
            "monthly_profit": amounts("monthly_profit"),
            "value_if_back": amounts("value_if_back"),
            "contact_cost": amounts("contact_cost"),
            "expected_value": amounts("expected_value"),
            "currency": text([r.customer.currency for r in rows]),
            "reasons": text(["\n".join(r.reasons) for r in rows]),
        }
    )


def run(
    store: Store,
    month: str | None = None,
    *,
    config: Config | None = None,
    top: int | None = None,
    study: Study | str | Path | None = None,
    save: bool = True,
) -> WinbackResult:
    """Rank the lost customers of ``month`` by the expected value of winning them back (the stage's door).

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    month:
        ``YYYY-MM``; default: the last complete month of the orders.
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` (:func:`keepwise.config.load_config`).
    top:
        List at most this many customers worth a contact in the result's JSON (``None`` or 0: all).
    study:
        The stored conjoint study's YAML file (or design): its prohibited offers are never proposed.
    save:
        Write every lost customer's row to the ``winback`` table (the month's rows replaced) and the whole
        document (no ``top`` cut) as the stage document ``winback`` of the month.

    Returns
    -------
    WinbackResult
        Its ``to_json()`` is what ``keepwise winback --json`` prints.
    """
    if top is not None and top < 0:
        raise BadInput("top", f"must be 0 (all) or more, not {top}")
    store = as_store(store)
    ranking = rank_winback(store, month, config=config or load_config(), study=study)
    saved = None
    if save:
        variant = "" if study is None else f"study={getattr(study, 'name', study)}"
        with store.transaction():
            if not store.has_table(TABLE):  # its columns typed by an empty frame (money as decimals)
                empty = rows_frame(replace(ranking, rows=[]))
                empty.insert(0, "month", text([]))
                store.append(TABLE, empty)
            saved = store.replace_month(TABLE, ranking.month, rows_frame(ranking, store), column="month")
            store.save_document("winback", ranking.month, ranking.to_json(), variant=variant)
    return WinbackResult(ranking, top or None, saved)


def stored(store: Store, month: str, *, top: int | None = None, variant: str = "") -> dict[str, Any] | None:
    """The document :func:`run` saved for ``month``, cut to ``top`` as ``keepwise winback --top`` cuts it.

    Reads the stage document (never ranks again) and applies :func:`cut`. ``None`` when no ranking of
    ``month`` is stored.
    """
    doc: dict[str, Any] | None = as_store(store).load_document("winback", month, variant=variant)
    return None if doc is None else cut(doc, top)


def cut(document: dict[str, Any], top: int | None) -> dict[str, Any]:
    """A stored (uncut) ranking document as ``to_json(top)`` gives it: ``ranked`` cut to its first ``top``.

    ``expected_value_of_ranked`` is summed over the rows kept (``None`` or 0: all, the document as it is).
    The document given is not changed.
    """
    if not top:
        return document
    from decimal import Decimal

    from keepwise.money import cents

    ranked = document["ranked"][:top]
    total = sum((Decimal(r.get("expected_value") or 0) for r in ranked), Decimal(0))
    return {**document, "ranked": ranked, "expected_value_of_ranked": cents(total)}


# --- the hook the message flows call --------------------------------------------------------------------
_CACHE: dict[int, tuple[tuple[Any, ...], WinbackRanking]] = {}

#: Tables the ranking depends on, with the column whose latest value marks a change.
_DEPENDS_ON = (
    ("orders", "ordered_at"),
    ("exits", "lost_at"),
    ("winback_attempts", "attempted_at"),
    ("conjoint_studies", "saved_at"),
)


@once
def _fingerprint(store: Store) -> tuple[Any, ...]:
    """What the ranking depends on, cheaply: row counts and latest times of its tables.

    Once per run (:func:`keepwise.store.memo.one_run`): a flow asks for every due customer's offer.
    """
    tables = set(store.tables())
    stamp: list[Any] = []
    for name, col in _DEPENDS_ON:
        if name not in tables:
            stamp += [None, None]
            continue
        t = store.table(name)
        row = t.aggregate(n=t.count(), last=t[col].max()).to_pyarrow().to_pylist()[0]
        stamp += [row["n"], row["last"]]
    return tuple(stamp)


def offer_for(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The win-back offer for ``customer_id`` when the ranking says to contact them, else ``None``.

    Called by :func:`keepwise.messages.flows.decided_offer`. The answer is a mapping with ``kind``
    (``other``), ``note`` (the offer in words), and ``amount``/``currency``/``percent``/``code``/
    ``valid_until`` left empty. The ranking of the last complete month is computed once per store state
    (orders, exits, attempts, studies) and reused for every customer of a flow run.
    """
    store = as_store(store)
    key = id(store.backend)
    stamp = _fingerprint(store)
    cached = _CACHE.get(key)
    if cached is None or cached[0] != stamp:
        ranking = rank_winback(store)
        _CACHE[key] = (stamp, ranking)
    else:
        ranking = cached[1]
    row = ranking.row(customer_id)
    if row is None or row.status != "contact" or row.offer is None:
        return None
    grant = dict(row.offer.grant)
    grant.setdefault("amount", None)
    grant.setdefault("currency", None)
    grant.setdefault("percent", None)
    grant.setdefault("code", None)
    grant.setdefault("valid_until", None)
    return grant
