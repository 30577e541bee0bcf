"""The dashboard and its REST API (FastAPI): pages for the owner, JSON under ``/api``, one-click unsubscribe.

``create_app(db)`` builds the application for one store; ``keepwise serve`` runs it with uvicorn. Everything
it shows is read from the store: the documents ``keepwise review``, ``profit``, ``winback`` and ``outreach``
stored (:mod:`keepwise.web.stored`, parsed once per version), the stored profit rows and the records for a
customer's profile. The JSON of each route is the JSON of the matching CLI command, its lists a page at a
time (:mod:`keepwise.web.paging`); the concession advisor is fitted once per state of its input tables
(:mod:`keepwise.web.cache`).
"""

from fastapi import FastAPI

from keepwise.web.app import create_app

__all__ = ["create_app", "create_app_from_env"]


def create_app_from_env() -> FastAPI:
    """The application for the store named by ``KEEPWISE_DB``, with ``keepwise.toml``'s settings.

    ``keepwise serve`` hands this factory to uvicorn by name (``keepwise.web:create_app_from_env``), so the
    command line never imports the web package.
    """
    from keepwise.store.connection import default_url

    return create_app(default_url())
