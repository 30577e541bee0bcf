"""The concession decision log: every recommendation, what the representative did, and what followed.

Rows live in the store's ``decision_log`` table (:mod:`keepwise.store.schema`, written only by keepwise):

- :func:`log_advice` writes one row per recommendation of the concession advisor (``action`` and ``outcome``
  ``pending``);
- :func:`record_action` records what the representative did: ``granted`` (with the amount; by default the
  amount recommended, or the amount asked when the advice was to refuse) or ``refused``;
- :func:`fill_outcomes` fills in what happened to the customer, from the store: **left** when an exit is
  recorded within ``outcome_window_days`` after the decision; once the window has passed (the store holds
  an order or an exit at least that late), **stayed** when they ordered in it, else **quiet** (no order and
  no recorded exit: too early to say they left);
- :func:`concession_report` sums it up by month: granted and refused, advice followed or overridden, the
  outcomes, money spent against the margin the customers who were granted a concession and stayed brought in
  the window, with the reasons in words.

The advice was **followed** when a recommended approve or counter was granted at no more than the amount
recommended, or a recommended refuse was refused; anything else **overrode** it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import pandas as pd

from keepwise import features
from keepwise.config import Config, load_config
from keepwise.decisions._frames import money, stamps, text
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.money import cents, shown
from keepwise.store import SCHEMA, Store, as_store
from keepwise.store.inventory import Note, inventory
from keepwise.value.profitability import reporting_currency

__all__ = [
    "ConcessionReport",
    "concession_report",
    "fill_outcomes",
    "log_advice",
    "logged",
    "record_action",
    "recorded_document",
    "report",
]

Action = Literal["granted", "refused"]
CENT = Decimal("0.01")


#: The store table of the log.
TABLE = "decision_log"


def _utc(at: datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(at) if at is not None else pd.Timestamp(datetime.now(UTC))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _plain(value: Any) -> Any:
    """A value read back from the store as a plain Python value (``None`` for missing, datetimes)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def _next_id(store: Store, decided_at: pd.Timestamp, customer_id: str) -> str:
    from keepwise.store.customer_history import count_of

    prefix = f"d-{decided_at:%Y%m%d}-{customer_id}-"
    if store.is_duckdb or store.is_postgres:  # plain SQL: no Ibis compilation per question
        return f"{prefix}{count_of(store, TABLE, {}, starting={'decision_id': prefix}) + 1}"
    if not store.has_table(TABLE):
        return f"{prefix}1"
    t = store.table(TABLE)
    n: Any = store.to_pandas(t.filter(t.decision_id.startswith(prefix)).count())
    return f"{prefix}{int(n) + 1}"


def log_advice(store: Store, advice: Any, decided_at: datetime | pd.Timestamp | None = None) -> str:
    """Write one concession recommendation (:class:`~keepwise.decisions.concession.ConcessionAdvice`).

    Returns
    -------
    str
        The decision id, ``d-YYYYMMDD-CUSTOMER-N`` (N counts that customer's decisions that day).
    """
    store = as_store(store)
    at = _utc(decided_at)
    f = advice.figures
    with store.transaction():
        decision_id = _next_id(store, at, f.customer_id)
        row = pd.DataFrame(
            {
                "decision_id": text([decision_id]),
                "kind": text(["concession"]),
                "customer_id": text([f.customer_id]),
                "incident_id": text([f.incident_id]),
                "decided_at": stamps([at]),
                "recommendation": text([advice.decision]),
                "asked": money([advice.asked], store),
                "recommended": money([advice.recommended], store),
                "expected_benefit": money([advice.expected_benefit], store),
                "currency": text([f.currency]),
                "action": text(["pending"]),
                "granted": money([None], store),
                "outcome": text(["pending"]),
                "outcome_at": stamps([None]),
                "reasons": text(["\n".join(advice.reasons)]),
            }
        )
        store.append(TABLE, row)
    return decision_id


def logged(store: Store, decision_id: str) -> dict[str, Any]:
    """One logged decision as a dict (money as Decimal), or an input error naming the unknown id."""
    store = as_store(store)
    df = store.read(TABLE, where={"decision_id": decision_id}) if store.has_table(TABLE) else pd.DataFrame()
    if df.empty:
        raise KeepwiseInputError(
            f"unknown decision id '{decision_id}': it is printed by keepwise concession (decision_id)"
        )
    return {str(k): _plain(v) for k, v in df.iloc[0].items()}


def record_action(
    store: Store, decision_id: str, action: str, amount: Decimal | str | float | None = None
) -> dict[str, Any]:
    """Record what the representative did about a decision: ``granted`` (with ``amount``) or ``refused``.

    Returns
    -------
    dict
        The updated row, plus ``followed`` (bool: the advice was followed).
    """
    if action not in ("granted", "refused"):
        raise BadInput("action", f"must be granted or refused, not '{action}'")
    store = as_store(store)
    row = logged(store, decision_id)
    if action == "refused":
        if amount is not None and Decimal(str(amount)) != 0:
            raise KeepwiseInputError("--amount goes with --action granted only")
        granted: Decimal | None = None
    elif amount is None:
        granted = row["recommended"] if row["recommendation"] != "refuse" else row["asked"]
        if granted is None:
            raise BadInput("amount", "is needed: the decision has no amount asked for")
    else:
        try:
            granted = Decimal(str(amount))
        except ArithmeticError:
            raise BadInput("amount", f"must be an amount such as 120.00, not {amount!r}") from None
        if not granted.is_finite() or granted <= 0:
            raise BadInput("amount", f"must be more than 0, not {amount}")
    if granted is not None:
        granted = Decimal(granted).quantize(CENT, rounding=ROUND_HALF_UP)
    with store.transaction():
        store.update(TABLE, {"action": action, "granted": granted}, where={"decision_id": decision_id})
        out = logged(store, decision_id)
    out["followed"] = _followed(out["recommendation"], out["action"], out["recommended"], out["granted"])
    return out


def recorded_document(row: dict[str, Any]) -> dict[str, Any]:
    """What :func:`record_action` returned, as ``keepwise concessions record --json`` and the API print it."""
    granted = row["granted"]
    return {
        "decision_id": row["decision_id"],
        "customer_id": row["customer_id"],
        "recommendation": row["recommendation"],
        "action": row["action"],
        "granted": None if granted is None else f"{granted:.2f}",
        "currency": row["currency"],
        "followed": row["followed"],
    }


def _followed(recommendation: str, action: str | None, recommended: Any, granted: Any) -> bool | None:
    if action not in ("granted", "refused"):
        return None
    if recommendation == "refuse":
        return action == "refused"
    return action == "granted" and Decimal(str(granted or 0)) <= Decimal(str(recommended or 0))


def _data_end(store: Store) -> pd.Timestamp | None:
    """The latest order or exit in the store (``None`` when there is neither)."""
    ends = []
    for name, col in (("orders", "ordered_at"), ("exits", "lost_at")):
        value = store.table(name)[col].max().to_pyarrow().as_py()
        if value is not None:
            ends.append(_utc(value))
    return max(ends) if ends else None


def _within(
    store: Store, decisions: Any, table: str | Any, at: str, window_days: int, keep: Any = None
) -> Any:
    """``decisions`` joined with the same customer's rows of ``table`` in the window after each one.

    ``table`` is a table's name or an expression (the priced order lines).
    """
    import ibis

    t = store.table(table) if isinstance(table, str) else table
    if keep is not None:
        t = t.filter(keep(t))
    t = t.rename(_customer="customer_id")
    return decisions.join(
        t,
        [
            decisions.customer_id == t._customer,
            t[at] > decisions.decided_at,
            t[at] <= decisions.decided_at + ibis.interval(days=int(window_days)),
        ],
    )


def fill_outcomes(store: Store, window_days: int = 90) -> dict[str, int]:
    """Fill in ``outcome`` (stayed, left, quiet) of the pending decisions from the store's orders and exits.

    Returns
    -------
    dict
        How many decisions became ``stayed``, ``left`` and ``quiet``, and how many are still ``pending``.
    """
    if window_days < 1:
        raise BadInput("window_days", "must be at least 1 day (the outcome window)")
    store = as_store(store)
    counts = {"stayed": 0, "left": 0, "quiet": 0, "pending": 0}
    if not store.has_table(TABLE):  # nothing logged yet
        return counts
    end = _data_end(store)
    log = store.table(TABLE)
    d = log.filter(log.outcome.fill_null("pending") == "pending").select(
        "decision_id", "customer_id", "decided_at"
    )
    # the first exit and the first order after each pending decision, within the window
    left = _within(store, d, "exits", "lost_at", window_days)
    left = left.group_by("decision_id").aggregate(left_at=left.lost_at.min())
    came = _within(store, d, "orders", "ordered_at", window_days, keep=lambda o: o.quantity > 0)
    came = came.group_by("decision_id").aggregate(ordered_at=came.ordered_at.min())
    rows = store.to_pandas(d.select("decision_id", "decided_at"))
    rows = rows.merge(store.to_pandas(left), on="decision_id", how="left")
    rows = rows.merge(store.to_pandas(came), on="decision_id", how="left")
    updates: dict[str, tuple[str, Any]] = {}
    for decision_id, decided_at, left_at, ordered_at in rows.itertuples(index=False):
        left_at, ordered_at = _plain(left_at), _plain(ordered_at)
        elapsed = end is not None and end >= _utc(decided_at) + pd.Timedelta(days=window_days)
        if left_at is not None:
            outcome, at = "left", left_at
        elif elapsed and ordered_at is not None:
            outcome, at = "stayed", ordered_at
        elif elapsed:
            outcome, at = "quiet", (_utc(decided_at) + pd.Timedelta(days=window_days)).to_pydatetime()
        else:
            counts["pending"] += 1
            continue
        counts[outcome] += 1
        updates[str(decision_id)] = (outcome, at)
    if updates:
        _set_outcomes(store, updates)
    return counts


def _set_outcomes(store: Store, updates: dict[str, tuple[str, Any]]) -> None:
    """Write ``outcome`` and ``outcome_at`` of the decisions in ``updates`` (one upsert, every engine)."""
    log = store.table(TABLE)
    rows = store.to_pandas(log.filter(log.decision_id.isin(list(updates))))
    rows["outcome"] = text([updates[str(i)][0] for i in rows["decision_id"]])
    rows["outcome_at"] = stamps([updates[str(i)][1] for i in rows["decision_id"]])
    for col in ("asked", "recommended", "expected_benefit", "granted"):
        rows[col] = money([_plain(v) for v in rows[col]], store)
    store.upsert(TABLE, rows, key=["decision_id"])


@dataclass
class ConcessionReport:
    """Concession decisions by month and in total, with the reasons in words."""

    currency: str
    window_days: int
    since: str | None
    months: list[dict[str, Any]]
    total: dict[str, Any]
    reasons: list[str]
    #: inputs the report lacked and what it did instead
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (money as strings with two decimals)."""
        return {
            "currency": self.currency,
            "outcome_window_days": self.window_days,
            "since": self.since,
            "months": self.months,
            "total": self.total,
            "reasons": self.reasons,
            "notes": [n.to_json() for n in self.notes],
        }


_MONEY = ("spent", "expected_benefit_granted", "margin_after_granted")


def _summary(g: pd.DataFrame) -> dict[str, Any]:
    granted = g["action"] == "granted"
    refused = g["action"] == "refused"
    s: dict[str, Any] = {
        "decisions": len(g),
        "recommended": {k: int((g["recommendation"] == k).sum()) for k in ("approve", "counter", "refuse")},
        "granted": int(granted.sum()),
        "refused": int(refused.sum()),
        "action_pending": int((~granted & ~refused).sum()),
        "followed": int((g["followed"] == True).sum()),  # noqa: E712 (None means no action yet)
        "overrode": int((g["followed"] == False).sum()),  # noqa: E712
        "outcomes": {
            "granted": {k: int((granted & (g["outcome"] == k)).sum()) for k in ("stayed", "left", "quiet")},
            "refused": {k: int((refused & (g["outcome"] == k)).sum()) for k in ("stayed", "left", "quiet")},
        },
        "spent": sum(g.loc[granted, "granted"], Decimal(0)),
        "expected_benefit_granted": sum(g.loc[granted, "expected_benefit"], Decimal(0)),
        "margin_after_granted": sum(g.loc[granted & (g["outcome"] == "stayed"), "margin_after"], Decimal(0)),
    }
    for side in ("granted", "refused"):
        o = s["outcomes"][side]
        known = o["stayed"] + o["left"] + o["quiet"]
        o["pending"] = s[side] - known
        o["stay_rate"] = round(o["stayed"] / known, 4) if known else None
    for key in _MONEY:
        s[key] = cents(s[key])
    return s


def concession_report(
    store: Store,
    since: str | None = None,
    window_days: int = 90,
    currency: str = "USD",
    margin_rate: Decimal | float | str | None = None,
) -> ConcessionReport:
    """Concession decisions by month (of ``decided_at``) from ``since`` (``YYYY-MM``), after filling outcomes.

    ``margin_after_granted`` is the gross margin of the orders, within the outcome window after the
    decision, of the customers who were granted a concession and stayed; a line's unit cost is its own,
    else its product's standard cost, else ``margin_rate`` of its price (``[value] default_margin_rate``;
    ``None``: no cost), as :func:`keepwise.features.priced_lines` resolves it everywhere.
    """
    if since is not None:
        try:
            start = pd.Timestamp(f"{since}-01", tz="UTC")
        except ValueError:
            raise KeepwiseInputError(f"--since must be a month such as 2024-03, not '{since}'") from None
        if len(since) != 7:
            raise KeepwiseInputError(f"--since must be a month such as 2024-03, not '{since}'")
    store = as_store(store)
    fill_outcomes(store, window_days)
    if store.has_table(TABLE):
        log = store.table(TABLE)
        log = log.filter(log.kind == "concession")
        d = log.select("decision_id", "customer_id", "decided_at")
        # the lines' unit cost resolved as everywhere else: own, else the product's, else the margin rate
        lines = features.priced_lines(store, margin_rate=margin_rate)
        after = _within(store, d, lines, "ordered_at", window_days)
        after = after.group_by("decision_id").aggregate(
            margin_after=(after.quantity * (after.unit_price - after.unit_cost)).sum()
        )
        df = store.to_pandas(log).merge(store.to_pandas(after), on="decision_id", how="left")
        df = df.sort_values(["decided_at", "decision_id"], kind="stable")
    else:  # nothing logged yet
        df = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in SCHEMA[TABLE].columns})
        df["decided_at"] = stamps([])
        df["margin_after"] = pd.Series([], dtype=object)
    if since is not None and not df.empty:
        df = df[pd.to_datetime(df["decided_at"], utc=True) >= start]
    df = df.reset_index(drop=True)
    for col in ("asked", "recommended", "expected_benefit", "granted", "margin_after"):
        df[col] = pd.Series(
            [Decimal(0) if pd.isna(v) else Decimal(str(v)) for v in df[col]], index=df.index, dtype=object
        )
    df["followed"] = [
        _followed(r, a, rc, g)
        for r, a, rc, g in zip(
            df["recommendation"], df["action"], df["recommended"], df["granted"], strict=True
        )
    ]
    df["month"] = pd.to_datetime(df["decided_at"], utc=True).dt.strftime("%Y-%m")
    months = [{"month": m, **_summary(g)} for m, g in df.groupby("month", sort=True)]
    total = _summary(df)
    return ConcessionReport(
        currency=currency,
        window_days=window_days,
        since=since,
        months=months,
        total=total,
        reasons=_reasons(months, total, currency, window_days),
    )


def report(store: Store, since: str | None = None, *, config: Config | None = None) -> ConcessionReport:
    """The concession log's front door: :func:`concession_report` with the settings of ``config``.

    The outcome window is ``[decisions] outcome_window_days`` and the currency ``[value]
    reporting_currency`` (``config=None`` reads ``keepwise.toml``). Its ``to_json()`` is what
    ``keepwise concessions report --json`` prints.
    """
    cfg = config or load_config()
    result = concession_report(
        store,
        since,
        window_days=cfg.decisions.outcome_window_days,
        currency=reporting_currency(store, cfg),
        margin_rate=cfg.value.default_margin_rate,
    )
    result.notes = inventory(store).notes(
        "incidents",
        "orders.unit_cost",
        instead={
            "incidents": "the advisor's decisions rest on its documented default effect of a concession "
            "([decisions] concession_odds_ratio), not on your history",
            "orders.unit_cost": "the margin after a decision is the revenue of the orders (no unit costs)",
        },
    )
    return result


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _reasons(months: list[dict[str, Any]], total: dict[str, Any], cur: str, window: int) -> list[str]:
    if total["decisions"] == 0:
        return ["No concession decisions are logged yet: keepwise concession records each one."]
    t = total
    out = [
        f"{_n(t['decisions'], 'concession decision')}: {t['granted']} granted ({shown(t['spent'], cur)} "
        f"spent), {t['refused']} refused, {t['action_pending']} with no action recorded yet.",
        f"The advice was followed {_n(t['followed'], 'time')} and overridden {_n(t['overrode'], 'time')}.",
    ]
    g, r = t["outcomes"]["granted"], t["outcomes"]["refused"]
    out.append(
        f"Within {window} days of the decision, of those granted {g['stayed']} stayed, {g['left']} left "
        f"and {g['quiet']} went quiet ({g['pending']} too recent to tell); of those refused {r['stayed']} "
        f"stayed, {r['left']} left and {r['quiet']} went quiet ({r['pending']} too recent to tell)."
    )
    out.append(
        f"{shown(t['spent'], cur)} spent on concessions against {shown(t['margin_after_granted'], cur)} of "
        f"margin from the customers who were granted one and stayed, in the {window} days after; the advisor "
        f"expected the concessions granted to keep {shown(t['expected_benefit_granted'], cur)} of future "
        f"margin."
    )
    rated = [m for m in months if m["outcomes"]["granted"]["stay_rate"] is not None]
    if len(rated) >= 2:
        a, b = rated[0], rated[-1]
        out.append(
            f"Trend: the share of customers granted a concession who stayed went from "
            f"{a['outcomes']['granted']['stay_rate']:.1%} in {a['month']} to "
            f"{b['outcomes']['granted']['stay_rate']:.1%} in {b['month']}; spending went from "
            f"{shown(a['spent'], cur)} to {shown(b['spent'], cur)} a month."
        )
    return out
