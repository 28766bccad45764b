"""Request bodies with a size limit enforced while they stream in.

:class:`BodyLimit` (ASGI middleware) refuses a declared ``Content-Length`` over the limit
before reading anything, and stops a body (chunked or lying) as soon as the bytes received
pass it, so an oversized upload is never held in memory. The limit leaves room for the
encoding: multipart's framing, base64's 4/3 in JSON and form-urlencoded bodies.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import PayloadTooLarge
from web.metrics import Metrics
from web.responses import error_response

log = logging.getLogger(__name__)

FRAMING_BYTES = 64 * 1024  # multipart boundaries, other fields
BODY_METHODS = {"POST", "PUT", "PATCH"}


def body_limit(max_upload_bytes: int, content_type: str) -> int:
    """The most bytes a body may have to carry a file of ``max_upload_bytes``."""
    if content_type.startswith("multipart/"):
        return max_upload_bytes + FRAMING_BYTES
    return -(-max_upload_bytes * 4 // 3) + FRAMING_BYTES  # base64 inside JSON or a form


def too_large(max_upload_bytes: int, got: str) -> PayloadTooLarge:
    limit_mb = max_upload_bytes / (1024 * 1024)
    return PayloadTooLarge(f"expected an upload of at most {limit_mb:g} MB, got {got}")


def header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_upload_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.metrics = metrics  # a refusal here never reaches the app's error handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.max_upload_bytes, header(scope, b"content-type"))
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            log.info("refused %s: Content-Length %s over %d", scope["path"], declared, limit)
            error = too_large(self.max_upload_bytes, f"a body of {int(declared):,} bytes")
            self.metrics.rejections.labels(error.code).inc()
            await error_response(scope["path"], error)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(self.max_upload_bytes, f"more than {limit:,} bytes of body")
            return message

        await self.app(scope, limited, send)


def check_file_size(data: bytes, max_upload_bytes: int) -> bytes:
    """The file itself (after base64 decoding, say) must also fit."""
    if len(data) > max_upload_bytes:
        raise too_large(max_upload_bytes, f"a file of {len(data):,} bytes")
    return data
