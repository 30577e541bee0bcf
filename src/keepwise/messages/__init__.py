"""Messages: composition (en, pl), consent, signed links, the outbox, SMTP sending and automated flows.

The stage's front doors: :func:`keepwise.messages.flows.run` (choose, hold out, queue and send every
flow's messages once; ``dry_run=True`` only counts, and works on Spark too),
:func:`keepwise.messages.send.run` (send the outbox) and :func:`keepwise.messages.preview.preview` (one
message as it would be sent).

One concern per module: :mod:`~keepwise.messages.compose` (templates), :mod:`~keepwise.messages.consent`
(permission, double opt-in, suppressions), :mod:`~keepwise.messages.tokens` (signed links),
:mod:`~keepwise.messages.outbox` (idempotent queue and store lock), :mod:`~keepwise.messages.send`
(the exactly-once protocol, a batch at a time), :mod:`~keepwise.messages.smtp` (one SMTP session per run,
pipelined when the server allows), :mod:`~keepwise.messages.mime` (the MIME text),
:mod:`~keepwise.messages.audience` (what the flows read, as Ibis expressions),
:mod:`~keepwise.messages.flows` (automated sequences) and :mod:`~keepwise.messages.preview`.
The statements on the stage's own tables (outbox, locks, consent, suppressions) live in
:mod:`keepwise.store.outbox`, :mod:`keepwise.store.locks` and :mod:`keepwise.store.consent`.
"""
