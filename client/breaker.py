"""A circuit breaker for a server that may be restarting or gone: pure state, a clock injected.

Retries (:mod:`client.retry`) carry a request over a restart; a server gone for good would
hold every request until its deadline. The breaker tells the two apart by time:

- **closed**: requests go through. Failures (the server unreachable, or its model not there
  right now) start the outage clock; any answer stops it. A restart shorter than
  :attr:`BreakerPolicy.grace_s` stays a closed breaker: nothing is refused, nothing lost.
- **open**: the server has failed for longer than the grace. New requests are refused at
  once (:meth:`Breaker.allow` is False), with :meth:`Breaker.retry_after_s` to come back.
- **half-open**: :attr:`BreakerPolicy.probe_interval_s` after the breaker opened, one caller
  is let through as a probe; its answer closes the breaker, its failure opens it again until
  the next probe, an interval after this one started (however long a probe takes, probes
  start once per interval). A probe that never reports is replaced after an interval.

Thread-safe (one lock); ``on_change`` hears every new state.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_GRACE_S = 30.0  # a plain restart (the models reloaded) fits well inside
DEFAULT_PROBE_INTERVAL_S = 2.0


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    grace_s: float = DEFAULT_GRACE_S  # failing for longer than this opens the breaker
    probe_interval_s: float = DEFAULT_PROBE_INTERVAL_S  # open: one probe per interval

    def __post_init__(self) -> None:
        for name in ("grace_s", "probe_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")


class Breaker:
    def __init__(
        self,
        policy: BreakerPolicy = BreakerPolicy(),
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] = lambda state: None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.on_change = on_change
        self.state = State.CLOSED
        self.failing_since: float | None = None  # first failure since the last answer
        self.next_probe_at = 0.0  # open: when a probe may go; half-open: when it is lost
        self._lock = threading.Lock()

    def _become(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.on_change(state)

    def allow(self) -> bool:
        """May a new request go? Closed: yes. Open: no, unless a probe is due (then this
        caller is the probe and the breaker half-opens). Half-open: no (the probe is out)."""
        with self._lock:
            if self.state is State.CLOSED:
                return True
            now = self.clock()
            if now < self.next_probe_at:
                return False
            self.next_probe_at = now + self.policy.probe_interval_s
            self._become(State.HALF_OPEN)
            return True

    def succeeded(self) -> None:
        """The server answered: the outage (if any) is over."""
        with self._lock:
            self.failing_since = None
            self._become(State.CLOSED)

    def failed(self) -> None:
        """The server did not answer (unreachable, or its model not there right now)."""
        with self._lock:
            now = self.clock()
            if self.failing_since is None:
                self.failing_since = now
            if self.state is State.OPEN:
                return  # requests still retrying from before: the probe time stays
            if self.state is State.HALF_OPEN:  # the probe failed: the next one is already
                self._become(State.OPEN)  # set, an interval after this one started
            elif now - self.failing_since > self.policy.grace_s:
                self.next_probe_at = now + self.policy.probe_interval_s
                self._become(State.OPEN)

    def is_open(self) -> bool:
        """Open or half-open: the server has been judged gone and not yet seen back."""
        return self.state is not State.CLOSED

    def outage_s(self) -> float:
        """How long the server has been failing (0 while it answers)."""
        since = self.failing_since
        return 0.0 if since is None else self.clock() - since

    def next_probe_s(self) -> float:
        """Seconds until a probe may go: a closed breaker's watcher probes every interval."""
        if self.state is State.CLOSED:
            return self.policy.probe_interval_s
        return max(0.0, self.next_probe_at - self.clock())

    def retry_after_s(self) -> int:
        """Whole seconds until the next probe may go (at least 1): what callers are told."""
        return max(1, math.ceil(self.next_probe_at - self.clock()))
