"""Who a row belongs to: matching an export's people to keepwise's customers, never by guesswork.

A row names its customer in the tool's terms: an e-mail address, the tool's customer id, a client or
organisation name. In this order:

1. the tool's id already linked to a customer (``import_ids``) is that customer;
2. a normalised e-mail address (trimmed, lower case) that exactly one customer has is that customer;
3. a client name linked in ``import_ids``, or equal (ignoring case and spacing) to exactly one customer's
   name or id, is that customer;
4. otherwise, for exports that create customers (orders, payments), a new customer ``SOURCE:ID`` (the tool's
   id, or else the e-mail address); for the others (time, tickets) the row is reported as unmatched.

A row without any of these (a guest checkout) and a row whose clues disagree or fit several customers
(ambiguous) are reported and left out: the report lists them, the load never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from keepwise.store.adapters.tables import IMPORT_IDS
from keepwise.store.store import Store

__all__ = ["Matcher", "Resolution"]


def _norm_name(value: str) -> str:
    return " ".join(value.lower().split())


@dataclass
class Resolution:
    """The outcome for one distinct who-tuple: a customer id, or the reason there is none."""

    customer_id: str | None
    kind: str = ""  # known, new, or the problem: guest, ambiguous, unmatched
    reason: str = ""


@dataclass
class Matcher:
    """Customers and links as the store holds them, plus those this import adds."""

    source: str
    by_email: dict[str, set[str]] = field(default_factory=dict)
    by_name: dict[str, set[str]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    new_links: dict[tuple[str, str], str] = field(default_factory=dict)
    new_customers: dict[str, dict[str, object]] = field(default_factory=dict)
    seen: dict[tuple[str, str, str, bool], Resolution] = field(default_factory=dict, repr=False)

    @classmethod
    def from_store(cls, store: Store, source: str) -> Matcher:
        """Read the customers (id, e-mail, name) and this source's links from the store."""
        m = cls(source)
        if store.has_table("customers"):
            known = store.read("customers", columns=["customer_id", "email", "name"])
            for cid, email, name in known.itertuples(index=False):
                cid = str(cid)
                m.ids.add(cid)
                if isinstance(email, str) and "@" in email:
                    m.by_email.setdefault(email.strip().lower(), set()).add(cid)
                if isinstance(name, str) and name.strip():
                    m.by_name.setdefault(_norm_name(name), set()).add(cid)
        if store.has_table(IMPORT_IDS.name):
            rows = store.read(IMPORT_IDS.name, where={"source": source})
            for kind, sid, cid in rows[["kind", "source_id", "customer_id"]].itertuples(index=False):
                m.links[(str(kind), str(sid))] = str(cid)
        return m

    def resolve(self, email: str, ext: str, client: str, name: str, *, create: bool) -> Resolution:
        """The customer of one who-tuple (see the module's rules); each tuple is resolved once per import."""
        key = (email, ext, client, create)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = self._resolve(email, ext, client, name, create=create)
        return found

    def _resolve(self, email: str, ext: str, client: str, name: str, *, create: bool) -> Resolution:
        by_ext = self.links.get(("customer", ext)) if ext else None
        if ext and by_ext is None and f"{self.source}:{ext}" in self.ids:
            by_ext = f"{self.source}:{ext}"
        by_mail = self.by_email.get(email, set()) if email else set()
        if len(by_mail) > 1:
            ids = ", ".join(sorted(by_mail))
            return Resolution(None, "ambiguous", f"e-mail matches several customers ({ids})")
        mail_id = next(iter(by_mail), None)
        if by_ext and mail_id and by_ext != mail_id:
            return Resolution(
                None, "ambiguous", f"{self.source} id {ext} is {by_ext} but the e-mail is {mail_id}'s"
            )
        found = by_ext or mail_id
        if found:
            if ext and ("customer", ext) not in self.links:
                self._link("customer", ext, found)
            return Resolution(found, "new" if found in self.new_customers else "known")
        if client:
            return self._client(client, email, create=create)
        if not create:
            reason = "no customer has this e-mail" if email else "no e-mail or client to match a customer by"
            return Resolution(None, "unmatched", reason)
        if not email and not ext:
            return Resolution(None, "guest", "no e-mail and no customer id (guest checkout)")
        return self._create(f"{self.source}:{ext or email}", email, ext, name)

    def _client(self, client: str, email: str, *, create: bool) -> Resolution:
        linked = self.links.get(("client", client))
        if linked:
            return Resolution(linked, "known")
        candidates = set(self.by_name.get(_norm_name(client), set()))
        if client in self.ids:
            candidates.add(client)
        if len(candidates) > 1:
            ids = ", ".join(sorted(candidates))
            return Resolution(None, "ambiguous", f"client '{client}' matches several customers ({ids})")
        if candidates:
            cid = next(iter(candidates))
            self._link("client", client, cid)
            return Resolution(cid, "known")
        if create:
            return self._create(f"{self.source}:{client}", email, "", client)
        return Resolution(None, "unmatched", f"client '{client}' matches no customer's name or id")

    def _create(self, cid: str, email: str, ext: str, name: str) -> Resolution:
        if cid not in self.new_customers:
            self.new_customers[cid] = {"customer_id": cid, "email": email or None, "name": name or None}
            self.ids.add(cid)
            if email:
                self.by_email.setdefault(email, set()).add(cid)
            if ext:
                self._link("customer", ext, cid)
        return Resolution(cid, "new")

    def _link(self, kind: str, sid: str, cid: str) -> None:
        self.links[(kind, sid)] = cid
        self.new_links[(kind, sid)] = cid

    def links_frame(self) -> pd.DataFrame:
        """The links this import made, as rows of ``import_ids``."""
        rows = [
            {"source": self.source, "kind": k, "source_id": sid, "customer_id": cid}
            for (k, sid), cid in self.new_links.items()
        ]
        return pd.DataFrame(rows, columns=IMPORT_IDS.column_names)
