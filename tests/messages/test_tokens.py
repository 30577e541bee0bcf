"""Signed links: bound to one customer, unforgeable, expiring with a clear message; double opt-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages import consent
from keepwise.messages.tokens import issue, verify
from keepwise.store.connection import duckdb_connection

from .conftest import NOW, SECRET

DAYS = timedelta(days=60)


def marketing_in_force(store, customer_id, at):
    return consent.has_consent(store, customer_id, "marketing", at)


def test_a_token_for_one_customer_cannot_unsubscribe_another(business):
    token = issue(SECRET, "C1", "unsubscribe", at=NOW)
    with pytest.raises(KeepwiseInputError, match="belongs to another customer"):
        consent.unsubscribe(business, SECRET, token, max_age=DAYS, customer_id="C2", at=NOW)
    assert marketing_in_force(business, "C1", NOW) and marketing_in_force(business, "C2", NOW)
    # without a customer to check against, the token still acts only on the customer it names
    assert consent.unsubscribe(business, SECRET, token, max_age=DAYS, at=NOW) == 1
    assert not marketing_in_force(business, "C1", NOW) and marketing_in_force(business, "C2", NOW)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: issue("another-secret-of-enough-length", "C2", "unsubscribe", at=NOW),  # wrong secret
        lambda t: t.replace(
            t.split(".")[0], issue(SECRET, "C2", "unsubscribe", at=NOW).split(".")[0]
        ),  # payload swap
        lambda t: issue(SECRET, "C2", "confirm", at=NOW),  # a confirm token is not an unsubscribe token
        lambda t: "not-a-token",
    ],
)
def test_forged_tokens_are_refused(business, forge):
    token = forge(issue(SECRET, "C1", "unsubscribe", at=NOW))
    with pytest.raises(KeepwiseInputError, match="not valid: it was not issued by keepwise"):
        consent.unsubscribe(business, SECRET, token, max_age=DAYS, at=NOW)
    assert marketing_in_force(business, "C1", NOW) and marketing_in_force(business, "C2", NOW)


def test_an_expired_token_is_refused_with_the_day_it_expired(business):
    token = issue(SECRET, "C1", "unsubscribe", at=NOW - timedelta(days=61))
    with pytest.raises(
        KeepwiseInputError, match=r"this unsubscribe link expired on 2024-06-14; ask for a new one"
    ):
        consent.unsubscribe(business, SECRET, token, max_age=DAYS, at=NOW)
    assert marketing_in_force(business, "C1", NOW)
    claims = verify(SECRET, token, "unsubscribe", max_age=DAYS, now=NOW - timedelta(days=1))
    assert claims.customer_id == "C1"


def test_double_opt_in_writes_consent_only_after_the_link_is_followed(business):
    assert not marketing_in_force(business, "C4", NOW)
    assert not consent.permission(
        business, customer_id="C4", recipient="ewa@example.pl", kind="confirm", cause="x", at=NOW
    ).allowed
    consent.request(business, "C4", source="web form", at=NOW)
    assert consent.permission(
        business, customer_id="C4", recipient="ewa@example.pl", kind="confirm", cause="x", at=NOW
    ).allowed
    assert not marketing_in_force(business, "C4", NOW + timedelta(minutes=1))
    token = issue(SECRET, "C4", "confirm", at=NOW)
    with pytest.raises(KeepwiseInputError, match="expired"):
        consent.confirm(business, SECRET, token, max_age=timedelta(days=7), at=NOW + timedelta(days=8))
    later = NOW + timedelta(hours=2)
    assert consent.confirm(business, SECRET, token, max_age=timedelta(days=7), at=later) == "C4"
    assert marketing_in_force(business, "C4", later)
    row = (
        duckdb_connection(business)
        .execute("SELECT source, proof FROM consent WHERE customer_id = 'C4' AND purpose = 'marketing'")
        .fetchone()
    )
    assert row[0] == "web form" and row[1].startswith("double opt-in ")
    with pytest.raises(KeepwiseInputError, match="no pending request"):
        consent.confirm(business, SECRET, token, max_age=timedelta(days=7), at=later)


def test_the_secret_comes_from_the_environment(monkeypatch):
    from keepwise.messages.tokens import secret_from_env

    monkeypatch.delenv("KW_TEST_SECRET", raising=False)
    with pytest.raises(KeepwiseInputError, match="set the environment variable KW_TEST_SECRET"):
        secret_from_env("KW_TEST_SECRET")
    monkeypatch.setenv("KW_TEST_SECRET", SECRET)
    assert secret_from_env("KW_TEST_SECRET") == SECRET
