"""One-click unsubscribe reaches the mailbox intact (issue 21, item 10): the raw bytes an SMTP server gets.

RFC 8058 section 3.1: a message carries ``List-Unsubscribe`` with an HTTPS URI in angle brackets (RFC 2369
list syntax) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. The default e-mail policy folded a
long link by rewriting the whole header as an RFC 2047 encoded word (``=?utf-8?q?=3Chttps=3A//...``), which
no mailbox provider reads as a link.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import MARKETING_KINDS, compose
from keepwise.messages.prepare import prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox, to_mime

from .conftest import NOW, SECRET

#: Long enough that header and link cannot fit the 78-character line the default policy folds at.
LONG_URL = "https://shop.example/keepwise/" + "unsubscribe-from-our-newsletters-and-offers/" * 3 + "one-click"

FACTS = {
    "winback": {"reason": "price", "offer": None},
    "thanks": {"customer_since": NOW, "offer": None},
    "reengagement": {"last_order_at": NOW, "offer": None},
}


def _header(raw: bytes, name: bytes) -> list[bytes]:
    """The physical lines of header ``name`` in ``raw`` (its first line and continuation lines)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [m.group(0) for m in re.finditer(rb"(?mi)^" + name + rb":.*\r?\n?(?:[ \t].*\r?\n?)*", head)]


def test_every_marketing_kind_carries_a_plain_one_click_link_on_the_wire(business, cfg, smtp):
    assert set(FACTS) == set(MARKETING_KINDS)  # a new marketing kind must be added here
    handler, port = smtp
    cfg = replace(cfg, unsubscribe_url=LONG_URL)
    links = {}
    for kind in sorted(MARKETING_KINDS):
        message, link = prepare(business, cfg, kind, "C1", f"c-{kind}", FACTS[kind], secret=SECRET, at=NOW)
        assert link is not None and len(f"List-Unsubscribe: <{link}>") > 78
        assert queue(business, cfg, message, link, at=NOW)
        links[f"<{message.message_id}@kawa.example>"] = link
    message, link = prepare(business, cfg, "goodbye", "C1", "bye", {}, secret=SECRET, at=NOW)
    assert link is None
    queue(business, cfg, message, link, at=NOW)

    result = send_outbox(business, SmtpSettings.from_config(cfg, f"127.0.0.1:{port}"), clock=lambda: NOW)
    assert result.sent == 4
    assert len(handler.raw) == 4
    seen = 0
    for raw, parsed in zip(handler.raw, handler.messages, strict=True):
        link = links.get(str(parsed["Message-ID"]))
        if link is None:  # the service message has no list headers
            assert parsed["X-Keepwise-Kind"] == "goodbye"
            assert not _header(raw, b"List-Unsubscribe")
            continue
        seen += 1
        (lines,) = _header(raw, b"List-Unsubscribe")
        assert b"=?" not in lines  # not an RFC 2047 encoded word
        assert lines == f"List-Unsubscribe: <{link}>\r\n".encode("ascii")  # one line, exactly the link
        assert _header(raw, b"List-Unsubscribe-Post") == [
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        ]
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 2.1.1
        assert parsed["List-Unsubscribe"] == f"<{link}>"
    assert seen == len(MARKETING_KINDS)


def _composed():
    return compose(
        "winback",
        customer_id="C1",
        recipient="ada@example.com",
        customer_name="Ada",
        language="en",
        cause="x",
        facts=FACTS["winback"],
        business_name="Kawa & Co",
        unsubscribe_url=LONG_URL,
    )


def test_a_mailto_goes_after_the_link_folded_between_the_two():
    mailto = "unsubscribe@kawa.example"
    mime = to_mime(_composed(), from_address="hello@kawa.example", from_name="Kawa & Co",
                   unsubscribe_url=LONG_URL, unsubscribe_mailto=mailto, at=NOW)  # fmt: skip
    raw = mime.replace("\n", "\r\n").encode()
    assert _header(raw, b"List-Unsubscribe") == [
        f"List-Unsubscribe: <{LONG_URL}>,\r\n <mailto:unsubscribe@kawa.example>\r\n".encode()
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://shop.example/u", "must be an https:// address"),
        ("https://shop.example/u v", "printable ASCII without spaces"),
        ("https://shop.example/u,v", "without spaces, commas"),
        ("https://shop.example/" + "a" * 1000, "longer than"),
    ],
)
def test_links_that_cannot_be_written_plainly_are_refused(url, problem):
    with pytest.raises(KeepwiseInputError, match=problem):
        to_mime(_composed(), from_address="hello@kawa.example", from_name="Kawa", unsubscribe_url=url, at=NOW)
