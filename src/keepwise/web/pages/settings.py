"""The settings page (``/settings``) and ``/api/v1/settings``, for an admin: the assumptions in keepwise.toml.

Every figure of :mod:`keepwise.config` with its value, its documented default, what it means and where the
default comes from, and whether the business set it in ``keepwise.toml`` or it is the default. A figure
shared by several sections is listed once, under its home. Secrets are never shown: a token is "set" or not.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from keepwise.config import CONFIG_FILE, Config, used
from keepwise.web.app import json_response, render, state_of
from keepwise.web.pages.common import ADMIN_API, ADMIN_PAGE, api, router

__all__ = ["settings_api", "settings_document", "settings_page"]

#: Setting names whose value is a secret: shown only as set or not set.
_SECRET_ENDINGS = ("token", "password", "secret")


def _secret(name: str) -> bool:
    key = name.rsplit(".", 1)[-1]
    return key.endswith(_SECRET_ENDINGS)


def _sections() -> list[tuple[str, str]]:
    """(name in keepwise.toml, attribute of :class:`~keepwise.config.Config`) of every section."""
    return [
        ("import" if f.name == "imports" else f.name, f.name)
        for f in dataclasses.fields(Config)
        if f.name not in ("path", "set_in_file")
    ]


def _shown(name: str, value: Any) -> Any:
    """A value as ``keepwise.config.used`` gives it: money as text, ``first_year_margin`` for its ``None``."""
    if name == "value.referral_value" and value is None:
        return "first_year_margin"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in value.items()}
    return value


def _default(name: str) -> Any:
    """The documented default of the figure ``section.key``."""
    section, key = name.split(".", 1)
    attribute = "imports" if section == "import" else section
    kind = next(f.default_factory for f in dataclasses.fields(Config) if f.name == attribute)
    f = next(f for f in dataclasses.fields(kind) if f.name == key)  # type: ignore[arg-type]
    value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return _shown(name, value)


def settings_document(config: Config) -> dict[str, Any]:
    """Every setting of ``config``: value, default, who set it, meaning and source (secrets: set or not).

    Each row has ``section``, ``name``, ``value``, ``default``, ``from`` (``keepwise.toml`` or ``default``),
    ``is_default``, ``meaning`` and ``source``.
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for section, _ in _sections():
        for row in used(config, section):
            if row["name"] in seen:  # a figure shared with another section: listed once, under its home
                continue
            seen.add(row["name"])
            default = _default(row["name"])
            value = row["value"]
            if _secret(row["name"]):
                value = "set" if value else "not set"
                default = "set" if default else "not set"
            rows.append(
                {
                    "section": row["name"].split(".", 1)[0],
                    "name": row["name"],
                    "value": value,
                    "default": default,
                    "from": row["from"],
                    "is_default": row["from"] == "default",
                    "meaning": row["meaning"],
                    "source": row["source"],
                }
            )
    return {
        "file": None if config.path is None else str(config.path),
        "set_in_file": sum(1 for r in rows if not r["is_default"]),
        "settings": rows,
    }


@router.get("/settings", dependencies=ADMIN_PAGE)
def settings_page(request: Request) -> Response:
    """The assumptions in keepwise.toml, section by section: value, default, who set it, meaning, source."""
    doc = settings_document(state_of(request).config)
    sections: dict[str, list[dict[str, Any]]] = {}
    for row in doc["settings"]:
        sections.setdefault(row["section"], []).append(row)
    return render(
        request, "settings.html.j2", title="Settings", doc=doc, sections=sections, config_file=CONFIG_FILE
    )


@api.get("/settings", dependencies=ADMIN_API)
def settings_api(request: Request) -> Response:
    """The assumptions in keepwise.toml: each setting's value, default, who set it, meaning and source."""
    return json_response(settings_document(state_of(request).config))
