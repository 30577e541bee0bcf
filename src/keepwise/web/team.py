"""The team's pages: users, API tokens and the activity trail (who did what, when)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from keepwise.web import validation
from keepwise.web.access import Role, api_guard, page_guard

__all__ = ["api", "router"]

router = APIRouter(dependencies=[Depends(page_guard(Role.MANAGER))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)
