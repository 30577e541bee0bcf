"""Shared by the load tests: a valid row for every loadable table, a seeded store and a digest of a store.

``VALID`` holds, per loadable table of the contract, its header and two valid rows with different keys (they
refer to customers C1 and C2 of ``BASE``). ``digest`` hashes every row of every table, so a test can say
that a failed load left the store exactly as it was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

#: Per loadable table: header, first valid row, second valid row (another key).
VALID: dict[str, tuple[str, str, str]] = {
    "customers": (
        "customer_id,name,email,language,acquired_at,acquisition_cost,currency,channel,segment",
        "C10,Ann,ann@example.com,en,2024-01-15,120.00,USD,web,retail",
        "C11,Bo,bo@example.com,pl,2024-01-16T10:00:00+01:00,80,USD,shop,retail",
    ),
    "products": (
        "product_id,name,category,unit_cost,currency",
        "P10,Beans,coffee,9.40,USD",
        "P11,Leaves,tea,3.00,USD",
    ),
    "orders": (
        "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency",
        "O10,1,C1,2024-03-01T10:00:00Z,P1,coffee,2,18.50,9.40,USD",
        "O10,2,C1,2024-03-01T10:00:00Z,P1,coffee,1,18.50,9.40,USD",
    ),
    "time_logs": (
        "customer_id,staff_id,started_at,minutes,activity",
        "C1,S1,2024-02-05T09:00Z,25,call",
        "C1,S1,2024-02-05T10:00Z,15,visit",
    ),
    "staff_rates": (
        "staff_id,role,hourly_cost,currency,valid_from,practical_minutes_per_month",
        "S1,manager,48.00,USD,2024-01-01,7200",
        "S2,clerk,30.00,USD,2024-01-01,7200",
    ),
    "incidents": (
        "incident_id,customer_id,opened_at,category,description,status,concession_amount,currency,resolved_at",
        "I10,C1,2024-03-01,late,A week late,resolved,200.00,USD,2024-03-04",
        "I11,C2,2024-03-02,damaged,Broken,open,0,USD,",
    ),
    "exits": (
        "customer_id,lost_at,reason_code,reason_text,competitor,wanted_back",
        "C1,2024-06-30,price,Cheaper,BeanCo,true",
        "C2,2024-07-01,service,Slow,,false",
    ),
    "advocacy": (
        "customer_id,kind,at,referred_customer_id,value,currency",
        "C1,referral,2024-04-02,C2,10.00,USD",
        "C2,review,2024-04-03,,,",
    ),
    "consent": (
        "customer_id,channel,purpose,granted_at,revoked_at,source,proof",
        "C1,email,marketing,2024-01-15,,web form,f1",
        "C2,email,marketing,2024-01-16,2024-05-01,call,rec-2",
    ),
    "wins": (
        "customer_id,won_at,reason_code,reason_text",
        "C1,2024-01-15,service,Quick",
        "C2,2024-01-16,price,Cheap",
    ),
    "winback_attempts": (
        "customer_id,attempted_at,reason_code,offer,cost,currency,won_back",
        "C1,2024-08-01,price,10% off,30.00,USD,true",
        "C2,2024-08-02,service,Call,0,USD,false",
    ),
}

#: What every test store holds before the load under test (CSV text per table).
BASE: dict[str, str] = {
    "customers": "customer_id,name,currency\nC1,Ada,USD\nC2,Bolek,USD\n",
    "products": "product_id,name,category,unit_cost,currency\nP1,Beans,coffee,9.40,USD\n",
    "orders": VALID["orders"][0] + "\nO1,1,C1,2024-02-01,P1,coffee,1,18.50,9.40,USD\n",
}


def digest(path: Path) -> str:
    """A hash of every row of every table of the DuckDB store at ``path`` (order-independent)."""
    con = duckdb.connect(str(path))
    try:
        return digest_of(con)
    finally:
        con.close()


def digest_of(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of every row of every table an open DuckDB connection sees (order-independent).

    Per table: its columns, its row count and the sum of its rows' hashes, computed in the engine.
    """
    h = hashlib.sha256()
    tables = con.execute(
        "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
        "FROM duckdb_columns() WHERE NOT internal GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    for name, columns in tables:
        count, total = con.execute(f'SELECT COUNT(*), SUM(HASH(t)::HUGEINT) FROM "{name}" t').fetchone()
        h.update(f"{name}({columns}): {count} {total}\n".encode())
    return h.hexdigest()
