"""web's link to Triton: the client's asyncio ``cutout`` model, opened in the serving loop,
and the one place where the client's errors become web's HTTP errors.

Bad input (``cutout`` says it in one line) -> 400; the server or ``cutout`` not there right
now -> 503; out of time -> 504; any other failure -> 502. Retries and their rules are the
client's (u2net.retry): a Triton never reached fails within seconds, one that answered
before and went away is waited for until the request's deadline.
"""

from __future__ import annotations

from client.errors import BadInput, ModelNotReady, RemoteError, ServerUnavailable, TimedOut
from client.server_side import AsyncCutoutModel, Parameters
from u2net.errors import ServingError
from u2net.job import CutResult
from u2net.retry import RetryPolicy
from web.errors import BadRequest, TritonUnavailable, UpstreamFailed, UpstreamTimeout, WebError


def http_error(e: ServingError, url: str) -> WebError:
    """The client's error as the HTTP error web answers with."""
    reason = e.reason if isinstance(e, RemoteError) else str(e)
    if isinstance(e, BadInput):
        return BadRequest(reason)
    if isinstance(e, ServerUnavailable | ModelNotReady):
        return TritonUnavailable(f"the inference server at {url} is unavailable: {reason}")
    if isinstance(e, TimedOut):
        return UpstreamTimeout(f"the inference server did not answer within {e.timeout_s:g}s")
    return UpstreamFailed(f"processing failed: {reason}")


class TritonLink:
    """``cutout`` on Triton for the app's lifetime (:meth:`open` in its lifespan)."""

    def __init__(self, url: str, timeout_s: float, retry: RetryPolicy = RetryPolicy()) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retry = retry
        self.model: AsyncCutoutModel | None = None

    async def open(self) -> None:
        """grpc.aio's channel belongs to the loop that creates it: the serving loop's."""
        self.model = AsyncCutoutModel(self.url, self.timeout_s, self.retry)

    async def close(self) -> None:
        if self.model is not None:
            await self.model.close()
            self.model = None

    def _model(self) -> AsyncCutoutModel:
        if self.model is None:
            raise RuntimeError("TritonLink used before open()")
        return self.model

    async def cut(
        self, data: bytes, parameters: Parameters, background: bytes | None = None
    ) -> CutResult:
        """One encoded image and ``cutout``'s parameters -> the encoded result."""
        try:
            return await self._model().cut_bytes(data, parameters, background)
        except ServingError as e:  # the client's: Triton's answers and the contract check
            raise http_error(e, self.url) from e

    async def not_ready_reason(self) -> str | None:
        """None when ``cutout`` is ready, else why not (one line); ``cutout`` alone is asked."""
        model = self._model()
        try:
            if await model.is_ready():
                return None
        except ServingError as e:
            return str(http_error(e, self.url))
        return f"model {model.cutout.name} is not ready on {self.url}"
