"""The MIME text written directly is the e-mail package's text (the second implementation), boundary aside."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keepwise.messages.compose import Grant, compose
from keepwise.messages.mime import email_package_mime, to_mime

AT = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
LINK = (
    "https://example.com/keepwise/unsubscribe?token=eyJjIjoiQzI1NDIiLCJhIjoidW5zdWJzY3JpYmUifQ.aVW4_w.kE0xR7"
)
FACTS = {
    "winback": {"reason": "price", "offer": Grant("discount", percent=15)},
    "goodbye": {},
    "thanks": {"customer_since": datetime(2020, 1, 1, tzinfo=UTC), "offer": None},
    "reengagement": {"last_order_at": datetime(2024, 1, 1, tzinfo=UTC), "offer": None},
    "adjustment": {
        "incident": {"id": "I1", "category": "late", "opened_at": AT, "status": "open"},
        "remedy": Grant("credit", Decimal("1234.50"), "PLN"),
        "gesture": None,
    },
}
NAMES = ["Ada", "Zofia Żółć-Nowak", 'O\'Brien, "Bob" Jr.', "X" * 90, "=?utf-8?q?Ada?=", "  two  spaces "]
SENDERS = [("Kawa & Co", "hello@kawa.example"), ("Sklep Łódź, s.c.", "sklep@example.pl")]


def _masked(text: str) -> str:
    return re.sub(r"={15}\d{19}==", "=BOUNDARY=", text)


@pytest.mark.parametrize("kind", sorted(FACTS))
@pytest.mark.parametrize("language", ["en", "pl"])
def test_written_mime_is_what_the_email_package_writes(kind, language):
    for name in NAMES:
        for recipient in ["ewa.kowalska@example.pl", "Ewa <ewa@example.pl>", "żółw@example.pl"]:
            link = None if kind in ("goodbye", "adjustment") else LINK
            who = {"customer_id": "C1", "recipient": recipient, "customer_name": name, "language": language}
            message = compose(kind, **who, cause="I1", facts=FACTS[kind], business_name="Kawa & Co",
                              unsubscribe_url=link)  # fmt: skip
            for from_name, from_address in SENDERS:
                for mailto in (None, "unsubscribe@kawa.example"):
                    args = {"from_address": from_address, "from_name": from_name, "unsubscribe_url": link,
                            "at": AT, "unsubscribe_mailto": mailto}  # fmt: skip
                    written, built = to_mime(message, **args), email_package_mime(message, **args)
                    assert _masked(written) == _masked(built)
                    assert written != built  # the boundary is drawn anew for every message, as before
