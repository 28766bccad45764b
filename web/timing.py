"""``Server-Timing`` on the API's answers: how long the gateway took, and how much of it was
Triton's (the standard header: browsers' developer tools show it, and the web UI reads it).

    Server-Timing: cutout;dur=812.4;desc="Triton cutout", total;dur=830.1;desc="gateway"

:class:`ServerTiming` (ASGI middleware) starts a clock per request under the API's paths and
adds the header when the answer starts, errors included; what Triton took is recorded where
it is called (:func:`timed`), summed per name (remove.bg's zip makes two ``cutout`` calls).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "Server-Timing"
TIMED_PREFIXES = ("/api/", "/v1.0/")  # rembg's, remove.bg's and the UI's API
TOTAL = "total"
DESCRIPTIONS = {  # no commas: they separate the spans
    TOTAL: "gateway",
    "cutout": "Triton cutout",
    "infer_a": "Triton model A",
    "infer_b": "Triton model B",
}

_spans: ContextVar[dict[str, float] | None] = ContextVar("server_timing", default=None)


def record(name: str, ms: float) -> None:
    """Add ``ms`` to this request's span ``name`` (nothing outside a timed request)."""
    spans = _spans.get()
    if spans is not None:
        spans[name] = spans.get(name, 0.0) + ms


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Record the block's wall time under ``name``, also when it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        record(name, (time.perf_counter() - start) * 1000)


def header_value(spans: dict[str, float]) -> str:
    """``name;dur=MS;desc="..."`` per span, in the order recorded, ``total`` last."""
    parts = []
    for name, ms in spans.items():
        desc = DESCRIPTIONS.get(name)
        parts.append(f"{name};dur={ms:.1f}" + (f';desc="{desc}"' if desc else ""))
    return ", ".join(parts)


class ServerTiming:
    """Inside the metrics layer: times each API request to the start of its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(TIMED_PREFIXES):
            await self.app(scope, receive, send)
            return
        spans: dict[str, float] = {}
        token = _spans.set(spans)
        start = time.perf_counter()

        async def timing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                totals = {**spans, TOTAL: (time.perf_counter() - start) * 1000}
                MutableHeaders(scope=message).append(HEADER, header_value(totals))
            await send(message)

        try:
            await self.app(scope, receive, timing_send)
        finally:
            _spans.reset(token)
