"""A synthetic business with known truth, to test keepwise against.

:func:`simulate` draws a coffee-and-kitchen supplier's customers over ``months`` calendar months from a fixed
``start`` (default 2024-01-01, never today) and returns one pandas DataFrame per contract table
(:mod:`keepwise.store.schema`) plus ``truth``: what really happened, which the data only shows indirectly.
:meth:`SimulatedBusiness.write` writes ``DIR/TABLE.csv`` for every loadable table and ``DIR/truth.json``.
The same ``seed`` gives byte-identical files. Everything is vectorised numpy: a few thousand customers over
two years take about a second; a million customers (about ten million order lines) take a few minutes.

Processes
---------
Acquisition
    35% of customers join in the first month, the rest uniformly until a week before the end; each has an
    acquisition ``channel`` (web, ads, store, partner, referral) with a channel-dependent gamma-distributed
    ``acquisition_cost``, and a ``segment`` (retail, smb, enterprise) that follows their spend loosely.
Purchases and drop-out (Pareto/NBD; Schmittlein, Morrison and Colombo 1987)
    Each base customer buys at rate ``lambda ~ Gamma(r, alpha)`` a week and lives ``Exp(mu)`` weeks with
    ``mu ~ Gamma(s, beta)``; the first order is at acquisition, later ones are the exact events of a Poisson
    process in continuous time (same-day orders are not merged). No orders follow ``dropped_out_at``.
Spend (gamma-gamma; Fader, Hardie and Lee 2005; Colombo and Jiang 1999)
    Each order's value is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)``, so a customer's true mean spend is
    ``p / nu``. The value is split into 1-4 lines over 6 product ranges (66 products) by the customer's
    Dirichlet range preferences; a line's product is priced between 1/12 of the line amount and the amount,
    ``quantity = floor(amount / list price)`` and ``unit_price = amount / quantity`` (cents), so order
    values are the gamma draws to the cent; ``unit_cost`` is the product's unit cost. About 3% of lines come
    back 2-30 days later as their own order with a negative quantity (same product and price).
Incidents
    Each order of a base customer opens a complaint (late, damaged, billing, quality) with probability 3.5%
    (7% for heavy-cost customers). The chance of leaving after it is heterogeneous:
    ``logit p_without = a[category] + 0.25 z + e`` (``z`` = standardised log expected weekly spend,
    ``e ~ N(0, 0.5)``) and ``p_with = sigmoid(logit p_without - max(b[category] + 0.2 z, 0.2))``. The
    business grants concessions more often to valuable customers (``P = 0.15 + 0.5 rank(z)``). One uniform
    draw ``u`` decides both counterfactuals (``left_if_conceded = u < p_with``,
    ``left_if_refused = u < p_without``); a customer who leaves does so 2-12 days after the complaint, and
    that is their drop-out (no orders, incidents or staff time after it).
Staff time
    Five staff (two account managers, two support, one sales engineer) with hourly costs; support S3's rate
    rises on the 15th of the middle month and S1's on the 15th of the month a third of the way in. Calls,
    e-mails, visits and quotes arrive as Poisson processes whose rates depend on segment; heavy-cost
    customers (5%) have six times as many and 1.6 times longer. Every incident adds a support call.
Exits
    Every lost customer has a true reason (price, competitor, service, quality, moved, closed, no_need;
    those who left after an incident: service, price or quality by its category); 75% have an ``exits``
    row (8% of those say ``unknown``), the rest are the lost customers with no recorded reason.
    ``wanted_back`` is true when their operating profit was positive and the recorded reason is not moved
    or closed.
Win-back attempts (``winback_attempts``)
    The business tried to win back some lost customers 30-120 days after they left (``lost_at``; attempts
    after the end are dropped): 45% of those with a recorded reason, 10% of those recorded as moved or closed
    and 15% of those with no reason (no exits row, or ``unknown``); at most one attempt each. ``reason_code``
    is the reason the business knew (``unknown`` otherwise), ``offer`` and ``cost`` answer it (price: 10% off
    the next three orders, 30.00; competitor: price match, 25.00; service: apology and free delivery, 20.00;
    quality: free replacement, 35.00; no_need: 5% off, 10.00; moved, closed, unknown: check-in call and 5%
    off, 10.00). ``won_back`` is a draw with the customer's true ``p_winback``, so moved and closed customers
    are never won back. Purchases after a successful win-back are not simulated: the data still shows them
    lost, and the attempt is how one knows they came back.
Wins (``wins``)
    Every customer has a true reason for choosing the business, one of ``price``, ``service``, ``quality``,
    ``range``, ``recommendation``, ``location``, drawn by acquisition channel (referral: recommendation 75%;
    store: location 35%; ads: price 40%; see ``params.win_reason_p``); 60% have a ``wins`` row at
    acquisition (``won_at`` = ``acquired_at``) with a short ``reason_text``.
Advocacy and consent
    Referral-channel customers have a referrer who was an active customer before the referral, which is
    1-21 days before the referred customer joins. 0.5% of customers give case studies (value 500.00),
    6% write reviews (value 20.00); referrals carry no fixed value. 4% of customers give no consent at all;
    of the rest 95% consent to service e-mail, 70% to marketing e-mail (30% of them some time after joining)
    and 15% to marketing SMS; 12% of marketing consents are revoked later.

Planted patterns (only when ``months >= 12``; otherwise every customer is a base customer)
    ``stopped_regular`` (3%): buy every 27-33 days (jitter sd 1.5 days) from acquisition, a year or more
    before they stop 2-5 months before the end; they are dropped out at the stop.
    ``regular`` (4%): the same buyers who never stop (the control for ``stopped_regular``).
    ``aov_decline`` (3%): Poisson buyers at 0.3-0.6 orders a week, alive to the end; from the start of the
    third-last month each month's order values are multiplied by ``factor ** k`` (k = 1, 2, 3), factor
    0.65-0.80. ``dropped_category`` (3%): buy one range every 25-35 days (jitter sd 3 days) and others at
    0.15-0.35 orders a week; they stop the range 3-6 months before the end and keep buying the others.
    Planted customers have no incidents; every other customer is a stationary process (control).

truth.json
----------
``seed``, ``start``, ``end`` (ISO 8601 UTC), ``params`` (every global parameter above, incl.
``pareto_nbd`` {r, alpha, s, beta, unit: week}, ``gamma_gamma`` {p, q, v}, ``cost_to_serve`` formula,
``monthly_fields``, ``winback_base``, ``winback_offers``, ``winback_attempt_p``, ``win_reasons``,
``win_reason_p``), and:

``customers`` : {customer_id: {...}}
    ``cohort`` (base, regular, stopped_regular, aov_decline, dropped_category), ``acquired_at``,
    ``channel``, ``segment``, ``lambda_per_week`` (true purchase rate; for regular buyers 7/interval),
    ``mu_per_week`` (Pareto/NBD drop-out rate; null for planted cohorts), ``dropped_out`` (bool, within the
    period), ``dropped_out_at``, ``dropout_cause`` (natural, incident, stopped_regular or null),
    ``regular_interval_days``, ``nu``, ``mean_spend`` (p/nu), ``heavy_cost``, ``referred_by``,
    ``pattern`` and ``pattern_at`` (the planted pattern and its start), ``true_reason``,
    ``exit_recorded``, ``winnable`` (false for moved and closed), ``p_winback`` (chance of coming back if
    offered a win-back; null while active), ``winback_attempted_at`` and ``won_back`` (the past attempt, if
    any, and whether they came back; null without an attempt), ``win_reason`` (why they chose the business)
    and ``win_recorded`` (it has a ``wins`` row), ``orders`` (orders with positive lines), ``returns`` (return
    lines), ``minutes`` (staff minutes), ``acquisition_cost``, and the true totals over the whole period:
    ``revenue`` (net of returns), ``cogs``, ``cost_to_serve`` (each time log's minutes x the hourly cost
    of that staff member valid at its start / 60), ``concessions``, ``advocacy_value`` (fixed advocacy
    values plus, for referrers, the margin of each referred customer's first 365 days within the period),
    ``operating_profit`` = revenue - cogs - cost_to_serve - concessions, ``lifetime_profit`` =
    operating_profit + advocacy_value (acquisition cost is not deducted), and ``monthly``:
    {"YYYY-MM": [revenue, cogs, cost_to_serve, concessions]} (calendar months of ordered_at, started_at and
    resolved_at; months with all zero omitted; left out when ``monthly_truth`` is false).
``incidents`` : {incident_id: {...}}
    ``customer_id``, ``category``, ``value_z`` (the customer value z above), ``concession_granted``,
    ``concession_amount``, ``p_leave_with_concession``, ``p_leave_without_concession``,
    ``left_if_conceded``, ``left_if_refused`` (the realised counterfactuals), ``caused_exit`` (this incident
    made them leave), ``outcome`` (left: dropped out within 60 days; stayed: active 60 days later; pending).
``patterns``
    ``aov_decline`` [ids], ``stopped_regular`` [ids], ``dropped_category`` [{customer_id, category, at}],
    ``regular`` [ids], ``heavy_cost`` [ids], ``control`` [ids with none of the three warning patterns],
    ``starts`` {pattern: {customer_id: at}} for aov_decline and stopped_regular.

Money in truth is in USD as JSON numbers rounded to cents (cost_to_serve to 4 decimals); times are
ISO 8601 strings with ``Z``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from keepwise.datasets._sim_generate import N_COMPETITORS, N_FIRST, N_LAST, build_world, log_cost
from keepwise.datasets._sim_world import (
    ACTIVITIES,
    CATEGORIES,
    CHANNEL_COST,
    CHANNELS,
    COHORTS,
    CONCESSION_EFFECT,
    INCIDENT_CATEGORIES,
    INCIDENT_LOGIT,
    REASON_P_BUSINESS,
    REASON_P_RETAIL,
    REASONS,
    SEGMENTS,
    STAFF,
    WIN_REASON_P,
    WIN_REASONS,
    WINBACK_ATTEMPT_P,
    WINBACK_BASE,
    WINBACK_OFFERS,
    Params,
    World,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.schema import SCHEMA, TABLES

__all__ = ["SimulatedBusiness", "simulate"]

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES if t.loadable)
#: Above this many customers the per-month truth is left out unless asked for.
MONTHLY_TRUTH_LIMIT = 200_000

_FIRST = (
    "Ada",
    "Adam",
    "Agnieszka",
    "Alan",
    "Alice",
    "Anna",
    "Ben",
    "Bartek",
    "Clara",
    "Dan",
    "Diana",
    "Ewa",
    "Emma",
    "Frank",
    "Grace",
    "Henry",
    "Irena",
    "Jack",
    "Jan",
    "Julia",
    "Kasia",
    "Leo",
    "Lena",
    "Marek",
    "Maria",
    "Nina",
    "Oliver",
    "Olga",
    "Paul",
    "Piotr",
    "Rosa",
    "Sam",
    "Sofia",
    "Tom",
    "Tomasz",
    "Uma",
    "Victor",
    "Wanda",
    "Zoe",
    "Zofia",
)
_LAST = (
    "Adams",
    "Baker",
    "Brown",
    "Clark",
    "Davies",
    "Evans",
    "Fisher",
    "Green",
    "Hall",
    "Hughes",
    "Jones",
    "King",
    "Kowalski",
    "Lewis",
    "Lis",
    "Mazur",
    "Miller",
    "Moore",
    "Nowak",
    "Parker",
    "Price",
    "Reed",
    "Roberts",
    "Scott",
    "Smith",
    "Stone",
    "Taylor",
    "Turner",
    "Walker",
    "Ward",
    "White",
    "Wilson",
    "Wojcik",
    "Wood",
    "Wright",
    "Young",
    "Zielinski",
    "Kaminski",
    "Lewandowski",
    "Dabrowski",
)
_PRODUCT_NOUNS = {
    "coffee": ("Espresso beans", "House blend", "Decaf", "Single origin", "Cold brew pack", "Ground filter"),
    "tea": ("Green tea", "Earl Grey", "Chai", "Herbal mix", "Matcha"),
    "equipment": ("Grinder", "Espresso machine", "Kettle", "Descaler kit", "Pour-over set", "Milk frother"),
    "accessories": ("Mug", "Tamper", "Filter papers", "Scale", "Travel cup", "Milk jug", "Spoon set"),
    "snacks": ("Biscotti", "Chocolate", "Almond bar", "Shortbread"),
    "cleaning": ("Cleaning tablets", "Brush set", "Group head cleaner", "Water filter"),
}
_SIZES = ("", " large", " mini", " pro", " family pack", " deluxe")
_ACTIVITY_NAMES = (*(a[0] for a in ACTIVITIES), "complaint")
_INCIDENT_TEXT = {
    "late": ("Delivery arrived a week late", "Order missed the promised date", "Parcel stuck in transit"),
    "damaged": ("Item arrived broken", "Box crushed, contents damaged", "Machine dented on arrival"),
    "billing": ("Charged twice", "Invoice did not match the order", "Discount not applied"),
    "quality": ("Beans tasted stale", "Product stopped working", "Not as described"),
}
_REASON_TEXT = {
    "price": ("Found it cheaper elsewhere", "Prices went up too much", "Could not justify the cost"),
    "competitor": ("Switched to another supplier", "A competitor offered a better deal", "Moved our account"),
    "service": ("Support was too slow", "Deliveries kept going wrong", "Nobody answered our complaint"),
    "quality": ("Quality is not what it was", "Products broke too often", "Not happy with the last batches"),
    "moved": ("Moved to another city", "Relocated abroad", "Moved out of your delivery area"),
    "closed": ("Closed the business", "Our shop shut down", "Stopped trading"),
    "no_need": ("Don't need it any more", "Changed our habits", "Buying less coffee these days"),
}
_WIN_TEXT = {
    "price": ("Best prices we found", "Good value for money"),
    "service": ("Friendly and quick to answer", "They helped us choose"),
    "quality": ("The best beans around", "Equipment that lasts"),
    "range": ("Everything in one place", "They had what others did not"),
    "recommendation": ("A friend recommended you", "Heard good things from a colleague"),
    "location": ("Close to us", "Fast local delivery"),
}
_COMPETITORS = ("BeanCo", "Brewly", "CupCraft", "GrindHouse")
_CONSENT = (("email", "service"), ("email", "marketing"), ("sms", "marketing"))
_SOURCES = (("web form", "form"), ("checkout", "order"), ("phone call", "call"), ("in store", "store"))
assert len(_FIRST) == N_FIRST and len(_LAST) == N_LAST and len(_COMPETITORS) == N_COMPETITORS


@dataclass
class SimulatedBusiness:
    """A simulated business: one DataFrame per loadable contract table, and the truth behind them.

    Timestamps are ``datetime64[s, UTC]``, money is float USD rounded to cents (written as exact decimal
    strings), quantities and minutes are integers, ids are strings. See :mod:`keepwise.datasets.simulate`
    for every process and every field of ``truth``.
    """

    customers: pd.DataFrame
    products: pd.DataFrame
    orders: pd.DataFrame
    time_logs: pd.DataFrame
    staff_rates: pd.DataFrame
    incidents: pd.DataFrame
    exits: pd.DataFrame
    advocacy: pd.DataFrame
    consent: pd.DataFrame
    wins: pd.DataFrame
    winback_attempts: pd.DataFrame
    truth: dict[str, Any] = field(repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by contract name, in contract order."""
        return {name: getattr(self, name) for name in TABLE_NAMES}

    def write(self, directory: str | Path) -> Path:
        """Write ``TABLE.csv`` for every table and ``truth.json`` into ``directory`` (created if missing).

        Parameters
        ----------
        directory:
            Folder to write into; existing files of the same names are replaced.

        Returns
        -------
        Path
            The folder written.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables.items():
            _write_csv(df, name, out / f"{name}.csv")
        with open(out / "truth.json", "w", encoding="utf-8", newline="\n") as fh:
            # json.dumps (one shot) uses the C encoder; json.dump would encode in pure Python, ~5x slower
            fh.write(json.dumps(self.truth, separators=(",", ":"), ensure_ascii=False))
            fh.write("\n")
        return out


def simulate(
    customers: int = 3000,
    months: int = 24,
    seed: int = 0,
    start: str = "2024-01-01",
    out: str | Path | None = None,
    monthly_truth: bool | None = None,
) -> SimulatedBusiness:
    """Simulate a business with known truth.

    Parameters
    ----------
    customers:
        Number of customers acquired over the period (at least 1).
    months:
        Length of the period in calendar months from ``start`` (at least 1; patterns need 12).
    seed:
        Seed of every random draw: the same seed gives byte-identical files.
    start:
        First day of the period, ``YYYY-MM-DD`` (UTC midnight).
    out:
        If given, the folder to write the CSV files and ``truth.json`` into.
    monthly_truth:
        Include per-month truth for each customer; default: when ``customers <= 200,000``.

    Returns
    -------
    SimulatedBusiness
        The tables as DataFrames and the truth as a dict.

    Examples
    --------
    >>> biz = simulate(customers=200, months=12, seed=1)
    >>> sorted(biz.truth["patterns"])[:2]
    ['aov_decline', 'control']
    """
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer) or customers < 1:
        raise KeepwiseInputError(f"customers must be a whole number of at least 1, not {customers!r}")
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise KeepwiseInputError(f"months must be a whole number of at least 1, not {months!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise KeepwiseInputError(f"seed must be a whole number of at least 0, not {seed!r}")
    try:
        start_day = np.datetime64(str(start), "D")
        if str(start_day) != str(start):
            raise ValueError(start)
    except ValueError:
        raise KeepwiseInputError(f"start must be a date like 2024-01-01, not {start!r}") from None
    edge_ts = [pd.Timestamp(str(start_day)) + pd.DateOffset(months=k) for k in range(int(months) + 1)]
    edges = np.array([(t - edge_ts[0]).total_seconds() / 86400.0 for t in edge_ts])
    world = build_world(int(customers), edges, int(seed), Params())
    include_monthly = customers <= MONTHLY_TRUTH_LIMIT if monthly_truth is None else monthly_truth
    biz = _assemble(world, start_day.astype("datetime64[s]"), int(seed), include_monthly)
    if out is not None:
        biz.write(out)
    return biz


# --- assembling tables -----------------------------------------------------------------------------------
def _ids(prefix: str, count: int, width: int) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(1, count + 1)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def _ts(start: np.datetime64, days: np.ndarray) -> pa.Array:
    """Times in days since ``start`` as a UTC timestamp array (NaN/inf -> null)."""
    days = np.asarray(days, dtype=float)
    ok = np.isfinite(days)
    sec = np.where(ok, np.rint(np.where(ok, days, 0.0) * 86400.0), 0).astype(np.int64)
    arr = pa.array(sec + start.astype(np.int64), type=pa.int64(), mask=~ok)
    return arr.cast(pa.timestamp("s", tz="UTC"))


def _money(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(cents, dtype=np.int64) / 100.0, type=pa.float64(), mask=mask)


def _frame(name: str, columns: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame with exactly the contract's columns of ``name``, in contract order."""
    wanted = SCHEMA[name].column_names
    assert list(columns) == wanted, (name, list(columns), wanted)
    arrays = [c if isinstance(c, pa.Array | pa.ChunkedArray) else pa.array(c) for c in columns.values()]
    return pa.table(arrays, names=wanted).to_pandas()


def _take(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(list(values), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def _assemble(w: World, start: np.datetime64, seed: int, monthly: bool) -> SimulatedBusiness:
    n = w.n
    width = max(4, len(str(n)))
    cid = _ids("C", n, width)
    usd = pa.array(["USD"], pa.string())

    def usd_n(k: int) -> pa.Array:
        return usd.take(pa.array(np.zeros(k, np.int64)))

    # products
    cat_names = tuple(c[0] for c in CATEGORIES)
    n_prod = len(w.prod_cat)
    prod_names: list[str] = []
    for cname, count, _, _ in CATEGORIES:
        nouns = _PRODUCT_NOUNS[cname]
        prod_names += [f"{nouns[j % len(nouns)]}{_SIZES[j // len(nouns)]}" for j in range(count)]
    pid = _ids("P", n_prod, 3)
    products = _frame(
        "products",
        {
            "product_id": pid,
            "name": prod_names,
            "category": _take(cat_names, w.prod_cat),
            "unit_cost": _money(w.prod_cost),
            "currency": usd_n(n_prod),
        },
    )

    # orders
    n_lines = len(w.line_t)
    n_orders = int(w.line_order.max()) + 1 if n_lines else 0
    oid = _ids("O", n_orders, max(6, len(str(n_orders))))
    line_cat = w.prod_cat[w.line_prod]
    orders = _frame(
        "orders",
        {
            "order_id": oid.take(pa.array(w.line_order)),
            "line_no": pc.cast(pa.array(w.line_no), pa.string()),
            "customer_id": cid.take(pa.array(w.line_cust)),
            "ordered_at": _ts(start, w.line_t),
            "product_id": pid.take(pa.array(w.line_prod)),
            "category": _take(cat_names, line_cat),
            "quantity": w.line_qty,
            "unit_price": _money(w.line_price),
            "unit_cost": _money(w.prod_cost[w.line_prod]),
            "currency": usd_n(n_lines),
        },
    )

    # time logs and staff rates
    staff_ids = tuple(s[0] for s in STAFF)
    time_logs = _frame(
        "time_logs",
        {
            "customer_id": cid.take(pa.array(w.log_cust)),
            "staff_id": _take(staff_ids, w.log_staff),
            "started_at": _ts(start, w.log_t),
            "minutes": w.log_minutes,
            "activity": _take(_ACTIVITY_NAMES, w.log_activity),
        },
    )
    staff_rates = _frame(
        "staff_rates",
        {
            "staff_id": _take(staff_ids, w.rate_staff),
            "role": _take(tuple(s[1] for s in STAFF), w.rate_staff),
            "hourly_cost": _money(w.rate_cents),
            "currency": usd_n(len(w.rate_staff)),
            "valid_from": _ts(start, w.rate_from),
            "practical_minutes_per_month": np.array([STAFF[s][3] for s in w.rate_staff], np.int64),
        },
    )

    # incidents
    n_inc = len(w.inc_cust)
    iid = _ids("I", n_inc, max(5, len(str(n_inc))))
    inc_text = np.array([_INCIDENT_TEXT[c][v] for c in INCIDENT_CATEGORIES for v in range(3)], dtype=object)
    incidents = _frame(
        "incidents",
        {
            "incident_id": iid,
            "customer_id": cid.take(pa.array(w.inc_cust)),
            "opened_at": _ts(start, w.inc_opened),
            "category": _take(INCIDENT_CATEGORIES, w.inc_cat),
            "description": pa.array(inc_text[w.inc_cat * 3 + w.inc_variant], pa.string()),
            "status": _take(("open", "resolved", "closed"), w.inc_status),
            "concession_amount": _money(w.inc_amount, mask=~w.inc_granted),
            "currency": usd_n(n_inc),
            "resolved_at": _ts(start, w.inc_resolved),
        },
    )

    # money truth (needed for wanted_back)
    totals = _totals(w, start)

    # exits
    ex = np.flatnonzero(w.exit_recorded)
    code = np.where(w.exit_unknown[ex], len(REASONS), w.reason[ex])
    reason_text = np.array([_REASON_TEXT[r][v] for r in REASONS for v in range(3)] + [None] * 3, dtype=object)
    gone = [REASONS.index("moved"), REASONS.index("closed")]
    wanted = (totals["operating_profit"][ex] > 0) & ~np.isin(code, gone)
    comp = w.exit_competitor[ex]
    exits = _frame(
        "exits",
        {
            "customer_id": cid.take(pa.array(ex)),
            "lost_at": _ts(start, w.exit_lost_at[ex]),
            "reason_code": _take((*REASONS, "unknown"), code),
            "reason_text": pa.array(reason_text[code * 3 + w.exit_variant[ex]], pa.string()),
            "competitor": pa.array(
                np.array(_COMPETITORS, dtype=object)[np.maximum(comp, 0)], pa.string(), mask=comp < 0
            ),
            "wanted_back": wanted,
        },
    )

    # advocacy
    kind_names = ("referral", "case_study", "review")
    adv_value = np.array([0, round(w.params.case_study_value * 100), round(w.params.review_value * 100)])
    n_adv = len(w.adv_cust)
    advocacy = _frame(
        "advocacy",
        {
            "customer_id": cid.take(pa.array(w.adv_cust)),
            "kind": _take(kind_names, w.adv_kind),
            "at": _ts(start, w.adv_t),
            "referred_customer_id": cid.take(pa.array(np.maximum(w.adv_referred, 0)))
            if n_adv
            else pa.array([], pa.string()),
            "value": _money(adv_value[w.adv_kind], mask=w.adv_kind == 0),
            "currency": usd_n(n_adv),
        },
    )
    if n_adv:
        advocacy.loc[w.adv_referred < 0, "referred_customer_id"] = None

    # consent
    n_con = len(w.con_cust)
    proof = pc.binary_join_element_wise(
        _take(tuple(s[1] for s in _SOURCES), w.con_source), _ids("", n_con, 7), "-"
    )
    consent = _frame(
        "consent",
        {
            "customer_id": cid.take(pa.array(w.con_cust)),
            "channel": _take(tuple(c[0] for c in _CONSENT), w.con_kind),
            "purpose": _take(tuple(c[1] for c in _CONSENT), w.con_kind),
            "granted_at": _ts(start, w.con_granted),
            "revoked_at": _ts(start, w.con_revoked),
            "source": _take(tuple(s[0] for s in _SOURCES), w.con_source),
            "proof": proof,
        },
    )

    # customers
    first = _take(_FIRST, w.first_name)
    last = _take(_LAST, w.last_name)
    number = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    email = pc.utf8_lower(pc.binary_join_element_wise(first, ".", last, ".", number, "@example.com", ""))
    customers_df = _frame(
        "customers",
        {
            "customer_id": cid,
            "name": pc.binary_join_element_wise(first, last, " "),
            "email": email,
            "language": _take(("en", "pl"), w.language_pl.astype(np.int64)),
            "acquired_at": _ts(start, w.acq),
            "acquisition_cost": _money(w.acq_cost),
            "currency": usd_n(n),
            "channel": _take(CHANNELS, w.channel),
            "segment": _take(SEGMENTS, w.segment),
        },
    )

    # wins: why customers chose the business, recorded at acquisition for some
    won = np.flatnonzero(w.win_recorded)
    win_text = np.array([_WIN_TEXT[r][v] for r in WIN_REASONS for v in range(2)], dtype=object)
    wins = _frame(
        "wins",
        {
            "customer_id": cid.take(pa.array(won)),
            "won_at": _ts(start, w.acq[won]),
            "reason_code": _take(WIN_REASONS, w.win_reason[won]),
            "reason_text": pa.array(win_text[w.win_reason[won] * 2 + w.win_variant[won]], pa.string()),
        },
    )

    # past win-back attempts
    wb_codes = (*REASONS, "unknown")
    wb_cost = np.array([round(WINBACK_OFFERS[r][1] * 100) for r in wb_codes], np.int64)
    winback_attempts = _frame(
        "winback_attempts",
        {
            "customer_id": cid.take(pa.array(w.wb_cust)),
            "attempted_at": _ts(start, w.wb_t),
            "reason_code": _take(wb_codes, w.wb_reason),
            "offer": _take(tuple(WINBACK_OFFERS[r][0] for r in wb_codes), w.wb_reason),
            "cost": _money(wb_cost[w.wb_reason]),
            "currency": usd_n(len(w.wb_cust)),
            "won_back": w.wb_won,
        },
    )

    truth = _truth(w, start, seed, cid, iid, totals, monthly)
    return SimulatedBusiness(
        customers=customers_df,
        products=products,
        orders=orders,
        time_logs=time_logs,
        staff_rates=staff_rates,
        incidents=incidents,
        exits=exits,
        advocacy=advocacy,
        consent=consent,
        wins=wins,
        winback_attempts=winback_attempts,
        truth=truth,
    )


# --- truth -----------------------------------------------------------------------------------------------
def _iso(start: np.datetime64, days: np.ndarray) -> list[str | None]:
    days = np.asarray(days, dtype=float)
    ok = np.isfinite(days)
    sec = np.where(ok, np.rint(np.where(ok, days, 0.0) * 86400.0), 0).astype(np.int64)
    text = np.datetime_as_string(start + sec.astype("timedelta64[s]"), unit="s", timezone="UTC")
    return [t if k else None for t, k in zip(text.tolist(), ok.tolist(), strict=True)]


def _calendar_month(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    sec = np.rint(np.asarray(days, dtype=float) * 86400.0).astype(np.int64)
    return (start + sec.astype("timedelta64[s]")).astype("datetime64[M]").astype(np.int64)


def _totals(w: World, start: np.datetime64) -> dict[str, np.ndarray]:
    """True money per customer (USD floats) and the pieces needed for the monthly view."""
    n = w.n
    rev_line = (w.line_qty * w.line_price).astype(float)
    cogs_line = (w.line_qty * w.prod_cost[w.line_prod]).astype(float)
    cost = log_cost(w)
    revenue = np.bincount(w.line_cust, rev_line, n) / 100.0
    cogs = np.bincount(w.line_cust, cogs_line, n) / 100.0
    cts = np.bincount(w.log_cust, cost, n)
    conc = np.bincount(w.inc_cust, w.inc_amount.astype(float), n) / 100.0
    # referral value: the margin of the referred customer's first 365 days (within the period)
    first_year = w.line_t < w.acq[w.line_cust] + 365.0
    margin_first_year = np.bincount(w.line_cust[first_year], (rev_line - cogs_line)[first_year], n) / 100.0
    adv = np.zeros(n)
    ref = w.adv_kind == 0
    np.add.at(adv, w.adv_cust[ref], margin_first_year[w.adv_referred[ref]])
    fixed = np.where(
        w.adv_kind == 1, w.params.case_study_value, np.where(w.adv_kind == 2, w.params.review_value, 0)
    )
    np.add.at(adv, w.adv_cust, fixed)
    operating = revenue - cogs - cts - conc
    return {
        "revenue": revenue,
        "cogs": cogs,
        "cost_to_serve": cts,
        "concessions": conc,
        "advocacy_value": adv,
        "operating_profit": operating,
        "lifetime_profit": operating + adv,
        "minutes": np.bincount(w.log_cust, w.log_minutes.astype(float), n),
        "orders": np.bincount(w.line_cust[(w.line_no == 1) & (w.line_qty > 0)], minlength=n),
        "returns": np.bincount(w.line_cust[w.line_qty < 0], minlength=n),
        "rev_line": rev_line,
        "cogs_line": cogs_line,
        "log_cost": cost,
    }


def _monthly(w: World, start: np.datetime64, t: dict[str, np.ndarray]) -> list[dict[str, list[float]]]:
    m0 = int(start.astype("datetime64[M]").astype(np.int64))
    n_months = int(_calendar_month(start, np.array([w.end - 1e-6]))[0]) - m0 + 1
    out: list[dict[str, list[float]]] = [{} for _ in range(w.n)]
    sums = []
    for cust, when, value in (
        (w.line_cust, w.line_t, t["rev_line"] / 100.0),
        (w.line_cust, w.line_t, t["cogs_line"] / 100.0),
        (w.log_cust, w.log_t, t["log_cost"]),
        (w.inc_cust[w.inc_granted], w.inc_resolved[w.inc_granted], w.inc_amount[w.inc_granted] / 100.0),
    ):
        key = cust * n_months + (_calendar_month(start, when) - m0)
        sums.append(np.bincount(key, value, w.n * n_months))
    table = np.stack(sums, axis=1)
    nz = np.flatnonzero(np.any(table != 0, axis=1))
    labels = [str(np.datetime64(m0 + k, "M")) for k in range(n_months)]
    rows = np.round(table[nz], 4).tolist()
    for key, row in zip(nz.tolist(), rows, strict=True):
        c, k = divmod(key, n_months)
        out[c][labels[k]] = [round(row[0], 2), round(row[1], 2), row[2], round(row[3], 2)]
    return out


def _opt(values: np.ndarray, digits: int) -> list[float | None]:
    """Floats rounded to ``digits`` decimals; NaN and inf become None."""
    return [None if not np.isfinite(v) else round(v, digits) for v in np.asarray(values, float).tolist()]


def _sig(values: np.ndarray, digits: int) -> list[float | None]:
    """Floats rounded to ``digits`` significant digits; NaN and inf become None."""
    return [
        None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in np.asarray(values, float).tolist()
    ]


def _truth(
    w: World,
    start: np.datetime64,
    seed: int,
    cid: pa.Array,
    iid: pa.Array,
    t: dict[str, np.ndarray],
    monthly: bool,
) -> dict[str, Any]:
    p = w.params
    ids = cid.to_pylist()
    cat_names = [c[0] for c in CATEGORIES]
    cause_names = [None, "natural", "incident", "stopped_regular"]
    pattern_names = [None, None, "stopped_regular", "aov_decline", "dropped_category"]
    lost = w.drop < w.end
    dropped_at = np.where(lost, w.drop, np.nan)
    reason = [None if r < 0 else REASONS[r] for r in w.reason.tolist()]
    winnable = [None if r < 0 else REASONS[r] not in ("moved", "closed") for r in w.reason.tolist()]
    referred_by = [None if r < 0 else ids[r] for r in w.referred_by.tolist()]
    attempted_at = np.full(w.n, np.nan)
    attempted_at[w.wb_cust] = w.wb_t
    won_back: list[bool | None] = [None] * w.n
    for c, won in zip(w.wb_cust.tolist(), w.wb_won.tolist(), strict=True):
        won_back[c] = won
    columns: dict[str, list[Any]] = {
        "cohort": [COHORTS[c] for c in w.cohort.tolist()],
        "acquired_at": _iso(start, w.acq),
        "channel": [CHANNELS[c] for c in w.channel.tolist()],
        "segment": [SEGMENTS[s] for s in w.segment.tolist()],
        "lambda_per_week": _sig(w.lam, 6),
        "mu_per_week": _sig(w.mu, 6),
        "dropped_out": lost.tolist(),
        "dropped_out_at": _iso(start, dropped_at),
        "dropout_cause": [
            cause_names[c] if lost_ else None
            for c, lost_ in zip(w.drop_cause.tolist(), lost.tolist(), strict=True)
        ],
        "regular_interval_days": _opt(w.interval, 3),
        "nu": _sig(w.nu, 6),
        "mean_spend": _opt(p.p / w.nu, 2),
        "heavy_cost": w.heavy.tolist(),
        "referred_by": referred_by,
        "pattern": [pattern_names[c] for c in w.cohort.tolist()],
        "pattern_at": _iso(start, w.pattern_at),
        "true_reason": reason,
        "exit_recorded": w.exit_recorded.tolist(),
        "winnable": winnable,
        "p_winback": _opt(w.p_winback, 4),
        "winback_attempted_at": _iso(start, attempted_at),
        "won_back": won_back,
        "win_reason": [WIN_REASONS[r] for r in w.win_reason.tolist()],
        "win_recorded": w.win_recorded.tolist(),
        "orders": t["orders"].tolist(),
        "returns": t["returns"].tolist(),
        "minutes": t["minutes"].astype(np.int64).tolist(),
        "acquisition_cost": _opt(w.acq_cost / 100.0, 2),
    }
    for name in ("revenue", "cogs", "concessions", "advocacy_value", "operating_profit", "lifetime_profit"):
        columns[name] = _opt(t[name], 2)
    columns["cost_to_serve"] = _opt(t["cost_to_serve"], 4)
    if monthly:
        columns["monthly"] = list(_monthly(w, start, t))
    names = list(columns)
    customers = {
        ids[i]: dict(zip(names, row, strict=True))
        for i, row in enumerate(zip(*columns.values(), strict=True))
    }

    inc_ids = iid.to_pylist()
    end_days = np.minimum(w.drop[w.inc_cust], w.end)
    left = (w.drop[w.inc_cust] < w.end) & (w.drop[w.inc_cust] - w.inc_opened <= 60.0)
    stayed = ~left & (end_days - w.inc_opened >= 60.0)
    outcome = np.where(left, "left", np.where(stayed, "stayed", "pending")).tolist()
    inc_cols: dict[str, list[Any]] = {
        "customer_id": [ids[c] for c in w.inc_cust.tolist()],
        "category": [INCIDENT_CATEGORIES[c] for c in w.inc_cat.tolist()],
        "value_z": _opt(w.inc_value_z, 4),
        "concession_granted": w.inc_granted.tolist(),
        "concession_amount": _opt(w.inc_amount / 100.0, 2),
        "p_leave_with_concession": _opt(w.inc_p_with, 4),
        "p_leave_without_concession": _opt(w.inc_p_without, 4),
        "left_if_conceded": w.inc_left_if_conceded.tolist(),
        "left_if_refused": w.inc_left_if_refused.tolist(),
        "caused_exit": w.inc_caused_exit.tolist(),
        "outcome": outcome,
    }
    inc_names = list(inc_cols)
    incidents = {
        inc_ids[i]: dict(zip(inc_names, row, strict=True))
        for i, row in enumerate(zip(*inc_cols.values(), strict=True))
    }

    def members(k: int) -> list[str]:
        return [ids[i] for i in np.flatnonzero(w.cohort == k).tolist()]

    starts_at = _iso(start, w.pattern_at)
    patterns: dict[str, Any] = {
        "aov_decline": members(3),
        "stopped_regular": members(2),
        "dropped_category": [
            {"customer_id": ids[i], "category": cat_names[w.dropped_cat[i]], "at": starts_at[i]}
            for i in np.flatnonzero(w.cohort == 4).tolist()
        ],
        "regular": members(1),
        "heavy_cost": [ids[i] for i in np.flatnonzero(w.heavy).tolist()],
        "control": [ids[i] for i in np.flatnonzero(w.cohort <= 1).tolist()],
        "starts": {
            "aov_decline": {ids[i]: starts_at[i] for i in np.flatnonzero(w.cohort == 3).tolist()},
            "stopped_regular": {ids[i]: starts_at[i] for i in np.flatnonzero(w.cohort == 2).tolist()},
        },
    }
    params: dict[str, Any] = {
        **p.as_dict(),
        "pareto_nbd": {"r": p.r, "alpha": p.alpha, "s": p.s, "beta": p.beta, "unit": "week"},
        "gamma_gamma": {"p": p.p, "q": p.q, "v": p.v},
        "categories": [
            {"name": c[0], "products": c[1], "min_price": c[2], "max_price": c[3]} for c in CATEGORIES
        ],
        "channels": list(CHANNELS),
        "channel_mean_acquisition_cost": list(CHANNEL_COST),
        "incident_logit": dict(zip(INCIDENT_CATEGORIES, INCIDENT_LOGIT, strict=True)),
        "concession_effect": dict(zip(INCIDENT_CATEGORIES, CONCESSION_EFFECT, strict=True)),
        "reason_p_retail": dict(zip(REASONS, REASON_P_RETAIL, strict=True)),
        "reason_p_business": dict(zip(REASONS, REASON_P_BUSINESS, strict=True)),
        "winback_base": WINBACK_BASE,
        "winback_offers": {r: {"offer": o, "cost": c} for r, (o, c) in WINBACK_OFFERS.items()},
        "winback_attempt_p": dict(
            zip(("reason_recorded", "moved_or_closed_recorded", "no_reason"), WINBACK_ATTEMPT_P, strict=True)
        ),
        "win_reasons": list(WIN_REASONS),
        "win_reason_p": {
            ch: dict(zip(WIN_REASONS, row, strict=True))
            for ch, row in zip(CHANNELS, WIN_REASON_P, strict=True)
        },
        "staff": [
            {"staff_id": s[0], "role": s[1], "hourly_cost": s[2], "practical_minutes_per_month": s[3]}
            for s in STAFF
        ],
        "cost_to_serve": "sum over time_logs of minutes * hourly_cost(staff, valid at started_at) / 60",
        "monthly_fields": ["revenue", "cogs", "cost_to_serve", "concessions"],
        "months": len(w.month_edges) - 1,
    }
    end_iso = _iso(start, np.array([w.end]))[0]
    return {
        "seed": seed,
        "start": _iso(start, np.array([0.0]))[0],
        "end": end_iso,
        "params": params,
        "customers": customers,
        "incidents": incidents,
        "patterns": patterns,
    }


# --- writing ---------------------------------------------------------------------------------------------
_DAY_CACHE: dict[tuple[int, int], pa.Array] = {}


def _format_ts(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """UTC timestamps as ``YYYY-MM-DDTHH:MM:SSZ`` (fast: dates and times of day come from lookup tables)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    arr = arr.cast(pa.timestamp("s", tz="UTC"))
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    sec = np.asarray(arr.cast(pa.int64()).fill_null(0).to_numpy(), np.int64)
    if len(sec) == 0:
        return pa.array([], pa.string())
    day, tod = np.divmod(sec, 86400)
    d0, d1 = int(day.min()), int(day.max())
    days = np.arange(d0, d1 + 1).astype("datetime64[D]")
    day_text = pa.array([f"{d}T" for d in np.datetime_as_string(days, unit="D").tolist()], pa.string())
    hms = np.arange(86400)
    tod_text = pa.array(
        [f"{h:02d}:{m:02d}:{s:02d}Z" for h, m, s in zip(hms // 3600, hms // 60 % 60, hms % 60, strict=True)],
        pa.string(),
    )
    text = pc.binary_join_element_wise(day_text.take(pa.array(day - d0)), tod_text.take(pa.array(tod)), "")
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _format_money(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Float amounts as exact decimals with two places, written as ``18.50``, ``-0.05``."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    cents = np.rint(np.asarray(arr.fill_null(0.0).to_numpy(), float) * 100.0).astype(np.int64)
    buf = np.empty(2 * len(cents), np.int64)
    buf[0::2] = cents
    buf[1::2] = np.where(cents < 0, -1, 0)
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [validity, pa.py_buffer(buf)])


def _write_csv(df: pd.DataFrame, name: str, path: Path) -> None:
    spec = SCHEMA[name]
    table = pa.Table.from_pandas(df, preserve_index=False)
    arrays = []
    for col in spec.columns:
        data = table.column(col.name)
        if col.type == "timestamp":
            arrays.append(_format_ts(data))
        elif col.type == "money":
            arrays.append(_format_money(data))
        else:
            arrays.append(data)
    out = pa.table(arrays, names=spec.column_names)
    pa_csv.write_csv(out, str(path), pa_csv.WriteOptions(quoting_style="needed"))
