"""Lists a page at a time: the pages of each list route put together are the stored document, row for row.

The documents are those the commands stored (``keepwise profit``, ``winback``, ``outreach``, ``review``); the
web reads them and never computes them again, so a month no command stored is a 404 naming the command.
"""

from __future__ import annotations

import json
import shutil

import pytest

from keepwise.store import connect
from keepwise.web.api import OUTREACH_LISTS, PROFIT_LISTS, REVIEW_LISTS, WINBACK_LISTS
from keepwise.web.paging import MAX_PER_PAGE, PER_PAGE

from .conftest import MONTH, TOKEN, all_pages, cli


@pytest.fixture(scope="module")
def stored(store_url: str, reviews) -> dict[str, dict]:
    """What ``keepwise profit --view ttm``, ``winback --top 0`` and ``outreach`` printed (and stored)."""
    printed = {}
    for name, args in {
        "profit": ("profit", "--month", MONTH, "--view", "ttm"),
        "winback": ("winback", "--month", MONTH, "--top", "0"),
        "outreach": ("outreach", "--month", MONTH),
    }.items():
        code, stdout, err = cli(*args, "--json", "--db", store_url)
        assert code == 0, err
        printed[name] = json.loads(stdout)
    printed["outreach"]["saved"] = None  # what the GET prints: keepwise outreach --no-save
    printed["review"] = {k: v for k, v in reviews[MONTH].items() if k != "report"}
    return printed


ROUTES = [
    ("profit", "/api/profit", {"month": MONTH, "view": "ttm"}, PROFIT_LISTS),
    ("winback", "/api/winback", {"month": MONTH, "top": 0}, WINBACK_LISTS),
    ("outreach", "/api/outreach", {"month": MONTH}, OUTREACH_LISTS),
    ("review", f"/api/review/{MONTH}", {}, REVIEW_LISTS),
]
#: The same documents from /api/v1, the documented path.
ROUTES += [
    (f"{name} v1", path.replace("/api/", "/api/v1/", 1), params, lists)
    for name, path, params, lists in ROUTES
]


@pytest.mark.parametrize(("name", "path", "params", "lists"), ROUTES, ids=[r[0] for r in ROUTES])
def test_the_pages_put_together_are_the_whole_document(client, stored, name, path, params, lists):
    whole = stored[name.removesuffix(" v1")]
    assert all_pages(client, path, params, lists, per_page=7) == whole
    assert all_pages(client, path, params, lists, per_page=MAX_PER_PAGE) == whole
    first = client.get(path, params=params).json()
    key = lists[0]
    rows = whole[key.split(".")[0]]["customers"] if "." in key else whole[key]
    assert first["pagination"]["per_page"] == PER_PAGE
    assert first["pagination"]["total"] == len(rows)
    got = first[key.split(".")[0]]["customers"] if "." in key else first[key]
    assert got == rows[:PER_PAGE]


def test_page_boundaries_and_links(client, stored):
    customers = stored["profit"]["customers"]
    n = len(customers)
    size = 7
    assert n > 2 * size
    last = -(-n // size)
    params = {"month": MONTH, "view": "ttm", "per_page": size}
    one = client.get("/api/profit", params={**params, "page": 1}).json()
    assert one["customers"] == customers[:size]
    assert one["pagination"] == {
        "page": 1,
        "per_page": size,
        "total": n,
        "pages": last,
        "next": f"/api/profit?month={MONTH}&view=ttm&page=2&per_page={size}",
        "prev": None,
    }
    two = client.get(one["pagination"]["next"]).json()  # the link keeps month, view and per_page
    assert two["customers"] == customers[size : 2 * size]
    assert two["pagination"]["prev"] == f"/api/profit?month={MONTH}&view=ttm&page=1&per_page={size}"
    end = client.get("/api/profit", params={**params, "page": last}).json()
    assert end["customers"] == customers[(last - 1) * size :]
    assert len(end["customers"]) == n - (last - 1) * size
    assert end["pagination"]["next"] is None
    past = client.get("/api/profit", params={**params, "page": last + 5}).json()
    assert past["customers"] == []
    assert past["pagination"]["total"] == n  # an empty page still says how many there are
    assert past["pagination"]["prev"].endswith(f"page={last}&per_page={size}")  # back to the last page
    assert past["totals"] == one["totals"]  # the rest of the document is whole on every page


def test_every_list_of_the_winback_document_is_cut_to_the_page(client, stored):
    whole = stored["winback"]
    doc = client.get("/api/winback", params={"month": MONTH, "top": 0, "per_page": 3}).json()
    totals = doc["pagination"]["totals"]
    for key in WINBACK_LISTS:
        assert doc[key] == whole[key][:3]
        assert totals[key] == len(whole[key])
    assert doc["counts"] == whole["counts"]
    assert doc["pagination"]["pages"] == max(1, -(-max(totals.values()) // 3))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": "0"}, "per_page"),
        ({"per_page": str(MAX_PER_PAGE + 1)}, "per_page"),
        ({"per_page": "lots"}, "per_page"),
        ({"per_page": "2.5"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1e3"}, "page"),
    ],
)
@pytest.mark.parametrize("path", ["/api/profit", "/api/winback", "/api/outreach", "/api/review"])
def test_page_and_per_page_out_of_bounds_are_400_in_the_one_error_shape(client, stored, path, params, field):
    got = client.get(path, params=params)
    assert got.status_code == 400
    body = got.json()
    assert set(body) == {"error", "field"}
    assert body["field"] == field
    assert body["error"].startswith(f"{field}: must be a whole number from 1 to ")
    assert "\n" not in body["error"]


def test_pages_link_to_the_next_and_previous_page(client, stored):
    client.headers.pop("Authorization")
    client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    page = client.get("/profit", params={"month": MONTH, "per_page": 5})
    assert page.status_code == 200
    assert 'rel="next" href="/profit?month=' in page.text and 'rel="prev"' not in page.text
    later = client.get("/profit", params={"month": MONTH, "per_page": 5, "page": 2})
    assert 'rel="prev"' in later.text
    third = stored["profit"]["customers"][5]["customer_id"]
    assert f">{third}</a>" in later.text  # the sixth customer opens page 2
    bad = client.get("/profit", params={"per_page": "0"})
    assert bad.status_code == 400 and "per_page: must be a whole number" in bad.text
    assert client.get("/outreach", params={"month": MONTH, "per_page": 2}).status_code == 200
    assert client.get("/winback", params={"month": MONTH, "per_page": 2}).status_code == 200
    assert client.get("/", params={"per_page": 3, "page": 2}).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "command"),
    [
        ("/api/winback", {"month": "2024-06"}, "keepwise winback --month 2024-06"),
        (
            "/api/profit",
            {"month": "2024-06", "view": "lifetime"},
            "keepwise profit --month 2024-06 --view lifetime",
        ),
        ("/api/outreach", {"month": "2024-06"}, "keepwise outreach --month 2024-06"),
    ],
)
def test_a_month_no_command_stored_is_a_404_naming_the_command(client, path, params, command):
    got = client.get(path, params=params)
    assert got.status_code == 404
    assert set(got.json()) == {"error"}
    assert f"run `{command}`" in got.json()["error"]


def test_pages_of_a_month_not_stored_say_which_command_to_run(client):
    client.headers.pop("Authorization")
    client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    for path, command in [
        ("/winback", "keepwise winback --month 2024-06"),
        ("/outreach", "keepwise outreach --month 2024-06"),
        ("/profit", "keepwise profit --month 2024-06 --view ttm"),
    ]:
        page = client.get(path, params={"month": "2024-06"})
        assert page.status_code == 200, path
        assert 'id="unavailable"' in page.text and command in page.text


def test_a_profile_without_stored_profitability_says_which_command_stores_it(store_url, config, tmp_path):
    from fastapi.testclient import TestClient

    from keepwise.store.store import DOCUMENTS
    from keepwise.value.profitability import latest_month
    from keepwise.web import create_app

    copy = tmp_path / "copy.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    backend = connect(url)
    try:
        month = latest_month(backend)
        buyer = backend.table("orders").select("customer_id").limit(1).to_pyarrow().to_pylist()[0]
        if backend.has_table("profit_ttm"):
            backend.delete("profit_ttm", where={"month": month})
        if backend.has_table(DOCUMENTS):
            backend.delete(DOCUMENTS, where={"kind": "profit", "month": month, "variant": "ttm"})
    finally:
        backend.disconnect()
    with TestClient(create_app(url, config)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        doc = c.get(f"/api/customers/{buyer['customer_id']}").json()
    assert doc["profit"] is None
    assert doc["notes"] == [
        {
            "input": "profit_ttm",
            "missing": f"no twelve-month profitability of {month} stored",
            "instead": f"tier and rank are not shown; run `keepwise profit --view ttm --month {month}`",
        }
    ]
