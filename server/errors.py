"""server's errors: starting and running the embedded Triton."""

from __future__ import annotations

from u2net.errors import ServingError


class ServerStartError(ServingError):
    """The embedded Triton server could not be started."""
