"""The whole ranking: every lost customer of the month's ledger with its decision, best first.

See :mod:`keepwise.decisions.winback` for the rules; :func:`rank_winback` reads the store and applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from keepwise import features
from keepwise.config import Config, load_config, used
from keepwise.decisions.winback.decide import LostCustomer, Status, WinbackRow, decide, order_rows
from keepwise.decisions.winback.menu import OfferMenu, conjoint_menu
from keepwise.decisions.winback.offers import _study, map_offer
from keepwise.decisions.winback.rate import ReasonRate, posterior
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents
from keepwise.signals.ledger import build_ledger, lost_status, rule_text
from keepwise.signals.period import ReviewPeriod, last_complete_month
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note, inventory
from keepwise.value.profitability import reporting_currency
from keepwise.value.worth import RULE as WORTH_RULE
from keepwise.value.worth import customer_worth

if TYPE_CHECKING:
    from keepwise.conjoint.study import Study

__all__ = ["WinbackRanking", "rank_winback"]


@dataclass
class WinbackRanking:
    """Every lost customer of the month's ledger with its decision, best first."""

    month: str
    currency: str
    rows: list[WinbackRow]
    rates: dict[str, ReasonRate]
    offer_source: str
    assumptions: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    #: inputs the ranking lacked and what it did instead (``notes`` of the JSON)
    missing: list[Note] = field(default_factory=list)

    #: how the expected value was computed (a conjoint study's offers are paid only by those who come back)
    rule: str = (
        "expected value = chance x monthly profit x winback_months - offer cost - contact cost; ranked when "
        "positive"
    )

    def top(self, n: int | None = None) -> list[WinbackRow]:
        """The customers worth a contact, best first (at most ``n``)."""
        ranked = [r for r in self.rows if r.status == "contact"]
        return ranked if n is None else ranked[:n]

    def by_status(self, status: Status) -> list[WinbackRow]:
        """Rows with ``status``."""
        return [r for r in self.rows if r.status == status]

    def row(self, customer_id: str) -> WinbackRow | None:
        """The row of ``customer_id``, if they are in the ledger."""
        for r in self.rows:
            if r.customer.customer_id == customer_id:
                return r
        return None

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """One JSON document: the ranked list (``top`` of it), the others by status, rates, assumptions."""
        counts = {s: len(self.by_status(s)) for s in _STATUSES}
        ranked = self.top(top)
        total = sum((r.expected_value or Decimal(0) for r in ranked), Decimal(0))
        return {
            "month": self.month,
            "currency": self.currency,
            "lost_customers": len(self.rows),
            "counts": counts,
            "ranked": [r.to_json() for r in ranked],
            "expected_value_of_ranked": cents(total),
            "not_worth_contact": [r.to_json() for r in self.by_status("not_worth_contact")],
            "not_wanted": [r.to_json() for r in self.by_status("not_wanted")],
            "not_candidates": [r.to_json() for r in self.by_status("not_candidate")],
            "won_back": [r.to_json() for r in self.by_status("won_back")],
            "chance_by_reason": {k: v.to_json() for k, v in sorted(self.rates.items())},
            "offer_source": self.offer_source,
            "rule": self.rule,
            "value_rule": f"monthly profit = operating profit / months as a customer; {WORTH_RULE}",
            "assumptions": self.assumptions,
            "notes": [n.to_json() for n in self.missing],
            "remarks": self.notes,
        }


_STATUSES: tuple[Status, ...] = ("contact", "not_worth_contact", "not_wanted", "not_candidate", "won_back")


def _attempts(store: Store, before: datetime) -> pd.DataFrame:
    """Past win-back attempts before ``before``, by customer and time, with the exit reason (``unknown``)."""
    t = store.table("winback_attempts")
    t = t.filter(t.attempted_at < ibis.literal(before))
    df = t.select("customer_id", "attempted_at", "reason_code", "offer", "won_back").to_pyarrow().to_pandas()
    code = df["reason_code"].where(df["reason_code"].notna() & (df["reason_code"] != ""), "unknown")
    df["reason"] = code.astype(str)
    df["attempted_at"] = pd.to_datetime(df["attempted_at"], utc=True)
    df["won_back"] = df["won_back"].fillna(False).astype(bool)
    return df.sort_values(["customer_id", "attempted_at"], ignore_index=True)


def _wanted_back(store: Store, before: datetime) -> dict[tuple[str, datetime], bool]:
    """``exits.wanted_back`` where recorded, by ``(customer_id, lost_at)`` (the exit the ledger uses)."""
    t = store.table("exits")
    t = t.filter((t.lost_at < ibis.literal(before)) & t.wanted_back.notnull())
    df = t.select("customer_id", "lost_at", "wanted_back").to_pyarrow().to_pandas()
    lost = pd.to_datetime(df["lost_at"], utc=True)
    return {
        (str(c), ts.to_pydatetime(warn=False)): bool(w)
        for c, ts, w in zip(df["customer_id"], lost, df["wanted_back"], strict=True)
    }


#: Figures of other sections the ranking depends on: the lost-customer rule and the tiers.
_ALSO_USED = (
    "review.inactivity_days",
    "review.inactivity_gaps",
    "value.reporting_currency",
    "value.platinum_share",
    "value.gold_share",
    "value.lead_below_profit",
)


def _assumptions(cfg: Config) -> list[dict[str, Any]]:
    """``[decisions]`` in full, then the ``[review]`` and ``[value]`` figures in :data:`_ALSO_USED`."""
    others = [a for section in ("review", "value") for a in used(cfg, section) if a["name"] in _ALSO_USED]
    return [*used(cfg, "decisions"), *others, _OWN_ATTEMPTS]


#: The model of a customer's own failed attempts (:func:`own_chance`), listed with the figures.
_OWN_ATTEMPTS: dict[str, Any] = {
    "name": "winback.own_failed_attempts",
    "value": "m w / (w + f)",
    "from": "default",
    "source": (
        "assumption: a customer's own chance is Beta(m w, (1 - m) w) around their exit reason's chance m, "
        "w = decisions.winback_prior_weight; on the simulator one failure lowers the true chance by 2-5%, "
        "w / (w + 1) = 4.8% at w = 20"
    ),
    "meaning": (
        "each failed win-back attempt on the customer since their last order (f of them) is a Bernoulli "
        "failure of their own chance, which becomes m w / (w + f)"
    ),
}


def rank_winback(
    store: Store,
    month: str | None = None,
    config: Config | None = None,
    study: Study | str | Path | None = None,
) -> WinbackRanking:
    """Decide on every lost customer of ``month``'s ledger and rank the candidates by expected value.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is wrapped).
    month:
        ``YYYY-MM``; default: the last complete month of the orders (as the monthly review).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory, else the documented defaults).
    study:
        The stored conjoint study's design, its YAML file or as :func:`keepwise.conjoint.study.load_study`
        reads it: its prohibited offers are never proposed. Without it the prohibitions stored with the
        study apply (every level combination of the stored coding when it was saved without them).
    """
    from keepwise.value.profitability import profitability

    store = as_store(store)
    cfg = config or load_config()
    spec, where = _study(study)
    period = ReviewPeriod.of(month) if month else last_complete_month(store)
    first = store.table("orders").ordered_at.min().to_pyarrow().as_py()
    if first is None:
        raise KeepwiseInputError("the store holds no orders; load some first (keepwise load DIR)")
    if pd.Timestamp(period.end) <= pd.Timestamp(first):
        raise KeepwiseInputError(
            f"month {period.month} is before the first order ({first:%Y-%m-%d}); pick a later one"
        )
    lines = features.order_lines(store, period.end, margin_rate=cfg.value.default_margin_rate)
    ords = features.orders(lines)
    status = lost_status(store, ords, period, cfg.review)
    ledger = build_ledger(store, ords, period, status=status, rules=cfg.review)
    prof = profitability(store, period.month, view="lifetime", config=cfg).set_index("customer_id")
    currency = reporting_currency(store, cfg)  # the one currency of the data when [value] does not set it
    dec = cfg.decisions
    attempts = _attempts(store, period.end)
    counts = attempts.groupby("reason")["won_back"].agg(["count", "sum"])
    rates: dict[str, ReasonRate] = {
        str(r): posterior(str(r), int(row["count"]), int(row["sum"]), dec) for r, row in counts.iterrows()
    }
    notes: list[str] = [rule_text(cfg.review)]
    inv = inventory(store)
    lacking = inv.notes(
        "exits",
        "orders.unit_cost",
        "time_logs",
        "incidents",
        instead={
            "exits": "customers count as lost after a long silence (the review's rule); their reason is "
            "unknown, so the offer and the chance are those of an unknown reason",
            "time_logs": "cost to serve is left out: monthly profit is margin less concessions",
            "incidents": "no concessions are charged to a customer's profit",
        },
    )
    if not month:  # as of the data, not the wall clock: say which month was taken
        lacking.insert(
            0, Note("month", "none given", f"used {period.month}, the last complete month of the data")
        )
    offer_cj: OfferMenu | None = None
    try:
        offer_cj = conjoint_menu(store, dec.winback_months, currency, spec, where)
    except KeepwiseInputError as exc:
        if spec is not None:
            message = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
            raise KeepwiseInputError(message) from exc
        notes.append(f"the stored conjoint study could not price an offer ({exc}); using [decisions] offers")
    if offer_cj is None and spec is not None:
        notes.append(f"{where} was given but the store holds no fitted conjoint study to price its offers")
    offer_source = offer_cj.source if offer_cj is not None else "[decisions] offers by exit reason"
    if offer_cj is not None:
        notes.extend(offer_cj.notes)
    spans = status.set_index("customer_id")[["first_order_at", "last_order_at"]]
    lost_hist = status.set_index("customer_id").loc[list(ledger.customers["customer_id"])].reset_index()
    operating = {str(c): prof.loc[c, "operating_profit"] for c in lost_hist["customer_id"] if c in prof.index}
    worth = customer_worth(lost_hist, profit=operating, rules=cfg.review).set_index("customer_id")
    wanted_back = _wanted_back(store, period.end)
    by_customer = {cid: g for cid, g in attempts.groupby("customer_id")}
    zero = Decimal("0.0000")
    rows: list[WinbackRow] = []
    for r in ledger.customers.itertuples(index=False):
        cid = str(r.customer_id)
        lost_ts: Any = r.lost_at
        lost_at = pd.Timestamp(lost_ts).to_pydatetime(warn=False)
        p = prof.loc[cid] if cid in prof.index else None
        value: dict[Any, Any] = worth.loc[cid].to_dict()
        years = float(value["years"])
        mine = by_customer.get(cid)
        won_back_at, last, first_failed, n_failed = None, None, None, 0
        if mine is not None:
            last_order: Any = spans.loc[cid, "last_order_at"]
            failed = mine[~mine["won_back"]]
            if pd.notna(last_order):
                failed = failed[failed["attempted_at"] > pd.Timestamp(last_order)]
            n_failed = len(failed)
            if n_failed:
                first_failed = failed["attempted_at"].iloc[0].to_pydatetime()
            after = mine[mine["attempted_at"] >= pd.Timestamp(lost_at)]
            won = after[after["won_back"]]
            if len(won):
                won_back_at = won["attempted_at"].iloc[-1].to_pydatetime()
            last_row = mine.iloc[-1]
            last = {
                "attempted_at": last_row["attempted_at"].to_pydatetime(),
                "offer": last_row["offer"],
                "won_back": bool(last_row["won_back"]),
            }

        def amount(name: str, p: Any = p) -> Decimal:
            return Decimal(p[name]) if p is not None and p[name] is not None else zero

        reason = str(r.reason)
        customer = LostCustomer(
            customer_id=cid,
            lost_at=lost_at,
            how=str(r.how),
            reason=reason,
            currency=currency,
            revenue=amount("revenue"),
            gross_margin=amount("gross_margin"),
            cost_to_serve=amount("cost_to_serve"),
            concessions=amount("concessions"),
            advocacy_value=amount("advocacy_value"),
            profit=amount("profit"),
            operating_profit=amount("operating_profit"),
            tier=str(p["tier"]) if p is not None else "lead",
            months=round(12 * years),
            monthly_profit=value["monthly_profit"],
            monthly_margin=value["monthly_margin"],
            basis=str(value["basis"]),
            years=years,
            competitor=r.competitor if isinstance(r.competitor, str) else None,
            won_back_at=won_back_at,
            last_attempt=last,
            wanted_back=wanted_back.get((cid, lost_at)) if str(r.how) == "exit" else None,
            failed_attempts=n_failed,
            first_failed_at=first_failed,
        )
        rate = rates.get(reason) or posterior(reason, 0, 0, dec)
        offer = offer_cj if offer_cj is not None else map_offer(reason, dec)
        rows.append(decide(customer, rate, offer, dec))
    for missing in {row.customer.reason for row in rows} - set(rates):
        rates[missing] = posterior(missing, 0, 0, dec)
    return WinbackRanking(
        month=period.month,
        currency=currency,
        rows=order_rows(rows),
        rates=rates,
        offer_source=offer_source,
        assumptions=_assumptions(cfg),
        notes=notes,
        missing=lacking,
        rule=_STUDY_RULE if offer_cj is not None else WinbackRanking.rule,
    )


_STUDY_RULE = (
    "for each offer of the conjoint study: chance = c x OR / (1 - c + c x OR), c the chance by exit reason, "
    "OR the odds ratio of the offer's acceptance against the offer they left's, expected value = chance x "
    "(monthly profit x winback_months - offer cost) - contact cost; each "
    "customer gets the offer with the highest expected value, ranked when positive (else no offer)"
)
