"""The "Service and outreach" section of the monthly review, read from the ``outreach_actions`` table.

The section reads the saved plans only (``keepwise outreach`` writes them,
``keepwise outreach done`` and ``skip`` record what became of them); it never computes a plan again. It shows

* the actions of the review month's plan (every saved row of the month, whatever its status), by action kind
  and by service tier;
* the follow-through of the month before: how many of its actions were marked done, skipped, or are still
  ``planned`` (not recorded), by action kind, and the share done.

A store with no saved actions for the review month nor the month before leaves the section out (as the
conjoint section is left out without a study).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from keepwise.decisions.service import ACTIONS
from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.store import Store, as_store
from keepwise.value.tiers import TIERS

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "outreach_figures", "outreach_headline", "outreach_section", "read", "section"]

KEY = "outreach"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "outreach"

STATUSES: tuple[str, ...] = ("done", "skipped", "planned")
LABELS: dict[str, str] = {"reprice_or_part_ways": "reprice or part ways", "re_engage": "re-engage"}


def _previous(month: str) -> str:
    return str((pd.Period(month, freq="M") - 1).strftime("%Y-%m"))


def _ordered(values: Any, known: tuple[str, ...]) -> list[str]:
    """``known`` values first in their order, then any others (a table edited by hand) sorted."""
    seen = {str(v) for v in values}
    return [k for k in known if k in seen] + sorted(seen - set(known))


def _counts(store: Store, months: list[str]) -> pd.DataFrame:
    """Saved actions of ``months`` counted by month, action, tier and status (empty without the table)."""
    if not store.has_table("outreach_actions"):
        return pd.DataFrame(columns=["month", "action", "tier", "status", "n"])
    t = store.table("outreach_actions")
    rows = t.filter(t.month.isin(months))
    expr = rows.group_by(["month", "action", "tier", "status"]).aggregate(n=rows.count())
    df = store.to_pandas(expr)
    df["tier"] = df["tier"].fillna("unknown")
    df["n"] = df["n"].astype(int)
    return df


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def outreach_figures(store: Store, month: str) -> dict[str, Any] | None:
    """The section's figures for ``month`` (``YYYY-MM``); ``None`` if neither it nor the month before has any.

    Returns
    -------
    dict
        ``month``; ``planned``: the month's actions (``total``, ``by_action``, ``by_tier`` and
        ``by_action_tier`` rows), ``None`` without any; ``follow_through``: the month before's actions
        (``month``, ``total``, ``done``, ``skipped``, ``planned`` (not recorded), ``share_done`` and the same
        per action kind in ``by_action``), ``None`` without any.
    """
    prev = _previous(month)
    df = _counts(as_store(store), [month, prev])
    if df.empty:
        return None
    cur = df[df["month"] == month]
    before = df[df["month"] == prev]
    planned: dict[str, Any] | None = None
    if not cur.empty:
        actions = _ordered(cur["action"], ACTIONS)
        tiers = _ordered(cur["tier"], TIERS)
        grid = cur.groupby(["action", "tier"])["n"].sum()
        planned = {
            "month": month,
            "total": int(cur["n"].sum()),
            "by_action": {a: int(cur.loc[cur["action"] == a, "n"].sum()) for a in actions},
            "by_tier": {t: int(cur.loc[cur["tier"] == t, "n"].sum()) for t in tiers},
            "by_action_tier": [
                {"action": a, "tier": t, "count": int(grid[(a, t)])}
                for a in actions
                for t in tiers
                if (a, t) in grid.index
            ],
        }
    follow: dict[str, Any] | None = None
    if not before.empty:

        def tally(rows: pd.DataFrame) -> dict[str, Any]:
            total = int(rows["n"].sum())
            out: dict[str, Any] = {"total": total}
            for s in STATUSES:
                out[s] = int(rows.loc[rows["status"] == s, "n"].sum())
            out["share_done"] = _share(out["done"], total)
            return out

        follow = {
            "month": prev,
            **tally(before),
            "by_action": {
                a: tally(before[before["action"] == a]) for a in _ordered(before["action"], ACTIONS)
            },
        }
    return {"month": month, "planned": planned, "follow_through": follow}


def outreach_headline(data: dict[str, Any]) -> str:
    """One sentence quoting the figures of :func:`outreach_figures`."""
    parts = []
    f = data["follow_through"]
    if f is not None:
        pct = f"{100 * f['done'] / f['total']:.0f}%"
        parts.append(
            f"Of {f['total']:,} actions planned for {f['month']}, {f['done']:,} were done ({pct}), "
            f"{f['skipped']:,} skipped and {f['planned']:,} not recorded"
        )
    else:
        parts.append(f"No outreach actions were saved for {_previous(data['month'])}")
    p = data["planned"]
    if p is not None:
        parts.append(f"{p['total']:,} actions are planned for {data['month']}")
    else:
        parts.append(f"none are saved for {data['month']} yet")
    return "; ".join(parts) + "."


def _html(data: dict[str, Any]) -> str:
    html = ""
    p = data["planned"]
    if p is not None:
        tiers = list(p["by_tier"])
        cell = {(r["action"], r["tier"]): r["count"] for r in p["by_action_tier"]}
        rows: list[list[Any]] = [
            [LABELS.get(a, a), *[f"{cell.get((a, t), 0):,}" for t in tiers], f"{n:,}"]
            for a, n in p["by_action"].items()
        ]
        rows.append(["all", *[f"{p['by_tier'][t]:,}" for t in tiers], f"{p['total']:,}"])
        html += f"<h3>Actions planned for {figures.escape(data['month'])}</h3>" + figures.html_table(
            ["action", *tiers, "all"], rows, numeric=tuple(range(1, len(tiers) + 2))
        )
    f = data["follow_through"]
    if f is not None:

        def line(label: str, x: dict[str, Any]) -> list[Any]:
            share = "" if x["share_done"] is None else f"{100 * x['share_done']:.0f}%"
            return [
                label,
                f"{x['total']:,}",
                f"{x['done']:,}",
                f"{x['skipped']:,}",
                f"{x['planned']:,}",
                share,
            ]

        rows = [line(LABELS.get(a, a), x) for a, x in f["by_action"].items()]
        rows.append(line("all", f))
        html += f"<h3>What became of {figures.escape(f['month'])}'s actions</h3>" + figures.html_table(
            ["action", "planned", "done", "skipped", "not recorded", "share done"],
            rows,
            numeric=(1, 2, 3, 4, 5),
        )
    html += (
        '<p class="notes">Read from the saved plans (<code>keepwise outreach --month YYYY-MM</code>); '
        "record what became of each with <code>keepwise outreach done</code> or <code>skip</code>.</p>"
    )
    return html


def read(ctx: ReviewContext) -> dict[str, Any] | None:
    """The saved actions of the review month and the month before (:func:`outreach_figures`)."""
    return outreach_figures(ctx.store, ctx.period.month)


def section(ctx: ReviewContext) -> Section | None:
    """The review month's outreach and the month before's follow-through, or ``None`` without any saved."""
    data = ctx.outreach
    if data is None:
        return None
    return Section(
        key=KEY,
        title="Service and outreach",
        headline=outreach_headline(data),
        data=data,
        html=_html(data),
    )


#: The section under its longer name.
outreach_section = section
