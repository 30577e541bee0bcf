"""CDNOW as a real owner loads it (customers and orders, nothing else) through every command and every page.

Issue 15's first "done when": on an orders-only store every command exits 0, every dashboard page and API
route answers 200, and each JSON document carries ``notes`` (``{"input", "missing", "instead"}``, see
:mod:`keepwise.store.inventory`) naming each missing input that the command uses, as :data:`INPUTS` says.

The commands run once per module, in-process through the real CLI (typer's runner, with the exit codes of
``keepwise``), in the order an owner would use them: the review first, the experiment before its analysis,
the concession before the concession report. The routes are listed from the app itself, so a new route is
covered (a new POST route needs its request added to :func:`requests_for`). Each check is its own test, so a
failure names its command or route.

Data: Fader and Hardie's CDNOW (``keepwise.datasets.cdnow_tables``, 23,570 customers, 1997-01 to 1998-06,
USD; source and licence in ``keepwise/datasets/data/README.md``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from keepwise.store import connect
from keepwise.store.inventory import INPUTS, Inventory, inventory

from .conftest import CDNOW_LAST_MONTH, Ran, run_cli

#: A customer of the issue's report (``keepwise concession 19339 --cost 20`` failed with a MergeError).
CUSTOMER = "19339"
#: A customer who bought once (valued at $38.32 a month for 20 years in the issue's report).
ONE_TIME_BUYER = "00042"
#: An experiment designed for a past month: assigned at the end of 1997-06, measured over 1997-07 to 1997-12.
EXPERIMENT = "cdnow-realdata"
DESIGN_MONTH = "1997-06"
WINDOW_END = "1997-12"
MODELS = ("bgnbd", "mbgnbd", "pareto-nbd", "bgbb", "gamma-gamma", "sbg")
TOKEN = "realdata-token-0123456789abcdef"
SECRET = "realdata-unsubscribe-secret-0123456789"

#: Every command, in the order they run: (key, command line); ``{db}`` and ``{tmp}`` are filled in when run.
COMMANDS: list[tuple[str, str]] = [
    ("status", "status --json --db {db}"),
    ("schema", "schema --json"),
    ("review", "review --json --html {tmp}/review.html --db {db}"),
    ("profit", "profit --json --db {db}"),
    ("profit ttm", "profit --view ttm --json --db {db}"),  # what the dashboard's profitability page shows
    *[(f"fit {m}", f"fit {m} --json --db {{db}}") for m in MODELS],
    ("clv", "clv --json --draws 20 --out {tmp}/clv.csv --db {db}"),
    ("concession", f"concession {CUSTOMER} --cost 20 --json --db {{db}}"),
    ("concessions report", "concessions report --json --db {db}"),
    ("winback", "winback --json --db {db}"),
    ("outreach", "outreach --json --db {db}"),
    ("wins", "wins --json --db {db}"),
    (
        "experiment design",
        f"experiment design {EXPERIMENT} --population top:400 --month {DESIGN_MONTH} --json --db {{db}}",
    ),
    ("experiment analyze", f"experiment analyze {EXPERIMENT} --months 6 --json --db {{db}}"),
    (
        "uplift fit",
        "uplift fit --file {tmp}/trial.csv --arm-column arm --outcome retained --features "
        "orders_before,spend_before --learner t --model-out {tmp}/uplift.pkl --json",
    ),
    ("uplift score", "uplift score --model {tmp}/uplift.pkl --file {tmp}/trial.csv --json"),
    (
        "uplift plan",
        "uplift plan --model {tmp}/uplift.pkl --file {tmp}/trial.csv --cost treatment=2 "
        "--value-column spend_before --json",
    ),
    ("flows run", "flows run --dry-run --json --db {db}"),
    ("messages send", "messages send --json --db {db}"),  # nothing is queued without consent: no SMTP
    ("messages report", "messages report --json --db {db}"),
]

#: Commands the data cannot support, refused in one line (exit 2) that says why: the shifted-beta-geometric
#: model is for contracts (periods renewed or cancelled), and an orders-only store records no contract.
REFUSED = {"fit sbg": "sbg needs contract durations"}

#: The name a command has in :data:`INPUTS`' ``used_by`` where it is not its key.
USED_BY_NAME = {f"fit {m}": "fit" for m in MODELS} | {"profit ttm": "profit"}


@dataclass
class Session:
    """The commands of one module's run: their results by key, and the folder their files went to."""

    tmp: Path
    results: dict[str, Ran] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Ran:
        return self.results[key]


def window_orders(orders: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    """Order lines of months ``first`` to ``last`` (``YYYY-MM``, UTC), with their amount as a float."""
    month = orders["ordered_at"].dt.strftime("%Y-%m")
    lines = orders[(month >= first) & (month <= last)]
    return lines.assign(amount=lines["unit_price"].astype(float) * lines["quantity"].astype(float))


def uplift_trial(orders: pd.DataFrame, assigned: pd.DataFrame) -> pd.DataFrame:
    """The experiment's customers as an uplift trial file: behaviour up to the design month, outcome after.

    Features: orders and spend in 1997 to the design month; outcome ``retained``: ordered in the window.
    """
    before = window_orders(orders, "1997-01", DESIGN_MONTH)
    feats = before.groupby("customer_id").agg(
        orders_before=("order_id", "nunique"), spend_before=("amount", "sum")
    )
    bought = set(window_orders(orders, "1997-07", WINDOW_END)["customer_id"])
    trial = assigned[["customer_id", "arm"]].merge(feats, on="customer_id", how="left").fillna(0)
    trial["retained"] = trial["customer_id"].isin(bought).astype(int)
    return trial


def _assigned(db: str) -> pd.DataFrame:
    """The experiment's customers and arms (empty when it was not designed)."""
    backend = connect(db)
    try:
        if "assignments" not in backend.tables():
            return pd.DataFrame({"customer_id": [], "arm": []})
        a = backend.table("assignments")
        return backend.to_pandas(a.filter(a.experiment_id == EXPERIMENT).select("customer_id", "arm"))
    finally:
        backend.disconnect()


@pytest.fixture(scope="module")
def owned(cdnow_db: str) -> Inventory:
    """What the owner loaded, read before any command writes tables of its own."""
    backend = connect(cdnow_db)
    try:
        return inventory(backend)
    finally:
        backend.disconnect()


@pytest.fixture(scope="module")
def ran(cdnow_db: str, owned: Inventory, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """Every command of :data:`COMMANDS`, run once on the store in order (failures are kept, not raised)."""
    from keepwise.datasets import cdnow_tables

    session = Session(tmp_path_factory.mktemp("cdnow-commands"))
    here = Path.cwd()
    os.chdir(session.tmp)  # no keepwise.toml: every setting is its default, as for a new user
    try:
        for key, line in COMMANDS:
            if key == "uplift fit":
                uplift_trial(cdnow_tables()["orders"], _assigned(cdnow_db)).to_csv(
                    session.tmp / "trial.csv", index=False
                )
            args = [a.replace("{db}", cdnow_db).replace("{tmp}", str(session.tmp)) for a in line.split()]
            session.results[key] = run_cli(*args)
    finally:
        os.chdir(here)
    return session


def uses_inputs(key: str) -> bool:
    """Whether command ``key`` uses any optional input of :data:`INPUTS`."""
    return any(USED_BY_NAME.get(key, key) in i.used_by for i in INPUTS)


def expected_notes(command: str, owned: Inventory) -> list[str]:
    """The inputs that ``command`` uses (per :data:`INPUTS`) and the store lacks."""
    name = USED_BY_NAME.get(command, command)
    return [i.name for i in INPUTS if name in i.used_by and not owned.has(i.name)]


def check_notes(doc: Any, wanted: list[str], where: str) -> None:
    """``doc["notes"]`` is a list of Note objects (input, missing, instead) naming each of ``wanted``."""
    assert isinstance(doc, dict), f"{where}: the JSON document is not an object"
    notes = doc.get("notes")
    assert isinstance(notes, list), (
        f"{where}: no 'notes' list in the JSON document (missing inputs: {wanted})"
    )
    bad = [n for n in notes if not (isinstance(n, dict) and set(n) == {"input", "missing", "instead"})]
    assert not bad, f"{where}: notes that are not {{input, missing, instead}} objects: {bad[:3]}"
    named = {n["input"] for n in notes}
    absent = [w for w in wanted if w not in named]
    assert not absent, (
        f"{where}: the notes do not name the missing inputs {absent} (they name {sorted(named)})"
    )


def test_the_store_is_orders_only(owned: Inventory):
    """The fixture is what the issue describes: customers and orders, every optional input missing."""
    assert owned.rows["customers"] == 23_570 and owned.rows["orders"] == 69_659
    assert [i.name for i in INPUTS if owned.has(i.name)] == []
    assert owned.currency == "USD" and owned.last_month == CDNOW_LAST_MONTH


@pytest.mark.parametrize("key", [k for k, _ in COMMANDS if k not in REFUSED])
def test_every_command_exits_0(ran: Session, key: str):
    assert ran[key].code == 0, ran[key].why()


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_a_model_the_data_cannot_support_is_refused_in_one_line(ran: Session, key: str):
    assert ran[key].code == 2, ran[key].why()
    assert REFUSED[key] in ran[key].why()


@pytest.mark.parametrize("key", [k for k, _ in COMMANDS if uses_inputs(k) and k not in REFUSED])
def test_each_json_document_names_the_missing_inputs_it_uses(ran: Session, owned: Inventory, key: str):
    r = ran[key]
    assert r.code == 0, r.why()
    check_notes(r.doc, expected_notes(key, owned), f"keepwise {key} --json")


def test_the_experiment_of_a_past_month_measures_the_months_after_it(ran: Session, cdnow_db: str):
    """Designed at 1997-06 and measured over six months: each arm's mean revenue is the data's own."""
    from keepwise.datasets import cdnow_tables

    r = ran["experiment analyze"]
    assert r.code == 0, r.why()
    revenue = (
        window_orders(cdnow_tables()["orders"], "1997-07", WINDOW_END).groupby("customer_id")["amount"].sum()
    )
    assigned = _assigned(cdnow_db)
    assert len(assigned) == 400
    for arm, group in assigned.groupby("arm"):
        own = float(revenue.reindex(group["customer_id"]).fillna(0).mean())
        got = float(r.doc["arms"][arm]["mean"]["revenue"])
        assert own > 0 and abs(got - own) < 0.01, f"arm {arm}: mean revenue {got}, the data's own {own:.2f}"


# --- the dashboard and the API ---


def _app(db: str) -> Any:
    from keepwise.config import Config, MessagesAssumptions, WebAssumptions
    from keepwise.web import create_app

    config = replace(
        Config(),
        messages=replace(MessagesAssumptions(), unsubscribe_url="https://shop.example/keepwise/unsubscribe"),
        web=replace(WebAssumptions(), token=TOKEN),
    )
    return create_app(db, config)


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD aside), as the app lists them.

    Path converters are left out: ``/customers/{customer_id:path}`` is ``/customers/{customer_id}`` here.
    """

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x keeps included routers whole
            if inner is not None:
                context = getattr(route, "include_context", None)
                yield from walk(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
                continue
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if path is not None and methods:
                plain = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", prefix + path)
                yield from ((m, plain) for m in sorted(methods) if m != "HEAD")

    return sorted(set(walk(_app("duckdb:///unused.duckdb").routes, "")))


#: Routes that are the sign-in itself (tested in tests/web): the session every other request uses.
SIGN_IN = {("POST", "/login"), ("POST", "/logout")}

#: Routes whose JSON (API) or page is a command's, by that command's name in :data:`INPUTS`.
SHOWS = {
    ("GET", "/"): "review",
    ("GET", "/api/review"): "review",
    ("GET", "/api/review/{month}"): "review",
    ("GET", "/profit"): "profit",
    ("GET", "/api/profit"): "profit",
    ("GET", "/winback"): "winback",
    ("GET", "/api/winback"): "winback",
    ("GET", "/outreach"): "outreach",
    ("GET", "/api/outreach"): "outreach",
    ("GET", "/wins"): "wins",
    ("GET", "/api/wins"): "wins",
    ("POST", "/concession"): "concession",
    ("POST", "/api/concession"): "concession",
}

#: The routes that may answer 404 on this store, and why: there is no conjoint study on orders-only data (its
#: page says so with a 200), and an experiment the URL names by a placeholder is not there (/experiments
#: lists them).
NOT_THERE = {
    ("GET", "/api/conjoint"): "no conjoint study",
    ("GET", "/api/experiments/{experiment_id}"): "no experiment",
    ("GET", "/experiments/{experiment_id}"): "no experiment",
}
#: An experiment designed on this store from the dashboard and the API (the form's defaults).
DESIGN = {"population": "top:1200", "arms": "control:1,treatment:1", "control": "control", "seed": "0"}


def _first(path: str) -> str:
    """The route as the first API names it: ``/api/v1/x`` and ``/api/x`` are the same handler."""
    return path.replace("/api/v1/", "/api/", 1)


@dataclass
class Call:
    """One request to make: method, URL and body."""

    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None


def requests_for(method: str, path: str, session: Session) -> list[Call]:
    """The requests that exercise route ``method path`` on the CDNOW store (empty: none known yet)."""
    from keepwise.messages.tokens import issue

    review = session["review"].doc or {}
    month = review.get("month", CDNOW_LAST_MONTH)
    plan = session["outreach"].doc or {}
    action = (plan.get("actions") or [{"customer_id": CUSTOMER, "action": "contact"}])[0]
    planned = {"month": plan.get("month", CDNOW_LAST_MONTH), "action": action["action"]}
    url = path.replace("{month}", month)
    if "{customer_id}" in path and "outreach" not in path:
        return [Call(method, url.replace("{customer_id}", c)) for c in (CUSTOMER, ONE_TIME_BUYER)]
    if path.endswith("unsubscribe"):
        return [Call(method, f"{url}?token={issue(SECRET, CUSTOMER, 'unsubscribe')}")]
    if method == "GET":
        return [Call("GET", f"{url}?id={CUSTOMER}" if path == "/customers" else url)]
    outreach = url.replace("{customer_id}", action["customer_id"])
    ranked = [r["customer_id"] for r in ((session["winback"].doc or {}).get("ranked") or [])[:2]]
    decision = (session["concession"].doc or {}).get("decision_id") or "none"
    bodies = {
        "/users/{action}": Call("POST", "/users/add", form={"name": "cdnow-rep", "role": "rep"}),
        "/tokens/{action}": Call("POST", "/tokens/create", form={"name": "cdnow-script", "role": "manager"}),
        "/experiments": Call("POST", url, form={**DESIGN, "name": "cdnow-page"}),
        "/api/experiments": Call("POST", url, json={**DESIGN, "name": "cdnow-api"}),
        "/winback/approve": Call(
            "POST", url, form={"month": month, "customer_id": ranked[0]} if ranked else {}
        ),
        "/api/winback/approve": Call("POST", url, json={"month": month, "customer_ids": ranked}),
        "/concession/record": Call("POST", url, form={"decision_id": decision, "action": "refused"}),
        "/api/concession/record": Call("POST", url, json={"decision_id": decision, "action": "refused"}),
        "/api/concession": Call("POST", url, json={"customer_id": CUSTOMER, "cost": "20"}),
        "/concession": Call("POST", url, form={"customer_id": CUSTOMER, "cost": "20"}),
        "/api/outreach/{customer_id}/done": Call("POST", outreach, json=planned),
        "/api/outreach/{customer_id}/skip": Call("POST", outreach, json=planned),
        "/outreach/{customer_id}/{status}": Call("POST", outreach.replace("{status}", "done"), form=planned),
    }
    return [bodies[_first(path)]] if _first(path) in bodies else []


@pytest.fixture(scope="module")
def client(cdnow_db: str, ran: Session) -> Iterator[Any]:
    """The dashboard and API on the store the commands ran on, signed in (session cookie and API token)."""
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KEEPWISE_WEB_TOKEN", raising=False)
        mp.setenv("KEEPWISE_SECRET", SECRET)
        with TestClient(_app(cdnow_db)) as c:
            signed = c.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
            assert signed.status_code == 303, signed.text
            c.headers["Authorization"] = f"Bearer {TOKEN}"
            yield c


ROUTES = [r for r in app_routes() if r not in SIGN_IN]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_page_and_api_route_answers(
    client: Any, ran: Session, owned: Inventory, method: str, path: str
):
    calls = requests_for(method, path, ran)
    assert calls, f"no request known for {method} {path}: add one to requests_for() in this test"
    command = SHOWS.get((method, _first(path)))
    for call in calls:
        got = client.request(call.method, call.url, json=call.json, data=call.form, follow_redirects=True)
        if (method, _first(path)) in NOT_THERE:
            assert got.status_code == 404 and NOT_THERE[(method, _first(path))] in got.text, got.text[:300]
            continue
        created = method == "POST" and got.status_code == 201  # an API POST that made something
        assert got.status_code == 200 or created, (
            f"{call.method} {call.url}: {got.status_code} {got.text[:300]}"
        )
        if command is None:
            continue
        wanted = expected_notes(command, owned)
        if path.startswith("/api/"):
            check_notes(got.json(), wanted, f"{call.method} {call.url}")
        else:
            absent = [w for w in wanted if w not in got.text]
            assert not absent, f"{call.method} {call.url}: the page does not name the missing inputs {absent}"


def test_status_lists_every_input_the_owner_did_not_load(ran: Session):
    r = ran["status"]
    assert r.code == 0, r.why()
    check_notes(r.doc, [i.name for i in INPUTS], "keepwise status --json")
