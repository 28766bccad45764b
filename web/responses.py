"""How errors look, in the shape of the API that was called (rendered once, here).

- remove.bg's routes (``/v1.0/...``): ``{"errors": [{"title": ..., "code": ...}]}``
- everything else (rembg's ``/api/remove``, operations): FastAPI's ``{"detail": ...}``

Over-capacity and unavailable answers carry ``Retry-After``. Never a traceback.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from web.errors import WebError

REMOVEBG_PREFIX = "/v1.0/"


def error_body(path: str, error: WebError) -> dict:
    if path.startswith(REMOVEBG_PREFIX):
        return {"errors": [{"title": str(error), "code": error.code}]}
    return {"detail": str(error)}


def error_response(path: str, error: WebError) -> JSONResponse:
    headers = {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(error_body(path, error), status_code=error.status, headers=headers)
