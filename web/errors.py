"""web's errors. Each carries the HTTP status it answers with and a short machine code; the
app renders them once, at the boundary, in the shape of the API that was called."""

from __future__ import annotations

from u2net.errors import ServingError


class WebError(ServingError):
    """A request that cannot be served; ``str(e)`` is the one line the caller sees."""

    status = 500
    code = "internal_error"
    # counted in web_rejections_total: the gateway said no (input, key, size, capacity)
    refused = False
    retry_after_s: int | None = None


class BadRequest(WebError):
    """The request or the image in it is malformed (400)."""

    status = 400
    code = "invalid_request"
    refused = True


class Forbidden(WebError):
    """A missing or wrong API key (403)."""

    status = 403
    code = "auth_failed"
    refused = True


class PayloadTooLarge(WebError):
    """The upload is larger than ``--max-upload-mb`` (413)."""

    status = 413
    code = "file_too_large"
    refused = True


class OverBudget(WebError):
    """One cut that needs more memory than the gateway's whole budget (413): it could never
    run, so it is refused before it waits."""

    status = 413
    code = "image_too_large"
    refused = True


class Overloaded(WebError):
    """Every slot in flight and in the queue is taken (503 with Retry-After)."""

    status = 503
    code = "over_capacity"
    refused = True

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TritonUnavailable(WebError):
    """Triton or the ``cutout`` model does not answer (503 with Retry-After)."""

    status = 503
    code = "service_unavailable"
    retry_after_s = 5


class TritonDown(TritonUnavailable):
    """Triton has failed for longer than the breaker's grace: refused at once (503 with
    Retry-After: when the next probe goes)."""

    refused = True

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamTimeout(WebError):
    """Triton did not answer within the request timeout (504)."""

    status = 504
    code = "timeout"


class UpstreamFailed(WebError):
    """Triton answered with an error that is not the caller's fault (502)."""

    status = 502
    code = "processing_failed"


class ConfigError(ServingError):
    """``python -m web`` cannot start as configured (one line, exit 1)."""
