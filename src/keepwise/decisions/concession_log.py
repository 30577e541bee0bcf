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

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents, shown

__all__ = [
    "ConcessionReport",
    "concession_report",
    "fill_outcomes",
    "log_advice",
    "logged",
    "record_action",
]

Action = Literal["granted", "refused"]
CENT = Decimal("0.01")


def _con(backend: Any) -> Any:
    from keepwise.store.connection import duckdb_connection

    try:
        return duckdb_connection(backend)
    except KeepwiseInputError:
        raise KeepwiseInputError("the decision log is kept on DuckDB stores only for now") from None


def _utc(at: datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(at) if at is not None else pd.Timestamp(datetime.now(UTC))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _next_id(con: Any, decided_at: pd.Timestamp, customer_id: str) -> str:
    prefix = f"d-{decided_at:%Y%m%d}-{customer_id}-"
    n = con.execute(
        "SELECT count(*) FROM decision_log WHERE starts_with(decision_id, ?)", [prefix]
    ).fetchone()[0]
    return f"{prefix}{int(n) + 1}"


def log_advice(backend: Any, advice: Any, decided_at: datetime | pd.Timestamp | None = None) -> str:
    """Write one concession recommendation (:class:`~keepwise.decisions.concession.ConcessionAdvice`).

    Returns
    -------
    str
        The decision id, ``d-YYYYMMDD-CUSTOMER-N`` (N counts that customer's decisions that day).
    """
    con = _con(backend)
    at = _utc(decided_at)
    f = advice.figures
    decision_id = _next_id(con, at, f.customer_id)
    con.execute(
        "INSERT INTO decision_log (decision_id, kind, customer_id, incident_id, decided_at, recommendation, "
        "asked, recommended, expected_benefit, currency, action, granted, outcome, outcome_at, reasons) "
        "VALUES (?, 'concession', ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, 'pending', NULL, ?)",
        [
            decision_id,
            f.customer_id,
            f.incident_id,
            at.to_pydatetime(),
            advice.decision,
            advice.asked,
            advice.recommended,
            advice.expected_benefit,
            f.currency,
            "\n".join(advice.reasons),
        ],
    )
    return decision_id


def logged(backend: Any, decision_id: str) -> dict[str, Any]:
    """One logged decision as a dict (money as Decimal), or an input error naming the unknown id."""
    con = _con(backend)
    cur = con.execute("SELECT * FROM decision_log WHERE decision_id = ?", [decision_id])
    row = cur.fetchone()
    if row is None:
        raise KeepwiseInputError(
            f"unknown decision id '{decision_id}': it is printed by keepwise concession (decision_id)"
        )
    names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True))


def record_action(
    backend: Any, decision_id: str, action: str, amount: Decimal | str | float | None = None
) -> dict[str, Any]:
    """Record what the representative did about a decision: ``granted`` (with ``amount``) or ``refused``.

    Returns
    -------
    dict
        The updated row, plus ``followed`` (bool: the advice was followed).
    """
    if action not in ("granted", "refused"):
        raise KeepwiseInputError(f"--action must be granted or refused, not '{action}'")
    row = logged(backend, decision_id)
    if action == "refused":
        if amount is not None and Decimal(str(amount)) != 0:
            raise KeepwiseInputError("--amount goes with --action granted only")
        granted: Decimal | None = None
    elif amount is None:
        granted = row["recommended"] if row["recommendation"] != "refuse" else row["asked"]
        if granted is None:
            raise KeepwiseInputError("give --amount: the decision has no amount asked for")
    else:
        try:
            granted = Decimal(str(amount))
        except ArithmeticError:
            raise KeepwiseInputError(f"--amount must be an amount such as 120.00, not {amount!r}") from None
        if not granted.is_finite() or granted <= 0:
            raise KeepwiseInputError(f"--amount must be more than 0, not {amount}")
    if granted is not None:
        granted = Decimal(granted).quantize(CENT, rounding=ROUND_HALF_UP)
    _con(backend).execute(
        "UPDATE decision_log SET action = ?, granted = ? WHERE decision_id = ?",
        [action, granted, decision_id],
    )
    out = logged(backend, decision_id)
    out["followed"] = _followed(out["recommendation"], out["action"], out["recommended"], out["granted"])
    return out


def _followed(recommendation: str, action: str | None, recommended: Any, granted: Any) -> bool | None:
    if action not in ("granted", "refused"):
        return None
    if recommendation == "refuse":
        return action == "refused"
    return action == "granted" and Decimal(str(granted or 0)) <= Decimal(str(recommended or 0))


def _data_end(con: Any) -> pd.Timestamp | None:
    row = con.execute(
        "SELECT greatest((SELECT max(ordered_at) FROM orders), (SELECT max(lost_at) FROM exits))"
    ).fetchone()
    return None if row is None or row[0] is None else _utc(row[0])


def fill_outcomes(backend: Any, window_days: int = 90) -> dict[str, int]:
    """Fill in ``outcome`` (stayed, left, quiet) of the pending decisions from the store's orders and exits.

    Returns
    -------
    dict
        How many decisions became ``stayed``, ``left`` and ``quiet``, and how many are still ``pending``.
    """
    if window_days < 1:
        raise KeepwiseInputError("the outcome window must be at least 1 day")
    con = _con(backend)
    end = _data_end(con)
    window = f"INTERVAL {int(window_days)} DAY"
    # the first exit and the first order after each pending decision, within the window
    rows = con.execute(
        f"""
        WITH d AS (
            SELECT decision_id, customer_id, decided_at FROM decision_log
            WHERE coalesce(outcome, 'pending') = 'pending'
        )
        SELECT d.decision_id, d.decided_at,
            (SELECT min(e.lost_at) FROM exits e WHERE e.customer_id = d.customer_id
                AND e.lost_at > d.decided_at AND e.lost_at <= d.decided_at + {window}) AS left_at,
            (SELECT min(o.ordered_at) FROM orders o WHERE o.customer_id = d.customer_id AND o.quantity > 0
                AND o.ordered_at > d.decided_at AND o.ordered_at <= d.decided_at + {window}) AS ordered_at
        FROM d
        """
    ).fetchall()
    counts = {"stayed": 0, "left": 0, "quiet": 0, "pending": 0}
    updates: list[tuple[str, Any, str]] = []
    for decision_id, decided_at, left_at, ordered_at in rows:
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
        updates.append((outcome, at, decision_id))
    if updates:
        con.executemany("UPDATE decision_log SET outcome = ?, outcome_at = ? WHERE decision_id = ?", updates)
    return counts


@dataclass
class ConcessionReport:
    """Concession decisions by month and in total, with the reasons in words."""

    currency: str
    window_days: int
    since: str | None
    months: list[dict[str, Any]]
    total: dict[str, Any]
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (money as strings with two decimals)."""
        return {
            "currency": self.currency,
            "outcome_window_days": self.window_days,
            "since": self.since,
            "months": self.months,
            "total": self.total,
            "reasons": self.reasons,
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
    backend: Any, since: str | None = None, window_days: int = 90, currency: str = "USD"
) -> ConcessionReport:
    """Concession decisions by month (of ``decided_at``) from ``since`` (``YYYY-MM``), after filling outcomes.

    ``margin_after_granted`` is the gross margin of the orders, within the outcome window after the
    decision, of the customers who were granted a concession and stayed.
    """
    if since is not None:
        try:
            start = pd.Timestamp(f"{since}-01", tz="UTC")
        except ValueError:
            raise KeepwiseInputError(f"--since must be a month such as 2024-03, not '{since}'") from None
        if len(since) != 7:
            raise KeepwiseInputError(f"--since must be a month such as 2024-03, not '{since}'")
    fill_outcomes(backend, window_days)
    con = _con(backend)
    df = con.execute(
        f"""
        SELECT d.*, (
            SELECT coalesce(sum(o.quantity * (o.unit_price - coalesce(o.unit_cost, 0))), 0)
            FROM orders o WHERE o.customer_id = d.customer_id AND o.ordered_at > d.decided_at
                AND o.ordered_at <= d.decided_at + INTERVAL {int(window_days)} DAY
        ) AS margin_after
        FROM decision_log d WHERE d.kind = 'concession' ORDER BY d.decided_at, d.decision_id
        """
    ).fetch_arrow_table()
    df = df.to_pandas()
    if since is not None and not df.empty:
        df = df[pd.to_datetime(df["decided_at"], utc=True) >= start]
    df = df.reset_index(drop=True)
    for col in ("asked", "recommended", "expected_benefit", "granted", "margin_after"):
        df[col] = [Decimal(0) if pd.isna(v) else Decimal(str(v)) for v in df[col]]
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
