"""Wins against losses: why customers choose the business, why they leave, and the declared strengths.

Two tables of the store meet here: ``wins`` (``customer_id``, ``won_at``, ``reason_code``: why a customer
chose the business) and ``exits`` (``customer_id``, ``lost_at``, ``reason_code``: why one left). For each
reason keepwise counts the customers won for it and lost over it in a window (default: all history up to the
end of the month; ``months`` for the trailing months only) and their shares:

- share won for a reason = wins with that reason / wins with a stated reason;
- share lost over a reason = exits with that reason / exits with a stated reason.

A missing reason, an empty one and ``unknown`` are counted apart and left out of both denominators, so a
share reads "of the customers who said why". Reason codes are compared in lower case.

The business declares its strengths in ``keepwise.toml`` (``[decisions] strengths = ["service", "quality"]``).
Each declared strength is *confirmed* when at least as large a share of won customers chose the business for
it as the share of lost customers who left over it, *contradicted* when more left over it than chose for it,
and *unproven* when nobody named it. The findings say so in words with the same percentages as the table
(one decimal), and name the reason that wins most customers without being declared, and the most common
reason for leaving. The figure is a Plotly bar chart of both shares by reason (offline: the report and
``keepwise wins --html`` embed plotly.js).

The monthly review's section (in the report package, which also makes the HTML) covers the twelve months
ending with the review month. Without a month the window ends with the data's last month with an order
(never the wall clock's), said in ``notes``; a store without ``wins`` or ``exits`` counts no one on that
side and says so there too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import ibis
import plotly.graph_objects as go

from keepwise.config import Config, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note, inventory, resolve_month
from keepwise.value.profitability import parse_month, period

__all__ = ["ReasonRow", "WinsLosses", "wins_against_losses", "wins_figure"]

Verdict = Literal["confirmed", "contradicted", "unproven"]
_UNKNOWN = {"", "unknown", "none", "n/a"}


@dataclass(frozen=True)
class ReasonRow:
    """One reason: customers won for it and lost over it, with their shares (percent, one decimal)."""

    reason: str
    won: int
    won_share: float
    lost: int
    lost_share: float
    strength: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-able row."""
        return {
            "reason": self.reason,
            "won": self.won,
            "won_share": self.won_share,
            "lost": self.lost,
            "lost_share": self.lost_share,
            "declared_strength": self.strength,
        }


@dataclass
class WinsLosses:
    """The result of :func:`wins_against_losses`."""

    month: str
    start: datetime | None
    end: datetime
    strengths: list[str]
    rows: list[ReasonRow]
    won_total: int
    won_unknown: int
    lost_total: int
    lost_unknown: int
    verdicts: dict[str, Verdict]
    findings: list[str]
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def row(self, reason: str) -> ReasonRow | None:
        """The row of ``reason``, if anyone named it (or it is a declared strength)."""
        return next((r for r in self.rows if r.reason == reason), None)

    def to_json(self) -> dict[str, Any]:
        """The comparison as one JSON document (what ``keepwise wins --json`` prints)."""
        return {
            "month": self.month,
            "period": {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat()},
            "won": {"total": self.won_total, "reason_unknown": self.won_unknown},
            "lost": {"total": self.lost_total, "reason_unknown": self.lost_unknown},
            "strengths": [{"reason": s, "verdict": self.verdicts[s]} for s in self.strengths],
            "reasons": [r.to_json() for r in self.rows],
            "findings": self.findings,
            "assumptions": self.assumptions,
            "notes": [n.to_json() for n in self.notes],
        }

    def figure(self) -> go.Figure:
        """Share won for and share lost over each reason (grouped bars; declared strengths starred)."""
        return wins_figure(self)


def _label(label: str, strength: bool) -> str:
    return f"★ {label}" if strength else label


def wins_figure(result: WinsLosses) -> go.Figure:
    """Plotly bar chart of :class:`WinsLosses`: per reason, % of wins for it and % of losses over it."""
    labels = [_label(r.reason, r.strength) for r in result.rows]
    fig = go.Figure()
    fig.add_bar(
        y=labels,
        x=[r.won_share for r in result.rows],
        orientation="h",
        name="% of customers won who chose you for it",
        marker_color="#9bbb59",
        hovertemplate="%{y}: %{x:.1f}% of wins<extra></extra>",
    )
    fig.add_bar(
        y=labels,
        x=[r.lost_share for r in result.rows],
        orientation="h",
        name="% of customers lost who left over it",
        marker_color="#c0504d",
        hovertemplate="%{y}: %{x:.1f}% of losses<extra></extra>",
    )
    fig.update_layout(
        title="Why customers choose you, and why they leave (★ declared strength)",
        barmode="group",
        xaxis_title="% of customers who stated a reason",
        yaxis={"title": "reason", "autorange": "reversed"},
        height=max(320, 60 + 48 * len(labels)),
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _strengths(cfg: Config) -> list[str]:
    raw = cfg.decisions.strengths
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise KeepwiseInputError(
            f'decisions.strengths must be a list of reason codes such as ["service", "quality"], not {raw!r}'
        )
    out: list[str] = []
    for s in raw:
        code = s.strip().lower()
        if code not in out:
            out.append(code)
    return out


def _counts(
    store: Store, table: str, ts: str, start: datetime | None, end: datetime
) -> dict[str | None, int]:
    if not store.has_table(table):
        return {}
    t = store.table(table)
    cond = t[ts] < ibis.literal(end)
    if start is not None:
        cond = cond & (t[ts] >= ibis.literal(start))
    t = t.filter(cond)
    code = t.reason_code.strip().lower()
    rows = t.mutate(code=code).group_by("code").aggregate(n=lambda x: x.count()).to_pyarrow().to_pylist()
    out: dict[str | None, int] = {}
    for r in rows:
        key = None if r["code"] is None or r["code"] in _UNKNOWN else str(r["code"])
        out[key] = out.get(key, 0) + int(r["n"])
    return out


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def wins_against_losses(
    store: Store, month: str | None = None, *, months: int | None = None, config: Config | None = None
) -> WinsLosses:
    """Reasons customers chose the business against reasons they left, set against its declared strengths.

    Parameters
    ----------
    store:
        The store (a :class:`~keepwise.store.Store` or an Ibis backend).
    month:
        ``YYYY-MM``, the last month counted; ``None``: the data's last month with an order (said in
        ``notes``).
    months:
        Count only the trailing ``months`` months ending with ``month``; ``None``: all history.
    config:
        Assumptions (``[decisions] strengths``); ``None`` reads ``keepwise.toml``.

    Returns
    -------
    WinsLosses
        Rows by reason (most customers won and lost first; declared strengths always listed), each strength's
        verdict and the findings in words.
    """
    store = as_store(store)
    cfg = config or load_config()
    strengths = _strengths(cfg)
    if months is not None and months < 1:
        raise KeepwiseInputError(f"months must be at least 1, not {months}")
    inv = inventory(store)
    month, month_note = resolve_month(store, month, inv=inv)
    no_exits = inv.note("exits", "no reasons for leaving are counted")
    notes = [n for n in (month_note, no_exits) if n is not None]
    if not (store.has_table("wins") and store.count("wins")):
        notes.append(Note("wins", "no rows", "no reasons for choosing the business are counted"))
    end = period(month, "month").end
    start = None
    if months is not None:
        first = parse_month(month) - months + 1
        start = period(f"{first // 12:04d}-{first % 12 + 1:02d}", "month").start
    won = _counts(store, "wins", "won_at", start, end)
    lost = _counts(store, "exits", "lost_at", start, end)
    won_unknown, lost_unknown = won.pop(None, 0), lost.pop(None, 0)
    won_known, lost_known = sum(won.values()), sum(lost.values())
    reasons = {str(r) for r in won} | {str(r) for r in lost} | set(strengths)
    rows = [
        ReasonRow(
            reason=r,
            won=won.get(r, 0),
            won_share=_pct(won.get(r, 0), won_known),
            lost=lost.get(r, 0),
            lost_share=_pct(lost.get(r, 0), lost_known),
            strength=r in strengths,
        )
        for r in reasons
    ]
    rows.sort(key=lambda r: (-(r.won + r.lost), r.reason))
    by = {r.reason: r for r in rows}

    verdicts: dict[str, Verdict] = {}
    findings: list[str] = []
    for s in strengths:
        r = by[s]
        if r.won == 0 and r.lost == 0:
            verdicts[s] = "unproven"
            findings.append(
                f"{s} is a declared strength, but no customer won or lost in the period named it: unproven."
            )
        elif r.lost_share > r.won_share:
            verdicts[s] = "contradicted"
            findings.append(
                f"{s} is a declared strength, yet {r.lost_share:.1f}% of lost customers left over {s}, "
                f"more than the {r.won_share:.1f}% of won customers who chose you for it: fix it before you "
                "sell it."
            )
        else:
            verdicts[s] = "confirmed"
            findings.append(
                f"{s} is a declared strength and customers agree: {r.won_share:.1f}% of won customers chose "
                f"you for it, against {r.lost_share:.1f}% of lost customers who left over it."
            )
    undeclared = [r for r in rows if not r.strength and r.won > 0]
    if undeclared:
        top = min(undeclared, key=lambda r: (-r.won, r.reason))
        findings.append(
            f"{top.reason} wins you {top.won_share:.1f}% of customers but is not among your declared "
            "strengths; say it in your marketing if it is true."
        )
    if lost_known:
        worst = min((r for r in rows if r.lost > 0), key=lambda r: (-r.lost, r.reason))
        findings.append(
            f"The most common reason for leaving is {worst.reason} ({worst.lost_share:.1f}% of lost "
            "customers who gave a reason)."
        )
    if not strengths:
        findings.append(
            'No strengths are declared: add [decisions] strengths = ["service", "quality"] (your own) to '
            "keepwise.toml to have them checked."
        )
    if not won_known and not lost_known:
        findings.append("No customer won or lost in the period stated a reason.")
    assumptions = [a for a in used(cfg, "decisions") if a["name"] == "decisions.strengths"]
    return WinsLosses(
        month=period(month, "month").month,
        start=start,
        end=end,
        strengths=strengths,
        rows=rows,
        won_total=won_known + won_unknown,
        won_unknown=won_unknown,
        lost_total=lost_known + lost_unknown,
        lost_unknown=lost_unknown,
        verdicts=verdicts,
        findings=findings,
        assumptions=assumptions,
        notes=notes,
    )
