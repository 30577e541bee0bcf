"""The team's pages: users, API tokens and the activity trail (who did what, when)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from keepwise.web.access import Role, page_guard

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(page_guard(Role.MANAGER))])
