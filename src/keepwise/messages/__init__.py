"""Messages: composition (en, pl), consent, signed links, the outbox, SMTP sending and automated flows.

One concern per module: :mod:`~keepwise.messages.compose` (templates), :mod:`~keepwise.messages.consent`
(permission, double opt-in, suppressions), :mod:`~keepwise.messages.tokens` (signed links),
:mod:`~keepwise.messages.outbox` (idempotent queue and store lock), :mod:`~keepwise.messages.send`
(SMTP with the exactly-once protocol) and :mod:`~keepwise.messages.flows` (automated sequences).
"""
