"""When to try a request again, and how long to wait: pure rules shared by every client.

A request is retried while its deadline allows (the caller's ``--timeout``, the budget of all
attempts together), with exponential backoff and full jitter (so clients that lost the same
server do not come back in step), when:

- the server is unreachable (gRPC ``UNAVAILABLE``), or
- the model is unknown or not ready *although it was served before*: a server that restarted
  answers so while it loads its models again.

Bad input (``INVALID_ARGUMENT``) is never retried, nor is anything else.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

UNAVAILABLE = "StatusCode.UNAVAILABLE"
DEADLINE_EXCEEDED = "StatusCode.DEADLINE_EXCEEDED"
# how Triton says a model is not (yet) there; after a restart these mean "still loading",
# and while a server stops, a model it still calls answers "Server not ready"
NOT_LOADED = ("unknown model", "not ready", "no available versions", "is not loaded")


def says_not_loaded(message: str) -> bool:
    """Does Triton's message say the model (or its server) is not there right now?"""
    return any(words in message.lower() for words in NOT_LOADED)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``retries=None``: as many as the deadline allows."""

    retries: int | None = None
    first_delay_s: float = 0.2
    max_delay_s: float = 2.0
    jitter: bool = True

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits before each retry: up to first·2ⁿ capped at max, drawn in [0, that]."""
        draw = (rng or random.Random()).uniform
        ceiling, count = self.first_delay_s, 0
        while self.retries is None or count < self.retries:
            yield draw(0.0, ceiling) if self.jitter else ceiling
            ceiling = min(ceiling * 2, self.max_delay_s)
            count += 1


def retryable(status: str, message: str, served_before: bool) -> bool:
    """Is this answer worth another attempt? (see the module's docstring)"""
    if status == UNAVAILABLE:
        return True
    return served_before and says_not_loaded(message)


class Deadline:
    """The time left for a request (all its attempts), on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def allows(self, wait_s: float) -> bool:
        """True if waiting ``wait_s`` still leaves time for another attempt."""
        return self.remaining() > wait_s
