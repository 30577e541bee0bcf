"""What the server keeps between requests: a value per stamp, replaced when the data change."""

from __future__ import annotations

import shutil

import pandas as pd

import keepwise
from keepwise.store import connect
from keepwise.web.cache import Kept, data_stamp

from .conftest import TOKEN


def test_kept_reuses_a_value_for_its_stamp_and_remakes_it_for_a_new_one():
    kept: Kept[list[int]] = Kept(size=2)
    made: list[str] = []

    def make(tag: str):
        def build() -> list[int]:
            made.append(tag)
            return [len(made)]

        return build

    first = kept.get("a", 1, make("a1"))
    assert kept.get("a", 1, make("again")) is first  # same stamp: kept
    assert kept.get("a", 2, make("a2")) == [2]  # new stamp: made again
    kept.get("b", 1, make("b1"))
    kept.get("c", 1, make("c1"))  # "a" is the least used: dropped
    kept.get("a", 2, make("a3"))
    assert made == ["a1", "a2", "b1", "c1", "a3"]


def test_the_stamp_changes_when_a_load_adds_rows(store_url, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    backend = connect(url, read_only=True)
    try:
        before = data_stamp(backend)
        assert data_stamp(backend) == before  # nothing changed, the same stamp
    finally:
        backend.disconnect()
    keepwise.load("customers", pd.DataFrame({"customer_id": ["NEW-1"], "name": ["New"]}), db=url)
    backend = connect(url, read_only=True)
    try:
        after = data_stamp(backend)
    finally:
        backend.disconnect()
    assert after != before
    assert dict((r[0], r[1]) for r in after)["customers"] == str(
        int(dict((r[0], r[1]) for r in before)["customers"]) + 1
    )


def test_the_concession_advisor_is_fitted_once_and_answers_as_the_cli(client, store_url):
    import json

    from .conftest import cli

    state = client.app.state.keepwise
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    answers = [
        client.post("/api/concession", json={"customer_id": cid, "cost": "80"}) for cid in ("C0002", "C0003")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    kept = [v for k, (_, v) in state.models._items.items() if k[1] == "concession"]
    assert len(kept) == 1  # one advisor for both questions
    code, stdout, err = cli("concession", "C0003", "--cost", "80", "--json", "--db", store_url)
    assert code == 0, err
    printed, api = json.loads(stdout), answers[1].json()
    assert api.pop("decision_id") != printed.pop("decision_id")
    assert api == printed
