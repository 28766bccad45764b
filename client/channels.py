"""A link's gRPC channel, renewed now and then so a ``dns:`` target sees new replicas.

gRPC resolves a name when a channel starts and again only when a connection breaks: the C
core (which grpcio wraps) has no client-side re-resolution timer and no client-side maximum
connection age (``grpc.max_connection_age_ms`` is a server's argument, and Triton exposes
none; grpc/grpc#12295, #30015). So every ``renew_s`` the next call gets a new channel, which
resolves the name again and balances over what it finds; the old channel stays open until
its last call returns, then closes. Calls in flight are never cut.

Thread-safe; the caller closes what :meth:`Channels.release` hands back (blocking or awaited).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

C = TypeVar("C")


class Channels(Generic[C]):
    """The current channel (``make()``), renewed every ``renew_s`` (None: never)."""

    def __init__(
        self,
        make: Callable[[], C],
        renew_s: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.make = make
        self.renew_s = renew_s
        self.clock = clock
        self.current = make()
        self.made_at = clock()
        self.calls: dict[int, int] = {}  # id(channel) -> calls in flight on it
        self.retiring: dict[int, C] = {}  # replaced, still finishing calls
        self._lock = threading.Lock()

    def _due(self) -> bool:
        return self.renew_s is not None and self.clock() - self.made_at >= self.renew_s

    def acquire(self) -> C:
        """The channel for the next call (a new one when due), counted until released."""
        with self._lock:
            if self._due():
                old = self.current
                self.retiring[id(old)] = old
                self.current, self.made_at = self.make(), self.clock()
                log.debug("new channel (the target is resolved again)")
            key = id(self.current)
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.current

    def release(self, channel: C) -> C | None:
        """A call on ``channel`` returned; a retired channel with no call left is handed
        back for the caller to close."""
        with self._lock:
            key = id(channel)
            self.calls[key] -= 1
            if self.calls[key]:
                return None
            del self.calls[key]
            return self.retiring.pop(key, None)

    def all(self) -> list[C]:
        """Every open channel (to close them all at the end)."""
        with self._lock:
            channels = [self.current, *self.retiring.values()]
            self.retiring.clear()
            return channels
