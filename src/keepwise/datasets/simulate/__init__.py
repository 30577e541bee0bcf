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

Modules
-------
``world`` (parameters, the :class:`~keepwise.datasets.simulate.world.World` of drawn arrays, shared helpers),
``customers`` (catalogue, customers, cohorts, purchases, order lines and returns), ``service`` (incidents,
staff time, exits, advocacy, consent, win-back attempts, wins), ``tables`` (the contract tables),
``truth`` (``truth.json``) and ``write`` (the CSV files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keepwise.datasets.simulate.customers import (
    draw_catalogue,
    draw_cohorts,
    draw_customers,
    draw_lines,
    draw_purchase_times,
    draw_returns,
)
from keepwise.datasets.simulate.service import (
    draw_advocacy,
    draw_consent,
    draw_exits,
    draw_incidents,
    draw_service,
    draw_winback,
    draw_wins,
)
from keepwise.datasets.simulate.tables import assemble_tables
from keepwise.datasets.simulate.world import FloatArray, Params, World
from keepwise.datasets.simulate.write import write_csv
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.schema import TABLES

__all__ = ["SimulatedBusiness", "simulate"]

_STREAMS = (
    "catalogue",
    "customers",
    "cohorts",
    "purchases",
    "incidents",
    "spend",
    "lines",
    "returns",
    "service",
    "exits",
    "advocacy",
    "consent",
    "winback",
    "wins",
)


def build_world(n: int, edges: FloatArray, seed: int, params: Params) -> World:
    """Draw every process for ``n`` customers over the months whose boundaries (days) are ``edges``."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)}
    w = World(n=n, end=float(edges[-1]), month_edges=edges, params=params)
    draw_catalogue(w, rng["catalogue"])
    draw_customers(w, rng["customers"])
    draw_cohorts(w, rng["cohorts"])
    o_c, o_t, o_kind, tau = draw_purchase_times(w, rng["purchases"])
    draw_incidents(w, rng["incidents"], o_c, o_t, tau)
    keep = o_t < w.drop[o_c]
    draw_lines(w, rng["spend"], rng["lines"], o_c[keep], o_t[keep], o_kind[keep])
    draw_returns(w, rng["returns"])
    draw_service(w, rng["service"])
    draw_exits(w, rng["exits"])
    draw_advocacy(w, rng["advocacy"])
    draw_consent(w, rng["consent"])
    draw_winback(w, rng["winback"])
    draw_wins(w, rng["wins"])
    return w


TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES if t.loadable)


#: Above this many customers the per-month truth is left out unless asked for.
MONTHLY_TRUTH_LIMIT = 200_000


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
            write_csv(df, name, out / f"{name}.csv")
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
    tables, truth = assemble_tables(world, start_day.astype("datetime64[s]"), int(seed), include_monthly)
    biz = SimulatedBusiness(**tables, truth=truth)
    if out is not None:
        biz.write(out)
    return biz
