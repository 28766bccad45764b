"""The FastAPI app: routes, the UI's static files, and the layers around them.

Outside in: metrics (every request), CORS (only with ``--cors-origin``), ``Server-Timing``
(the API's answers), the streaming body limit, then the routes. Errors are rendered once,
here, in the shape of the API called.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, JSONResponse, Response

from u2net.errors import OptionError
from web import ops, rembg_api, removebg_api, ui_api
from web.config import WebConfig
from web.errors import BadRequest, WebError
from web.metrics import Metrics, MetricsMiddleware
from web.removebg_params import MARGIN_HEADER, ROI_HEADER
from web.responses import REMOVEBG_PREFIX, error_body, error_response
from web.service import CutService
from web.timing import HEADER as TIMING_HEADER
from web.timing import ServerTiming
from web.triton_link import TritonLink
from web.uploads import BodyLimit

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def _handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, error: WebError) -> JSONResponse:
        if error.refused:
            metrics.rejections.labels(error.code).inc()
        log.info("%s %s -> %d: %s", request.method, request.url.path, error.status, error)
        return error_response(request.url.path, error)

    @app.exception_handler(OptionError)
    async def option_error(request: Request, error: OptionError) -> JSONResponse:
        """A field's value the options do not take ("NAME: expected X, got Y") is a 400."""
        return await web_error(request, BadRequest(str(error)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """Starlette's own answers (404, 405) in remove.bg's shape under its routes."""
        if not request.url.path.startswith(REMOVEBG_PREFIX):
            return await http_exception_handler(request, error)
        code = HTTP_CODES.get(error.status_code, "invalid_request")
        body = {"errors": [{"title": str(error.detail), "code": code}]}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        body = error_body(request.url.path, WebError("internal error (logged on the server)"))
        return JSONResponse(body, status_code=500)


def create_app(config: WebConfig) -> FastAPI:
    metrics = Metrics()
    triton = TritonLink(
        config.triton_url,
        config.timeout_s,
        breaker=config.breaker,
        reresolve_s=config.reresolve_s,
        on_change=metrics.breaker_changed,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await triton.open()
        try:
            yield
        finally:
            await triton.close()

    app = FastAPI(
        title="U²-Net background removal",
        description="rembg's and remove.bg's HTTP APIs in front of Triton's cutout model",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = CutService(config, triton, metrics)
    for module in (rembg_api, removebg_api, ui_api, ops):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    _handlers(app, metrics)
    app.add_middleware(BodyLimit, max_upload_bytes=config.max_upload_bytes, metrics=metrics)
    app.add_middleware(ServerTiming)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-Api-Key", "Content-Type", "Accept"],
            expose_headers=["X-Width", "X-Height", "X-Type", "X-Credits-Charged",
                            "X-Foreground-Top", "X-Foreground-Left",
                            "X-Foreground-Width", "X-Foreground-Height",
                            MARGIN_HEADER, ROI_HEADER, TIMING_HEADER],
        )  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
