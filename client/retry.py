"""When to try a request again, and how long to wait: pure rules shared by every client.

A request is retried while its deadline allows (the caller's ``--timeout``, the budget of all
attempts together), with exponential backoff and full jitter (so clients that lost the same
server do not come back in step), when:

- the server is unreachable (gRPC ``UNAVAILABLE``), or
- the model is unknown or not ready *although it was served before*: a server that restarted
  answers so while it loads its models again; or the server cancelled the call (``CANCELLED``:
  a server that stops cancels what it is running).

Fail fast, retry what can come back: a server this client never reached (no call answered
yet) is tried for :data:`FIRST_CONTACT_S` only, so nothing listening is said within seconds
while a server still starting gets a moment. Once it has answered, a server that goes away
is waited for until the deadline: a restart, which must lose nothing.

Bad input (``INVALID_ARGUMENT``) is never retried, nor is anything else.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from u2net.contract import says_not_loaded

UNAVAILABLE = "StatusCode.UNAVAILABLE"
NOT_FOUND = "StatusCode.NOT_FOUND"
CANCELLED = "StatusCode.CANCELLED"  # a server that stops cancels the calls it is running
INVALID_ARGUMENT = "StatusCode.INVALID_ARGUMENT"
DEADLINE_EXCEEDED = "StatusCode.DEADLINE_EXCEEDED"
FIRST_CONTACT_S = 2.0  # how long a server never reached is tried before saying so
MIN_ATTEMPT_S = 0.05  # an attempt started just before the deadline still gets this long


def model_gone(status: str, message: str) -> bool:
    """The server answered that the model is not there right now (unknown, not loaded)."""
    return status == NOT_FOUND or says_not_loaded(message)


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
    if status == CANCELLED:  # by the server (ours end in the caller), which answered before
        return served_before
    return served_before and model_gone(status, message)


def give_up_after(timeout_s: float, reached: bool) -> float:
    """How long a request's attempts may go on: its whole deadline once the server has
    answered this client (it may be restarting), else :data:`FIRST_CONTACT_S` at most."""
    return timeout_s if reached else min(timeout_s, FIRST_CONTACT_S)


class Attempts:
    """One request's attempts: how long the next may take, and whether (after how long) to
    try again. ``clock``: seconds on a monotonic clock (tests pass their own)."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self.start = clock()
        self.delays = policy.delays(rng)

    def elapsed(self) -> float:
        return self.clock() - self.start

    def timeout(self) -> float:
        """The next attempt's timeout: what is left of the budget (never less than a sliver)."""
        return max(self.timeout_s - self.elapsed(), MIN_ATTEMPT_S)

    def wait(
        self, status: str, message: str, *, served_before: bool, reached: bool
    ) -> float | None:
        """The wait before the next attempt after this answer, or None to give up."""
        if not retryable(status, message, served_before):
            return None
        delay = next(self.delays, None)
        if delay is None:
            return None
        left = give_up_after(self.timeout_s, reached) - self.elapsed()
        return delay if left > delay else None
