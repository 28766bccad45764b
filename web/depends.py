"""What routes take through FastAPI's ``Depends``: the app's one CutService, and the API-key
check (a missing or wrong key is Forbidden, answered in the called API's shape)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from web.auth import check_key
from web.service import CutService


def cut_service(request: Request) -> CutService:
    """The service ``create_app`` made for this app."""
    return request.app.state.service


Service = Annotated[CutService, Depends(cut_service)]


def require_key(request: Request, service: Service) -> None:
    """Forbidden unless the request presents one of the keys (when there are keys)."""
    check_key(request.headers, service.config.api_keys)


KEY_REQUIRED = [Depends(require_key)]  # a router's or a route's ``dependencies``
