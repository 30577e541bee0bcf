"""The contract tables of a simulated business, and its truth.

The drawn :class:`~keepwise.datasets.simulate.world.World` becomes one DataFrame per loadable table (ids,
names, texts, timestamps and money).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keepwise.datasets.simulate.truth import build_truth, money_totals
from keepwise.datasets.simulate.world import (
    ACTIVITIES,
    CATEGORIES,
    CHANNELS,
    INCIDENT_CATEGORIES,
    N_COMPETITORS,
    N_FIRST,
    N_LAST,
    REASONS,
    SEGMENTS,
    STAFF,
    WIN_REASONS,
    WINBACK_OFFERS,
    World,
)
from keepwise.store.schema import SCHEMA

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


def assemble_tables(
    w: World, start: np.datetime64, seed: int, monthly: bool
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The contract tables of a drawn world (by table name) and its truth (``truth.json``)."""
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
    totals = money_totals(w, start)

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

    truth = build_truth(w, start, seed, cid, iid, totals, monthly)
    tables = dict(
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
    )
    return tables, truth
