"""Currencies: the ISO 4217 codes in circulation, and which currencies a store's records are in.

:data:`ISO_4217` is the list maintained by SIX on behalf of ISO (2024 edition). :func:`record_currencies`
reads the currencies of the tables whose amounts profitability converts, so a store whose records are all in
one currency needs no exchange rate; :func:`missing_rates` is the one wording of the error when several
currencies lack rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keepwise.store.memo import once

__all__ = ["ISO_4217", "MONEY_TABLES", "listed", "missing_rates", "record_currencies"]

ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
    NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL
    SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
    VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()
)


#: Tables whose amounts carry a currency that profitability converts (a product's standard cost is taken in
#: the currency of the order line it prices).
MONEY_TABLES: tuple[str, ...] = ("orders", "customers", "staff_rates", "incidents", "advocacy")


@once
def record_currencies(store: Any) -> dict[str, tuple[str, ...]]:
    """The currencies each table of :data:`MONEY_TABLES` holds (sorted; a table without rows holds none).

    Parameters
    ----------
    store:
        The store (:class:`keepwise.store.Store`; an Ibis backend is accepted too).

    Returns
    -------
    dict
        ``{table: ("EUR", "USD"), ...}`` for every table of :data:`MONEY_TABLES` that exists.
    """
    import ibis

    from keepwise.store.store import as_store

    store = as_store(store)
    present = set(store.tables())
    parts = []
    for name in MONEY_TABLES:
        if name not in present:
            continue
        t = store.table(name)
        found = t.filter(t.currency.notnull()).select(table=ibis.literal(name), cur=t.currency)
        parts.append(found.distinct())
    out: dict[str, set[str]] = {name: set() for name in MONEY_TABLES if name in present}
    if parts:
        found = store.to_pandas(ibis.union(*parts, distinct=True))
        for table, cur in zip(found["table"], found["cur"], strict=True):
            out[str(table)].add(str(cur))
    return {table: tuple(sorted(codes)) for table, codes in out.items()}


def listed(codes: Iterable[str]) -> str:
    """``EUR, GBP and USD``: currency codes for a sentence."""
    items = list(codes)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def missing_rates(where: str, currencies: Iterable[str], reporting: str, missing: Iterable[str]) -> str:
    """The one-line error for amounts in currencies without a rate: names them and the settings to add.

    Parameters
    ----------
    where:
        What holds the amounts, e.g. ``"orders"`` or ``"your records"``.
    currencies:
        Every currency the amounts are in.
    reporting:
        The reporting currency the rates would convert to.
    missing:
        The currencies without a rate in ``[value] fx``.
    """
    rates = ", ".join(f"{c} = <rate>" for c in missing)
    return (
        f"{where} are in {listed(sorted(set(currencies)))}: set [value] fx = {{{rates}}} in keepwise.toml to "
        f"report in {reporting} (reporting_currency; a rate is what 1 unit is worth in {reporting})"
    )
