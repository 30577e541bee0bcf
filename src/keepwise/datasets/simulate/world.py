"""The processes behind :func:`keepwise.datasets.simulate.simulate`, as vectorised numpy.

Everything here works on arrays indexed by customer number (``0 .. n-1``, in order of acquisition) and on
times measured in days (float) from the start of the simulation. Nothing here formats text or writes files;
:mod:`keepwise.datasets.simulate.tables` and :mod:`~keepwise.datasets.simulate.truth` turn the
:class:`World` into tables and truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FloatArray = np.ndarray
IntArray = np.ndarray

# --- catalogue -------------------------------------------------------------------------------------------
#: Product ranges: name, number of products, cheapest and dearest list price (USD).
CATEGORIES: tuple[tuple[str, int, float, float], ...] = (
    ("coffee", 14, 6.0, 42.0),
    ("tea", 10, 4.0, 28.0),
    ("equipment", 12, 8.0, 420.0),
    ("accessories", 16, 3.0, 60.0),
    ("snacks", 8, 2.0, 16.0),
    ("cleaning", 6, 4.0, 30.0),
)
CHANNELS = ("web", "ads", "store", "partner", "referral")
CHANNEL_P = (0.38, 0.22, 0.15, 0.10, 0.15)
#: Mean acquisition cost per channel (USD); the drawn cost is gamma around it.
CHANNEL_COST = (35.0, 80.0, 25.0, 120.0, 15.0)
SEGMENTS = ("retail", "smb", "enterprise")
INCIDENT_CATEGORIES = ("late", "damaged", "billing", "quality")
INCIDENT_P = (0.35, 0.25, 0.20, 0.20)
#: Base log-odds of leaving after an incident without a concession, and how much a concession lowers it.
INCIDENT_LOGIT = (-2.2, -1.5, -1.2, -0.9)
CONCESSION_EFFECT = (1.0, 1.6, 1.4, 0.6)
REASONS = ("price", "competitor", "service", "quality", "moved", "closed", "no_need")
REASON_P_RETAIL = (0.22, 0.18, 0.10, 0.10, 0.14, 0.04, 0.22)
REASON_P_BUSINESS = (0.20, 0.20, 0.12, 0.10, 0.06, 0.14, 0.18)
#: Probability that a winnable ex-customer comes back when offered a win-back, by reason (centre of a
#: logit-normal spread); moved and closed are never winnable.
WINBACK_BASE = {"price": 0.35, "competitor": 0.25, "service": 0.30, "quality": 0.20, "no_need": 0.10}
#: Past win-back offer by the exit reason the business knew ("unknown": none recorded), and its cost (USD).
WINBACK_OFFERS: dict[str, tuple[str, float]] = {
    "price": ("10% off the next three orders", 30.0),
    "competitor": ("price match on the next order and a call from the account manager", 25.0),
    "service": ("a personal apology and free delivery for three months", 20.0),
    "quality": ("a free replacement of the last product and a quality follow-up call", 35.0),
    "moved": ("a friendly check-in call and 5% off the next order", 10.0),
    "closed": ("a friendly check-in call and 5% off the next order", 10.0),
    "no_need": ("a reminder of new products with 5% off", 10.0),
    "unknown": ("a friendly check-in call and 5% off the next order", 10.0),
}
#: Share of lost customers the business tried to win back: reason recorded, moved/closed recorded, no reason.
WINBACK_ATTEMPT_P = (0.45, 0.10, 0.15)
#: Why customers chose the business (the ``wins`` table), and the chance of each by acquisition channel
#: (rows in the order of CHANNELS: web, ads, store, partner, referral).
WIN_REASONS = ("price", "service", "quality", "range", "recommendation", "location")
WIN_REASON_P = (
    (0.28, 0.14, 0.24, 0.24, 0.05, 0.05),
    (0.40, 0.10, 0.20, 0.20, 0.05, 0.05),
    (0.10, 0.20, 0.20, 0.10, 0.05, 0.35),
    (0.25, 0.30, 0.20, 0.15, 0.05, 0.05),
    (0.05, 0.05, 0.05, 0.05, 0.75, 0.05),
)
#: Staff: id, role, hourly cost at the start, practical minutes a month.
STAFF = (
    ("S1", "account manager", 52.00, 6600),
    ("S2", "account manager", 48.00, 6600),
    ("S3", "support", 32.00, 7200),
    ("S4", "support", 30.00, 3600),
    ("S5", "sales engineer", 70.00, 6000),
)
#: Activities: name, staff ids that do it (with weights), mean minutes, gamma shape, rate a month by segment.
Activity = tuple[str, tuple[int, ...], tuple[float, ...], float, float, tuple[float, float, float]]
ACTIVITIES: tuple[Activity, ...] = (
    ("call", (2, 3, 0, 1), (0.4, 0.3, 0.15, 0.15), 12.0, 2.0, (0.15, 0.5, 1.0)),
    ("email", (2, 3), (0.5, 0.5), 6.0, 2.0, (0.20, 0.5, 0.8)),
    ("visit", (0, 1), (0.5, 0.5), 75.0, 4.0, (0.0, 0.06, 0.25)),
    ("quote", (4, 0, 1), (0.6, 0.2, 0.2), 40.0, 3.0, (0.01, 0.2, 0.4)),
)


@dataclass(frozen=True)
class Params:
    """Global parameters of the processes (recorded in ``truth.json`` under ``params``)."""

    # Pareto/NBD purchase and drop-out, per week: lambda ~ Gamma(r, rate alpha), mu ~ Gamma(s, rate beta).
    r: float = 0.55
    alpha: float = 6.0
    s: float = 0.6
    beta: float = 40.0
    # Gamma-Gamma spend: order value ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v); mean spend = p / nu.
    p: float = 6.0
    q: float = 3.8
    v: float = 28.0
    initial_share: float = 0.35
    lines_p: tuple[float, float, float, float] = (0.45, 0.30, 0.15, 0.10)
    category_concentration: float = 0.8
    return_share: float = 0.03
    segment_p: tuple[float, float, float] = (0.60, 0.30, 0.10)
    regular_share: float = 0.04
    stopped_regular_share: float = 0.03
    aov_decline_share: float = 0.03
    dropped_category_share: float = 0.03
    heavy_cost_share: float = 0.05
    heavy_cost_visits: float = 6.0
    heavy_cost_minutes: float = 1.6
    incident_per_order: float = 0.035
    exit_recorded_share: float = 0.75
    exit_unknown_share: float = 0.08
    case_study_value: float = 500.0
    review_value: float = 20.0
    no_consent_share: float = 0.04
    win_recorded_share: float = 0.6
    winback_delay_days: tuple[float, float] = (30.0, 120.0)

    def as_dict(self) -> dict[str, object]:
        """Plain-data form for ``truth.json``."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


COHORTS = ("base", "regular", "stopped_regular", "aov_decline", "dropped_category")


@dataclass
class World:
    """Every drawn quantity, as arrays. Times are days from the start; money is integer cents."""

    n: int
    end: float
    month_edges: FloatArray
    params: Params
    # customers
    acq: FloatArray = field(default_factory=lambda: np.empty(0))
    channel: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    segment: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    acq_cost: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    cohort: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    lam: FloatArray = field(default_factory=lambda: np.empty(0))
    mu: FloatArray = field(default_factory=lambda: np.empty(0))
    nu: FloatArray = field(default_factory=lambda: np.empty(0))
    prefs: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    drop: FloatArray = field(default_factory=lambda: np.empty(0))  # np.inf if never
    #: 0 none, 1 natural, 2 incident, 3 stopped (regular)
    drop_cause: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    heavy: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    interval: FloatArray = field(default_factory=lambda: np.empty(0))  # regular interval (days) or nan
    pattern_at: FloatArray = field(default_factory=lambda: np.empty(0))  # pattern start or nan
    aov_factor: FloatArray = field(default_factory=lambda: np.empty(0))  # monthly factor or nan
    dropped_cat: IntArray = field(default_factory=lambda: np.empty(0, np.int64))  # -1 if none
    referred_by: IntArray = field(default_factory=lambda: np.empty(0, np.int64))  # -1 if none
    language_pl: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    first_name: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    last_name: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # products
    prod_cat: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    prod_price: FloatArray = field(default_factory=lambda: np.empty(0))
    prod_cost: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # order lines (sorted by order number, then line number)
    line_order: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    line_no: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    line_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    line_t: FloatArray = field(default_factory=lambda: np.empty(0))
    line_prod: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    line_qty: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    line_price: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # incidents (sorted by opened time)
    inc_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    inc_opened: FloatArray = field(default_factory=lambda: np.empty(0))
    inc_cat: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    inc_status: IntArray = field(default_factory=lambda: np.empty(0, np.int64))  # 0 open 1 resolved 2 closed
    inc_resolved: FloatArray = field(default_factory=lambda: np.empty(0))
    inc_granted: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    inc_amount: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    inc_p_with: FloatArray = field(default_factory=lambda: np.empty(0))
    inc_p_without: FloatArray = field(default_factory=lambda: np.empty(0))
    inc_left_if_conceded: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    inc_left_if_refused: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    inc_caused_exit: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    inc_value_z: FloatArray = field(default_factory=lambda: np.empty(0))
    inc_variant: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # time logs
    log_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    log_staff: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    log_t: FloatArray = field(default_factory=lambda: np.empty(0))
    log_minutes: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    log_activity: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # staff rates: staff index, hourly cost cents, valid from (days)
    rate_staff: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    rate_cents: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    rate_from: FloatArray = field(default_factory=lambda: np.empty(0))
    # exits (one per lost customer; recorded or not)
    reason: IntArray = field(default_factory=lambda: np.empty(0, np.int64))  # -1 for customers still active
    exit_recorded: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    exit_unknown: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    exit_lost_at: FloatArray = field(default_factory=lambda: np.empty(0))
    exit_competitor: IntArray = field(default_factory=lambda: np.empty(0, np.int64))  # -1 none
    exit_variant: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    p_winback: FloatArray = field(default_factory=lambda: np.empty(0))
    # past win-back attempts (at most one per lost customer): customer, time, offer reason index (into
    # REASONS, len(REASONS) = unknown), whether they came back
    wb_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    wb_t: FloatArray = field(default_factory=lambda: np.empty(0))
    wb_reason: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    wb_won: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    # wins: why each customer chose the business (recorded for some), index into WIN_REASONS
    win_reason: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    win_recorded: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    win_variant: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # advocacy
    adv_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    #: 0 referral, 1 case study, 2 review
    adv_kind: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    adv_t: FloatArray = field(default_factory=lambda: np.empty(0))
    adv_referred: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    # consent
    con_cust: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    #: 0 email/service, 1 email/marketing, 2 sms/marketing
    con_kind: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    con_granted: FloatArray = field(default_factory=lambda: np.empty(0))
    con_revoked: FloatArray = field(default_factory=lambda: np.empty(0))
    con_source: IntArray = field(default_factory=lambda: np.empty(0, np.int64))


# --- helpers ---------------------------------------------------------------------------------------------
def month_of(edges: FloatArray, t: FloatArray) -> IntArray:
    """Calendar-month index (0 = first month) of each time ``t`` (days)."""
    return np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)


def poisson_times(
    rng: np.random.Generator, who: IntArray, t0: FloatArray, t1: FloatArray, rate_per_day: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Events of a homogeneous Poisson process of ``rate_per_day`` on ``(t0, t1)`` for each of ``who``."""
    span = np.maximum(t1 - t0, 0.0)
    counts = rng.poisson(rate_per_day * span)
    c = np.repeat(who, counts)
    t = np.repeat(t0, counts) + rng.random(int(counts.sum())) * np.repeat(span, counts)
    return c, t


def regular_times(
    rng: np.random.Generator,
    who: IntArray,
    t0: FloatArray,
    t1: FloatArray,
    interval: FloatArray,
    jitter: float,
) -> tuple[IntArray, FloatArray]:
    """A first event at ``t0``, then one every ``interval`` days (jitter clipped at 3 sd) until ``t1``."""
    if len(who) == 0:
        return np.empty(0, np.int64), np.empty(0)
    short = np.maximum(interval - 3 * jitter, 1.0)
    counts = (np.ceil(np.maximum(t1 - t0, 0.0) / short) + 1).astype(np.int64)
    total = int(counts.sum())
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    gaps = np.repeat(interval, counts) + np.clip(rng.normal(0.0, jitter, total), -3 * jitter, 3 * jitter)
    gaps[starts] = 0.0
    cs = np.cumsum(gaps)
    t = np.repeat(t0, counts) + cs - np.repeat(cs[starts], counts)
    c = np.repeat(who, counts)
    keep = t < np.repeat(t1, counts)
    return c[keep], t[keep]


def choice_by_cumulative(u: FloatArray, cum: FloatArray) -> IntArray:
    """Index drawn by inverse CDF: ``cum`` holds per-row cumulative probabilities (rows x k)."""
    out = np.zeros(len(u), np.int64)
    for j in range(cum.shape[1] - 1):
        out += u > cum[:, j]
    return out


def group_rank(*keys: np.ndarray) -> IntArray:
    """0-based rank of each row among rows with equal keys (in the order given)."""
    n = len(keys[0])
    if n == 0:
        return np.empty(0, np.int64)
    order = np.lexsort(keys[::-1])
    sorted_keys = [k[order] for k in keys]
    new = np.ones(n, bool)
    new[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in sorted_keys])
    idx = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new, idx, 0))
    rank = np.empty(n, np.int64)
    rank[order] = idx - group_start
    return rank


def sigmoid(x: FloatArray) -> FloatArray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def round_cents(dollars: FloatArray) -> IntArray:
    """Dollars to integer cents."""
    return np.rint(np.asarray(dollars) * 100.0).astype(np.int64)


def choice_by_row(u: FloatArray, cum: FloatArray, rows: IntArray) -> IntArray:
    """Like :func:`choice_by_cumulative` with ``cum[rows]``, without materialising the gathered matrix."""
    out = np.zeros(len(u), np.int64)
    for j in range(cum.shape[1] - 1):
        out += u > cum[rows, j]
    return out


_DAY_SECONDS = 86400.0


#: Number of first and last names in :mod:`keepwise.datasets.simulate` (kept in step with the lists there).
N_FIRST = 40


N_LAST = 40


N_COMPETITORS = 4


def seconds(t: FloatArray) -> FloatArray:
    """Round times (days) to whole seconds, as everything is written."""
    return np.rint(t * _DAY_SECONDS) / _DAY_SECONDS


def value_z(w: World) -> FloatArray:
    """Standardised log of expected spend a week: the customer value that shapes incident responses."""
    v = np.log(w.lam * w.params.p / w.nu)
    sd = float(v.std()) or 1.0
    return (v - float(np.median(v))) / sd
