"""The dashboard and its REST API (FastAPI): pages for the owner, JSON under ``/api``, one-click unsubscribe.

``create_app(db)`` builds the application for one store; ``keepwise serve`` runs it with uvicorn. Everything
it shows is read from the store (the review's tables and document written by ``keepwise review``, the raw
records for profitability and customer profiles); the JSON of each route is the JSON of the matching CLI
command, made by the same functions.
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
